"""Backup sync (Velero's backup_sync_controller.go): every sync period on
the virtual clock, each Available BSL's bucket is the truth: backups found
there without a Backup object get one (from velero-backup.json, labelled
with the location) plus their PodVolumeBackups; Completed backups of that
location that are gone from the bucket are removed from the cluster."""
import datetime
import json

from lab.apiserver.errors import AlreadyExists, ApiError
from lab.velero import kube
from lab.velero.locations import BSL, LocationError, bsl_storage
from lab.velero.logs import gunzip_json
from lab.velero.objectstorage import StorageError

DEFAULT_SYNC_PERIOD = datetime.timedelta(minutes=1)
SERVER_SET_METADATA = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields",
                       "selfLink", "ownerReferences", "deletionTimestamp", "deletionGracePeriodSeconds")


def _period(bsl):
    try:
        return kube.parse_duration((bsl.get("spec") or {}).get("backupSyncPeriod"), DEFAULT_SYNC_PERIOD)
    except ValueError:
        return DEFAULT_SYNC_PERIOD


def _fresh(obj, namespace=kube.NAMESPACE):
    """obj as a new object: without the fields a server sets."""
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in SERVER_SET_METADATA}
    meta["namespace"] = namespace
    return dict(obj, metadata=meta)


class SyncController:
    def __init__(self, cluster):
        self.cluster = cluster
        self.store = cluster.store
        self.last_sync = {}         # BSL uid -> virtual time of its last sync

    def _locations(self):
        return [b for b in kube.list_velero(self.store, BSL)
                if (b.get("status") or {}).get("phase") == "Available"]

    def next_due(self):
        # Like BSL validation: due syncs run in the next pass (see
        # LocationController.next_due), never a clock stop per minute.
        return None

    def reconcile(self):
        now, changed = kube.now(self.cluster), False
        for bsl in self._locations():
            last = self.last_sync.get(bsl["metadata"]["uid"])
            period = _period(bsl)
            if last is not None and (period <= datetime.timedelta(0) or last + period > now):
                continue
            self.last_sync[bsl["metadata"]["uid"]] = now
            try:
                changed |= self._sync(bsl)
            except (StorageError, LocationError):
                continue        # the BSL controller reports the location; try again next period
            kube.set_status(self.store, BSL, bsl, lastSyncedTime=kube.stamp(self.cluster))
        return changed

    def _sync(self, bsl):
        storage, layout = bsl_storage(self.store, bsl)
        location = kube.name_of(bsl)
        in_bucket = {layout.backup_name_from_dir(d) for d in storage.list_dirs(layout.backups_root())}
        in_cluster = {kube.name_of(b): b for b in kube.list_velero(self.store, "backups")}
        changed = False
        for name in sorted(in_bucket - set(in_cluster)):
            key = layout.backup_metadata(name)
            if not storage.exists(key):
                continue        # still being written, or not a backup
            try:
                backup = json.loads(storage.get(key))
            except ValueError:
                continue
            changed |= self._create_backup(backup, name, location, storage, layout)
        for name, backup in in_cluster.items():
            if (name not in in_bucket and (backup.get("spec") or {}).get("storageLocation") == location
                    and (backup.get("status") or {}).get("phase") == "Completed"):
                kube.delete_quietly(self.store, kube.GROUP, "backups", kube.NAMESPACE, name)
                changed = True
        return changed

    def _create_backup(self, backup, name, location, storage, layout):
        backup = _fresh(backup)
        backup["metadata"]["name"] = name
        backup["metadata"].setdefault("labels", {})[kube.LABEL_LOCATION] = location
        backup.setdefault("spec", {})["storageLocation"] = location
        status = backup.pop("status", {}) or {}
        try:
            created = self.store.create(kube.GROUP, "backups", backup)
        except AlreadyExists:
            return False
        created["status"] = status
        created = self.store.update_status(kube.GROUP, "backups", created)
        try:
            pvbs = gunzip_json(storage.get(layout.backup_pod_volume_backups(name))) \
                if storage.exists(layout.backup_pod_volume_backups(name)) else []
        except (StorageError, ValueError, OSError):
            pvbs = []
        for pvb in pvbs or []:
            pvb = _fresh(pvb)
            pvb["metadata"]["ownerReferences"] = [{"apiVersion": kube.API_VERSION, "kind": "Backup", "name": name,
                                                   "uid": created["metadata"]["uid"], "controller": True}]
            labels = pvb["metadata"].setdefault("labels", {})
            labels[kube.LABEL_BACKUP_UID] = created["metadata"]["uid"]
            pvb_status = pvb.pop("status", {}) or {}
            try:
                made = self.store.create(kube.GROUP, "podvolumebackups", pvb)
            except ApiError:
                continue
            made["status"] = pvb_status
            self.store.update_status(kube.GROUP, "podvolumebackups", made)
        return True
