"""Deleting backups: the DeleteBackupRequest controller (Velero's
backup_deletion_controller.go: one request per backup at a time; once a
backup is deleted without errors, its requests go too; a processed request
goes after 24 h) and TTL garbage collection (gc_controller.go, which
expires a backup by creating a DeleteBackupRequest for it)."""
import datetime

from lab.apiserver.errors import ApiError
from lab.velero import kube
from lab.velero.backups import VOLUME_DATA_ERRORS
from lab.velero.chains import SnapshotChains
from lab.velero.layout import parse_snapshot_id
from lab.velero.locations import BSL, VSL, LocationError, bsl_storage, is_read_only, vsl_config, vsl_storage
from lab.velero.logs import gunzip_json
from lab.velero.objectstorage import StorageError
from lab.velero.repositories import open_repository

PLURAL = "deletebackuprequests"
GC_RETRY = datetime.timedelta(hours=1)      # Velero's default garbage-collection-frequency
REQUEST_MAX_AGE = datetime.timedelta(hours=24)   # deleteBackupRequestMaxAge: a done request goes after that


def deletion_request(backup):
    name = kube.name_of(backup)
    return {"apiVersion": kube.API_VERSION, "kind": "DeleteBackupRequest",
            "metadata": {"generateName": f"{name}-", "namespace": kube.NAMESPACE,
                         "labels": {kube.LABEL_BACKUP_NAME: name,
                                    kube.LABEL_BACKUP_UID: backup["metadata"]["uid"]}},
            "spec": {"backupName": name}}


class DeletionController:
    def __init__(self, cluster):
        self.cluster = cluster
        self.store = cluster.store

    def next_due(self):
        return None

    def reconcile(self):
        changed = False
        now = kube.now(self.cluster)
        for request in kube.list_velero(self.store, PLURAL):
            phase = (request.get("status") or {}).get("phase")
            if phase in ("Processed", "InProgress"):
                created = kube.parse_stamp(request["metadata"].get("creationTimestamp"))
                if created and now - created >= REQUEST_MAX_AGE:
                    kube.delete_quietly(self.store, kube.GROUP, PLURAL, kube.NAMESPACE, kube.name_of(request))
                    changed = True
                continue
            if phase in (None, "", "New"):
                try:
                    self._process(request)
                except Exception:
                    kube.record_crash(self.store, PLURAL, request, final_phase="Processed")
                changed = True
        return changed

    def _process(self, request):
        name = (request.get("spec") or {}).get("backupName")
        if not name:
            kube.set_status(self.store, PLURAL, request, phase="Processed", errors=["spec.backupName is required"])
            return
        backup = kube.get_velero(self.store, "backups", name)
        if backup is None:
            kube.set_status(self.store, PLURAL, request, phase="Processed", errors=["backup not found"])
            return
        if (backup.get("status") or {}).get("phase") in ("New", "InProgress"):
            kube.set_status(self.store, PLURAL, request, phase="Processed", errors=["backup is still in progress"])
            return
        location = (backup.get("spec") or {}).get("storageLocation")
        bsl = kube.get_velero(self.store, BSL, location) if location else None
        if bsl is None:
            kube.set_status(self.store, PLURAL, request, phase="Processed",
                            errors=[f"backup storage location {location} not found"])
            return
        if is_read_only(bsl):
            kube.set_status(self.store, PLURAL, request, phase="Processed",
                            errors=[f"cannot delete backup because backup storage location {location} is "
                                    f"currently in read-only mode"])
            return
        # one request at a time per backup: the others go (deleteExistingDeletionRequests)
        for other in self.store.list(kube.GROUP, PLURAL, kube.NAMESPACE, label_selector=f"{kube.LABEL_BACKUP_NAME}={name}"):
            if kube.name_of(other) != kube.name_of(request):
                kube.delete_quietly(self.store, kube.GROUP, PLURAL, kube.NAMESPACE, kube.name_of(other))
        labels = dict(request["metadata"].get("labels") or {})
        labels.setdefault(kube.LABEL_BACKUP_NAME, name[:63])
        labels.setdefault(kube.LABEL_BACKUP_UID, backup["metadata"]["uid"])
        if labels != (request["metadata"].get("labels") or {}):
            request = self.store.update(kube.GROUP, PLURAL, dict(request, metadata=dict(request["metadata"],
                                                                                        labels=labels)))
        request = kube.set_status(self.store, PLURAL, request, phase="InProgress") or request
        errors = delete_backup(self.cluster, backup, bsl)
        kube.set_status(self.store, PLURAL, request, phase="Processed", errors=errors or None)
        if not errors:
            # everything went: so do all the backup's requests (DeleteAllOf by its name and uid labels,
            # which Velero puts on the request it processes)
            for done in self.store.list(kube.GROUP, PLURAL, kube.NAMESPACE,
                                        label_selector=f"{kube.LABEL_BACKUP_NAME}={name}"):
                kube.delete_quietly(self.store, kube.GROUP, PLURAL, kube.NAMESPACE, kube.name_of(done))


def delete_backup(cluster, backup, bsl):
    """Remove a backup everywhere; returns the error messages (the Backup
    object stays when there are any, so the deletion can be retried)."""
    store, name, errors = cluster.store, kube.name_of(backup), []
    try:
        storage, layout = bsl_storage(store, bsl)
    except LocationError as exc:
        return [str(exc)]
    try:
        snapshots = _bucket_list(storage, layout.backup_volume_snapshots(name))
        pvbs = _bucket_list(storage, layout.backup_pod_volume_backups(name))
    except StorageError as exc:
        return [f"error reading backup {name} from its location: {exc}"]
    for snap in snapshots:
        snap_id = (snap.get("status") or {}).get("providerSnapshotID")
        if not snap_id:
            continue
        try:
            vsl = kube.get_velero(store, VSL, snap["spec"]["location"])
            if vsl is None:
                raise LocationError(f"volume snapshot location {snap['spec']['location']} not found")
            vsl_store, vsl_layout = vsl_storage(store, vsl)
            SnapshotChains.from_config(vsl_store, vsl_layout, vsl_config(vsl)).delete(snap_id)
        except VOLUME_DATA_ERRORS as exc:
            errors.append(f"error deleting snapshot {snap_id} of volume {parse_snapshot_id(snap_id)[0]}: {exc}")
    in_cluster = store.list(kube.GROUP, "podvolumebackups", kube.NAMESPACE,
                            label_selector=f"{kube.LABEL_BACKUP_NAME}={name}")
    forgotten = set()
    for pvb in pvbs + in_cluster:
        snap, ns = (pvb.get("status") or {}).get("snapshotID"), pvb["spec"]["pod"]["namespace"]
        if not snap or (ns, snap) in forgotten:
            continue
        forgotten.add((ns, snap))
        try:
            uploader = pvb["spec"].get("uploaderType") or "restic"
            repo = open_repository(cluster, bsl, ns, storage, layout, uploader, create=False)
            repo.forget(snap)
        except VOLUME_DATA_ERRORS as exc:
            errors.append(f"error forgetting {uploader} snapshot {snap}: {exc}")
    try:
        storage.delete_prefix(layout.backup_dir(name))
    except StorageError as exc:
        errors.append(f"error deleting backup {name} from its location: {exc}")
    for restore in kube.list_velero(store, "restores"):
        if (restore.get("spec") or {}).get("backupName") != name:
            continue
        try:
            storage.delete_prefix(layout.restore_dir(kube.name_of(restore)))
        except StorageError as exc:
            errors.append(f"error deleting restore {kube.name_of(restore)} from its location: {exc}")
        kube.delete_quietly(store, kube.GROUP, "restores", kube.NAMESPACE, kube.name_of(restore))
    if errors:
        return errors
    for pvb in in_cluster:
        kube.delete_quietly(store, kube.GROUP, "podvolumebackups", kube.NAMESPACE, kube.name_of(pvb))
    kube.delete_quietly(store, kube.GROUP, "backups", kube.NAMESPACE, name)
    return []


def _bucket_list(storage, key):
    return (gunzip_json(storage.get(key)) or []) if storage.exists(key) else []


class GarbageCollector:
    """Expires backups whose status.expiration has passed on the virtual clock."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.store = cluster.store

    def _expired(self, backup, now):
        status = backup.get("status") or {}
        expiration = kube.parse_stamp(status.get("expiration"))
        return (expiration is not None and expiration <= now
                and status.get("phase") not in (None, "", "New", "InProgress"))

    def reconcile(self):
        now, changed = kube.now(self.cluster), False
        requests = kube.list_velero(self.store, PLURAL)
        for backup in kube.list_velero(self.store, "backups"):
            if not self._expired(backup, now):
                continue
            bsl = kube.get_velero(self.store, BSL, (backup.get("spec") or {}).get("storageLocation") or "")
            if bsl is not None and is_read_only(bsl):
                continue
            mine = [r for r in requests
                    if (r["metadata"].get("labels") or {}).get(kube.LABEL_BACKUP_UID) == backup["metadata"]["uid"]]
            busy = any((r.get("status") or {}).get("phase") != "Processed" for r in mine)
            recent = any(kube.parse_stamp(r["metadata"].get("creationTimestamp")) + GC_RETRY > now for r in mine)
            if busy or recent:
                continue
            try:
                self.store.create(kube.GROUP, PLURAL, deletion_request(backup))
            except ApiError:
                continue
            changed = True
        return changed

    def next_due(self):
        now = kube.now(self.cluster)
        times = [kube.parse_stamp((b.get("status") or {}).get("expiration"))
                 for b in kube.list_velero(self.store, "backups")]
        return min((t for t in times if t is not None and t > now), default=None)
