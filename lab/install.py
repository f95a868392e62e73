"""What a fresh lab cluster holds: the default namespaces, a StorageClass
per storage engine of the lab's config, and Velero as `velero install
--use-node-agent` leaves it (namespace, velero.io CRDs, service account,
Deployment and node-agent DaemonSet), minus a backup location."""
from lab.apiserver.errors import AlreadyExists
from lab.controllers.namespaces import DEFAULT_NAMESPACES
from lab.controllers.storage import storage_class

VELERO_NAMESPACE = "velero"
CRD_KEY = ("apiextensions.k8s.io", "customresourcedefinitions")

# kind -> (plural, short names, scope). velero.io/v1 as shipped by Velero
# 1.16.2 (config/crd/v1/bases): none of them has a status subresource (a
# client writes status with the object; for Backups and Restores, whose CRDs
# have no `subresources` at all, and the rest, whose CRDs have an empty one).
VELERO_KINDS = {
    "Backup": ("backups", (), "Namespaced"),
    "BackupStorageLocation": ("backupstoragelocations", ("bsl",), "Namespaced"),
    "VolumeSnapshotLocation": ("volumesnapshotlocations", ("vsl",), "Namespaced"),
    "Schedule": ("schedules", (), "Namespaced"),
    "Restore": ("restores", (), "Namespaced"),
    "DeleteBackupRequest": ("deletebackuprequests", (), "Namespaced"),
    "PodVolumeBackup": ("podvolumebackups", (), "Namespaced"),
    "PodVolumeRestore": ("podvolumerestores", (), "Namespaced"),
    "BackupRepository": ("backuprepositories", (), "Namespaced"),
    "DownloadRequest": ("downloadrequests", (), "Namespaced"),
    "ServerStatusRequest": ("serverstatusrequests", ("ssr",), "Namespaced"),
    # the data mover's, velero.io/v2alpha1 (the lab moves no data; they are served, as Velero installs them)
    "DataUpload": ("datauploads", (), "Namespaced"),
    "DataDownload": ("datadownloads", (), "Namespaced"),
}
V2ALPHA1 = {"datauploads", "datadownloads"}


NO_SUBRESOURCES = {"backups", "restores", "volumesnapshotlocations", "downloadrequests", "serverstatusrequests"}


def velero_crd(kind, plural, short_names, scope):
    """A velero.io/v1 CRD; spec and status keep unknown fields (the lab does
    not validate Velero's schemas field by field)."""
    schema = {"type": "object", "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"},
        "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}
    names = {"kind": kind, "listKind": f"{kind}List", "plural": plural, "singular": kind.lower()}
    if short_names:
        names["shortNames"] = list(short_names)
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.velero.io", "labels": {"component": "velero"},
                         "annotations": {"controller-gen.kubebuilder.io/version": "v0.16.5"}},
            "spec": {"group": "velero.io", "scope": scope, "names": names, "versions": [{
                "name": "v2alpha1" if plural in V2ALPHA1 else "v1", "served": True, "storage": True,
                **({} if plural in NO_SUBRESOURCES else {"subresources": {}}),
                "schema": {"openAPIV3Schema": schema}}]}}


def _velero_objects(velero_version):
    labels = {"component": "velero"}
    image = f"velero/velero:v{velero_version}"
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "velero", "namespace": VELERO_NAMESPACE, "labels": labels},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"deploy": "velero"}},
                 "template": {"metadata": {"labels": {**labels, "deploy": "velero"}},
                              "spec": {"serviceAccountName": "velero", "restartPolicy": "Always",
                                       "containers": [{"name": "velero", "image": image,
                                                       "command": ["/velero"],
                                                       "args": ["server", "--uploader-type=restic"]}]}}}}
    node_agent = {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "node-agent", "namespace": VELERO_NAMESPACE, "labels": labels},
        "spec": {"selector": {"matchLabels": {"name": "node-agent"}},
                 "template": {"metadata": {"labels": {**labels, "name": "node-agent"}},
                              "spec": {"serviceAccountName": "velero",
                                       "containers": [{"name": "node-agent", "image": image,
                                                       "command": ["/velero"], "args": ["node-agent", "server"]}]}}}}
    return [
        (("", "serviceaccounts"), {"apiVersion": "v1", "kind": "ServiceAccount",
                                   "metadata": {"name": "velero", "namespace": VELERO_NAMESPACE, "labels": labels}}),
        (("rbac.authorization.k8s.io", "clusterrolebindings"), {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "velero", "labels": labels},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"kind": "ServiceAccount", "name": "velero", "namespace": VELERO_NAMESPACE}]}),
        (("apps", "deployments"), deployment),
        (("apps", "daemonsets"), node_agent),
    ]


def install(cluster):
    """Create everything a new cluster starts with (idempotent)."""
    store = cluster.store
    for name in DEFAULT_NAMESPACES + (VELERO_NAMESPACE,):
        _create(store, ("", "namespaces"), {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    for engine in cluster.engines.values():
        _create(store, ("storage.k8s.io", "storageclasses"), storage_class(engine))
    for kind, (plural, short_names, scope) in VELERO_KINDS.items():
        _create(store, CRD_KEY, velero_crd(kind, plural, short_names, scope))
    for key, obj in _velero_objects(cluster.velero_version):
        created = _create(store, key, obj)
        if created is not None and key == ("apps", "daemonsets"):
            # The lab has one node and no DaemonSet controller: the agent runs there.
            created["status"] = {"currentNumberScheduled": 1, "desiredNumberScheduled": 1,
                                 "numberAvailable": 1, "numberReady": 1, "updatedNumberScheduled": 1,
                                 "numberMisscheduled": 0, "observedGeneration": 1}
            store.update_status(*key, created)


def _create(store, key, obj):
    try:
        return store.create(*key, obj)
    except AlreadyExists:
        return None
