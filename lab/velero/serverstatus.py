"""ServerStatusRequest: what `velero version` and `velero plugin get` ask
the server (Velero's server_status_request_controller.go): a new request
gets phase Processed, processedTimestamp, the server's version and the
plugins it registered; a processed one is deleted a minute after it was
processed (its ttl)."""
import datetime

from lab.velero import kube

PLURAL = "serverstatusrequests"
TTL = datetime.timedelta(minutes=1)
AWS_PLUGIN = "velero.io/aws"
CSTOR_PLUGIN = "openebs.io/cstor-blockstore"     # the lab's stand-in for the OpenEBS plugin (chains.py)

# What Velero 1.16.2 with velero-plugin-for-aws 1.14.2 lists, in its order, as the
# real stack's server answers (its registry names each v1 item action of its own twice)
_BACKUP_ACTIONS = ("crd-remap-version", "pod", "pv", "service-account")
_RESTORE_ACTIONS = ("add-pvc-from-pod", "admission-webhook-configuration", "apiservice", "change-image-name",
                    "change-storage-class", "cluster-role-bindings", "crd-preserve-fields", "dataupload",
                    "init-restore-hook", "job", "pod", "pod-volume-restore", "pvc", "role-bindings", "secret",
                    "service", "service-account")
_CSI = ("csi-pvc", "csi-volumesnapshot", "csi-volumesnapshotclass", "csi-volumesnapshotcontent")
BUILT_IN = tuple(
    [("BackupItemAction", f"velero.io/{n}") for n in _BACKUP_ACTIONS * 2]
    + [("BackupItemActionV2", f"velero.io/{n}-backupper") for n in _CSI]
    + [("RestoreItemAction", f"velero.io/{n}") for n in _RESTORE_ACTIONS * 2]
    + [("RestoreItemActionV2", f"velero.io/{n}-restorer") for n in _CSI]
    + [("DeleteItemAction", "velero.io/csi-volumesnapshotcontent-delete"),
       ("DeleteItemAction", "velero.io/dataupload-delete")]
    + [("ItemBlockAction", f"velero.io/{n}") for n in ("pod", "pvc", "service-account")]
    + [("ObjectStore", AWS_PLUGIN), ("VolumeSnapshotter", AWS_PLUGIN)])


def plugins():
    """What a lab cluster's Velero reports: its own and the AWS plugin's, and
    the lab's cStor snapshotter (the OpenEBS plugin, as a cluster with it lists it)."""
    return [{"name": name, "kind": kind} for kind, name in BUILT_IN + (("VolumeSnapshotter", CSTOR_PLUGIN),)]


class ServerStatusController:
    def __init__(self, cluster):
        self.cluster = cluster

    def reconcile(self):
        changed = False
        now = kube.now(self.cluster)
        for request in kube.list_velero(self.cluster.store, PLURAL):
            status = request.get("status") or {}
            if status.get("phase") in (None, "", "New"):
                kube.set_status(self.cluster.store, PLURAL, request, phase="Processed",
                                processedTimestamp=kube.stamp(self.cluster),
                                serverVersion=f"v{self.cluster.velero_version}", plugins=plugins())
                changed = True
            elif (kube.parse_stamp(status.get("processedTimestamp")) or now) + TTL <= now:
                kube.delete_quietly(self.cluster.store, kube.GROUP, PLURAL, kube.NAMESPACE, kube.name_of(request))
                changed = True
        return changed

    def next_due(self):
        processed = [kube.parse_stamp((r.get("status") or {}).get("processedTimestamp"))
                     for r in kube.list_velero(self.cluster.store, PLURAL)]
        return min((t + TTL for t in processed if t), default=None)
