"""Velero's objects (velero.io/v1) on one cluster, as `velero` the CLI makes them.

    VeleroClient(cluster: ClusterClient, namespace="velero", tracker=None)   # cluster.velero
    .create(kind, name, spec, labels=None, annotations=None) -> dict   # with the scenario's labels (a
                                                       # Schedule's backups too); tracked for cleanup; Clash
                                                       # when the name is taken
    .get(kind, name) -> dict | None
    .list(kind, label_selector=None) -> [dict]
    .delete(kind, name) -> bool
    .patch(kind, name, patch: dict) -> dict            # JSON merge patch
    .wait_phase(kind, name, phases, timeout="velero_phase") -> dict
    .wait_backup(name, timeout="backup") -> dict           # a terminal phase
    .wait_restore(name, timeout="restore") -> dict
    .backups(label_selector=None) -> [dict]; .restores(...); .schedules(...)
    .available_locations() -> [BSL names whose status.phase is Available]
    .server_status(name) -> {"serverVersion": "v1.16.2", "plugins": [{"name", "kind"}]}
                                                       # from Velero itself: a ServerStatusRequest

`kind` is one of KINDS (BackupStorageLocation, VolumeSnapshotLocation,
Schedule, Backup, Restore, DeleteBackupRequest, PodVolumeBackup,
PodVolumeRestore, BackupRepository, ServerStatusRequest).
"""
from kubernetes.client.exceptions import ApiException

from runner.driver.isolation import Clash
from runner.driver.waits import wait_until

GROUP, VERSION = "velero.io", "v1"
API_VERSION = f"{GROUP}/{VERSION}"
KINDS = {
    "BackupStorageLocation": "backupstoragelocations",
    "VolumeSnapshotLocation": "volumesnapshotlocations",
    "Schedule": "schedules",
    "Backup": "backups",
    "Restore": "restores",
    "DeleteBackupRequest": "deletebackuprequests",
    "PodVolumeBackup": "podvolumebackups",
    "PodVolumeRestore": "podvolumerestores",
    "BackupRepository": "backuprepositories",
    "ServerStatusRequest": "serverstatusrequests",
}
BACKUP_TERMINAL = ("Completed", "PartiallyFailed", "Failed", "FailedValidation")
RESTORE_TERMINAL = ("Completed", "PartiallyFailed", "Failed", "FailedValidation")
# Kinds a scenario creates, in the order cleanup deletes them: stop schedules
# first so no new backup starts, locations before backups so no sync brings
# deleted backups back.
CLEANUP_ORDER = ("Schedule", "BackupStorageLocation", "VolumeSnapshotLocation", "Restore",
                 "DeleteBackupRequest", "Backup", "PodVolumeBackup", "PodVolumeRestore",
                 "BackupRepository", "ServerStatusRequest")


class VeleroClient:
    def __init__(self, cluster, namespace="velero", tracker=None):
        self.cluster = cluster
        self.namespace = namespace
        self._tracker = tracker or (lambda *args: None)

    def _plural(self, kind):
        if kind not in KINDS:
            raise ValueError(f"not a Velero kind: {kind} (known: {', '.join(KINDS)})")
        return KINDS[kind]

    def create(self, kind, name, spec, labels=None, annotations=None):
        isolation = self.cluster.isolation
        metadata = isolation.stamp({"name": name, "namespace": self.namespace, "labels": dict(labels or {})})
        if annotations:
            metadata["annotations"] = dict(annotations)
        if kind == "Schedule":      # the backups it makes are the scenario's too
            template = dict(spec.get("template") or {})
            template["metadata"] = isolation.stamp(template.get("metadata"))
            spec = dict(spec, template=template)
        body = {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": spec}
        try:
            created = self.cluster.custom.create_namespaced_custom_object(
                GROUP, VERSION, self.namespace, self._plural(kind), body)
        except ApiException as error:
            if error.status != 409:
                raise
            raise Clash(f"cluster {self.cluster.name}: {kind} {self.namespace}/{name} exists already; DMaaS never "
                        f"modifies, adopts or deletes what it did not create") from None
        self._tracker(API_VERSION, kind, self.cluster.name, self.namespace, name)
        return created

    def get(self, kind, name):
        try:
            return self.cluster.custom.get_namespaced_custom_object(
                GROUP, VERSION, self.namespace, self._plural(kind), name)
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def list(self, kind, label_selector=None):
        kwargs = {"label_selector": label_selector} if label_selector else {}
        result = self.cluster.custom.list_namespaced_custom_object(
            GROUP, VERSION, self.namespace, self._plural(kind), **kwargs)
        return result.get("items") or []

    def delete(self, kind, name):
        try:
            self.cluster.custom.delete_namespaced_custom_object(
                GROUP, VERSION, self.namespace, self._plural(kind), name)
            return True
        except ApiException as error:
            if error.status == 404:
                return False
            raise

    def patch(self, kind, name, patch):
        return self.cluster.custom.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, self._plural(kind), name, patch)

    def wait_phase(self, kind, name, phases, timeout="velero_phase"):
        def reached():
            obj = self.get(kind, name)
            phase = ((obj or {}).get("status") or {}).get("phase")
            return obj if phase in phases else None
        return wait_until(f"{kind} {name} on cluster {self.cluster.name} to reach "
                          f"{' or '.join(phases)}", reached, timeout)

    def wait_backup(self, name, timeout="backup"):
        return self.wait_phase("Backup", name, BACKUP_TERMINAL, timeout)

    def wait_restore(self, name, timeout="restore"):
        return self.wait_phase("Restore", name, RESTORE_TERMINAL, timeout)

    def backups(self, label_selector=None):
        return self.list("Backup", label_selector)

    def restores(self, label_selector=None):
        return self.list("Restore", label_selector)

    def schedules(self, label_selector=None):
        return self.list("Schedule", label_selector)

    def available_locations(self):
        return [bsl["metadata"]["name"] for bsl in self.list("BackupStorageLocation")
                if (bsl.get("status") or {}).get("phase") == "Available"]

    def server_status(self, name, timeout="velero_phase"):
        """What the Velero server says of itself (its version, the plugins it
        registered), as `velero version` and `velero plugin get` ask it: a
        ServerStatusRequest, read once processed and deleted then."""
        self.create("ServerStatusRequest", name, {})
        try:
            found = self.wait_phase("ServerStatusRequest", name, ["Processed"], timeout)
        finally:
            self.delete("ServerStatusRequest", name)
        status = found.get("status") or {}
        return {"serverVersion": status.get("serverVersion"), "plugins": list(status.get("plugins") or [])}
