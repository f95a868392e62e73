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

# Velero 1.16.2's own plugins (pkg/cmd/server/plugin/plugin.go), then velero-plugin-for-aws 1.14.2's,
# as the real stack's Velero lists them: (kind, name)
BUILT_IN = (
    ("BackupItemAction", "velero.io/pod"), ("BackupItemAction", "velero.io/pv"),
    ("BackupItemAction", "velero.io/service-account"),
    ("BackupItemActionV2", "velero.io/csi-pvc-backupper"),
    ("BackupItemActionV2", "velero.io/csi-volumesnapshot-backupper"),
    ("BackupItemActionV2", "velero.io/csi-volumesnapshotclass-backupper"),
    ("BackupItemActionV2", "velero.io/csi-volumesnapshotcontent-backupper"),
    ("DeleteItemAction", "velero.io/dataupload-delete"),
    ("ItemBlockAction", "velero.io/pod"), ("ItemBlockAction", "velero.io/pvc"),
    ("ItemBlockAction", "velero.io/service-account"),
    ("RestoreItemAction", "velero.io/add-pv-from-pvc"), ("RestoreItemAction", "velero.io/add-pvc-from-pod"),
    ("RestoreItemAction", "velero.io/admission-webhook-configuration"),
    ("RestoreItemAction", "velero.io/apiservice"), ("RestoreItemAction", "velero.io/change-image-name"),
    ("RestoreItemAction", "velero.io/change-pvc-node-selector"),
    ("RestoreItemAction", "velero.io/change-storage-class"),
    ("RestoreItemAction", "velero.io/cluster-role-bindings"),
    ("RestoreItemAction", "velero.io/crd-preserve-fields"), ("RestoreItemAction", "velero.io/dataupload"),
    ("RestoreItemAction", "velero.io/init-restore-hook"), ("RestoreItemAction", "velero.io/job"),
    ("RestoreItemAction", "velero.io/pod"), ("RestoreItemAction", "velero.io/pod-volume-restore"),
    ("RestoreItemAction", "velero.io/role-bindings"), ("RestoreItemAction", "velero.io/secret"),
    ("RestoreItemAction", "velero.io/service"), ("RestoreItemAction", "velero.io/service-account"),
    ("RestoreItemActionV2", "velero.io/csi-pvc-restorer"),
    ("RestoreItemActionV2", "velero.io/csi-volumesnapshot-restorer"),
    ("RestoreItemActionV2", "velero.io/csi-volumesnapshotclass-restorer"),
    ("RestoreItemActionV2", "velero.io/csi-volumesnapshotcontent-restorer"),
    ("ObjectStore", AWS_PLUGIN), ("VolumeSnapshotter", AWS_PLUGIN),
)


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
