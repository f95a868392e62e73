"""OpenEBS engines in a lab cluster: default StorageClasses and the
provisioner that binds PVCs to PVs whose data is a directory on the node.

One reconcile pass does what the external provisioners and the kube
persistent-volume controller do together: provision a PV for each pending
PVC of a known engine (`pvc-<pvc uid>`, capacity = the request), bind both
ways, bind statically named PVs, and reclaim PVs whose claim is gone
(Delete: remove PV and data; Retain: mark Released).
"""
import shutil

import yaml

from lab.apiserver.errors import AlreadyExists, ApiError, NotFound
from lab.controllers.util import Dirty, emit_event, claims_in_use

CSTOR = "cstor.csi.openebs.io"
JIVA = "jiva.csi.openebs.io"
LOCAL = "openebs.io/local"
CONFIG_ANNOTATION = "cas.openebs.io/config"

_WAIT_FOR_CONSUMER = "WaitForFirstConsumer"


def default_storage_classes():
    """The classes OpenEBS installs (openebs-operator, cstor/jiva operators)."""
    def local(name, storage_type, extra=""):
        return {
            "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": name, "annotations": {
                "openebs.io/cas-type": "local",
                CONFIG_ANNOTATION: f'- name: StorageType\n  value: "{storage_type}"\n{extra}'}},
            "provisioner": LOCAL, "reclaimPolicy": "Delete",
            "volumeBindingMode": _WAIT_FOR_CONSUMER}

    def csi(name, provisioner, parameters):
        return {
            "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": name}, "provisioner": provisioner,
            "parameters": parameters, "reclaimPolicy": "Delete",
            "allowVolumeExpansion": True, "volumeBindingMode": "Immediate"}

    return [
        csi("openebs-cstor-csi", CSTOR, {"cas-type": "cstor", "cstorPoolCluster": "cstor-disk-pool",
                                         "replicaCount": "1"}),
        csi("openebs-jiva-csi", JIVA, {"cas-type": "jiva", "policy": "openebs-jiva-default-policy"}),
        local("openebs-device", "device"),
        local("openebs-hostpath", "hostpath",
              '- name: BasePath\n  value: "/var/openebs/local"\n'),
    ]


def volume_dir(cluster, pv_name):
    """The directory on the node that holds a PV's data."""
    return cluster.node_dir / "volumes" / pv_name


def engine_of(storage_class):
    """'cstor' | 'jiva' | 'device' | 'hostpath' for a class this lab provisions, else None."""
    provisioner = storage_class.get("provisioner")
    if provisioner == CSTOR:
        return "cstor"
    if provisioner == JIVA:
        return "jiva"
    if provisioner == LOCAL:
        storage_type = _local_storage_type(storage_class)
        return storage_type if storage_type in ("device", "hostpath") else None
    return None


def _local_storage_type(storage_class):
    """StorageType from the class's cas.openebs.io/config (a YAML list of
    name/value pairs), as the LocalPV provisioner reads it; hostpath if unset."""
    annotations = (storage_class.get("metadata") or {}).get("annotations") or {}
    try:
        items = yaml.safe_load(annotations.get(CONFIG_ANNOTATION) or "[]")
    except yaml.YAMLError:
        items = None
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and item.get("name") == "StorageType":
            return str(item.get("value", "")).strip()
    return "hostpath"


class StorageController:
    WATCHES = {("", "persistentvolumeclaims"), ("", "persistentvolumes"), ("", "pods"),
               ("storage.k8s.io", "storageclasses")}

    def __init__(self, cluster):
        self.cluster = cluster
        self.store = cluster.store
        self.dirty = Dirty(self.store, self.WATCHES)
        self._reported = set()       # (pvc uid, reason) already given an event

    def next_due(self):
        return None

    def reconcile(self):
        if not self.dirty.take():
            return False
        changed = False
        classes = {sc["metadata"]["name"]: sc for sc in self.store.list("storage.k8s.io", "storageclasses")}
        claimed_by_pods = claims_in_use(self.store)
        for pvc in self.store.list("", "persistentvolumeclaims"):
            if pvc["metadata"].get("deletionTimestamp") or (pvc.get("status") or {}).get("phase") == "Bound":
                continue
            changed |= self._bind(pvc, classes, claimed_by_pods)
        changed |= self._reclaim()
        return changed

    # binding ---------------------------------------------------------------
    def _bind(self, pvc, classes, claimed_by_pods):
        meta, spec = pvc["metadata"], pvc.get("spec") or {}
        if spec.get("volumeName"):
            return self._bind_static(pvc)
        class_name = spec.get("storageClassName")
        if class_name is None:
            class_name = _default_class(classes)
        storage_class = classes.get(class_name) if class_name else None
        if storage_class is None:
            message = (f'storageclass.storage.k8s.io "{class_name}" not found' if class_name
                       else "no persistent volumes available for this claim and no storage class is set")
            return self._pending(pvc, "ProvisioningFailed", message)
        engine = engine_of(storage_class)
        if engine is None:
            return self._pending(
                pvc, "ExternalProvisioning",
                f"Waiting for a volume to be created either by the external provisioner "
                f"'{storage_class.get('provisioner')}' or manually by the system administrator. If volume "
                f"creation is delayed, please verify that the provisioner is running and correctly registered.")
        if (storage_class.get("volumeBindingMode") == _WAIT_FOR_CONSUMER
                and (meta["namespace"], meta["name"]) not in claimed_by_pods):
            return self._pending(pvc, "WaitForFirstConsumer",
                                 "waiting for first consumer to be created before binding")
        return self._provision(pvc, storage_class, engine)

    def _provision(self, pvc, storage_class, engine):
        meta = pvc["metadata"]
        pv_name = f"pvc-{meta['uid']}"
        capacity = (((pvc.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
        volume_dir(self.cluster, pv_name).mkdir(parents=True, exist_ok=True)
        pv = self._pv(pvc, pv_name, capacity, storage_class, engine)
        try:
            self.store.create("", "persistentvolumes", pv)
        except AlreadyExists:
            pass
        self._mark_pv_bound(pv_name)
        self._mark_pvc_bound(pvc, pv_name, capacity, storage_class.get("provisioner"))
        emit_event(self.cluster, pvc, "Normal", "ProvisioningSucceeded",
                   f"Successfully provisioned volume {pv_name}", storage_class.get("provisioner"))
        return True

    def _pv(self, pvc, pv_name, capacity, storage_class, engine):
        meta, spec = pvc["metadata"], pvc.get("spec") or {}
        data_dir = str(volume_dir(self.cluster, pv_name))
        provisioner = storage_class["provisioner"]
        pv_spec = {
            "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
            "capacity": {"storage": capacity},
            "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "name": meta["name"],
                         "namespace": meta["namespace"], "uid": meta["uid"],
                         "resourceVersion": meta.get("resourceVersion")},
            "persistentVolumeReclaimPolicy": storage_class.get("reclaimPolicy") or "Delete",
            "storageClassName": storage_class["metadata"]["name"],
            "volumeMode": spec.get("volumeMode") or "Filesystem",
        }
        if engine in ("cstor", "jiva"):
            pv_spec["csi"] = {"driver": provisioner, "fsType": "ext4", "volumeHandle": pv_name,
                              "volumeAttributes": {"openebs.io/cas-type": engine,
                                                   "storage.kubernetes.io/csiProvisionerIdentity":
                                                       f"lab-{provisioner}"}}
        else:
            if engine == "device":
                pv_spec["local"] = {"path": data_dir, "fsType": "ext4"}
            else:
                pv_spec["hostPath"] = {"path": data_dir, "type": "DirectoryOrCreate"}
            pv_spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": [self.cluster.node_name]}]}]}}
        return {"apiVersion": "v1", "kind": "PersistentVolume",
                "metadata": {"name": pv_name,
                             "annotations": {"pv.kubernetes.io/provisioned-by": provisioner},
                             "labels": {"openebs.io/cas-type": "local" if engine in ("device", "hostpath")
                                        else engine}},
                "spec": pv_spec}

    def _bind_static(self, pvc):
        """A claim naming its volume (e.g. restored with a PV) binds to it if free."""
        meta = pvc["metadata"]
        pv = self.store.get("", "persistentvolumes", None, pvc["spec"]["volumeName"])
        if pv is None:
            return self._pending(pvc, "VolumeMismatch",
                                 f'volume "{pvc["spec"]["volumeName"]}" not found')
        claim = (pv.get("spec") or {}).get("claimRef")
        if claim and claim.get("uid") not in (None, meta["uid"]):
            return self._pending(pvc, "VolumeMismatch",
                                 f'volume "{pv["metadata"]["name"]}" already bound to a different claim')
        if not claim or claim.get("uid") is None:
            pv["spec"]["claimRef"] = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                      "name": meta["name"], "namespace": meta["namespace"],
                                      "uid": meta["uid"], "resourceVersion": meta.get("resourceVersion")}
            self.store.update("", "persistentvolumes", pv, check_version=False)
        self._mark_pv_bound(pv["metadata"]["name"])
        capacity = ((pv.get("spec") or {}).get("capacity") or {}).get("storage", "1Gi")
        provisioner = (pv["metadata"].get("annotations") or {}).get("pv.kubernetes.io/provisioned-by")
        self._mark_pvc_bound(pvc, pv["metadata"]["name"], capacity, provisioner)
        return True

    def _mark_pv_bound(self, pv_name):
        pv = self.store.get("", "persistentvolumes", None, pv_name)
        if pv is not None and (pv.get("status") or {}).get("phase") != "Bound":
            pv["status"] = {"phase": "Bound"}
            self.store.update_status("", "persistentvolumes", pv)

    def _mark_pvc_bound(self, pvc, pv_name, capacity, provisioner):
        current = self.store.get("", "persistentvolumeclaims", pvc["metadata"]["namespace"],
                                 pvc["metadata"]["name"])
        if current is None:
            return
        annotations = current["metadata"].setdefault("annotations", {}) or {}
        current["metadata"]["annotations"] = annotations
        annotations["pv.kubernetes.io/bind-completed"] = "yes"
        annotations["pv.kubernetes.io/bound-by-controller"] = "yes"
        if provisioner:
            annotations["volume.kubernetes.io/storage-provisioner"] = provisioner
            annotations["volume.beta.kubernetes.io/storage-provisioner"] = provisioner
        current["spec"]["volumeName"] = pv_name
        current = self.store.update("", "persistentvolumeclaims", current, check_version=False)
        current["status"] = {"phase": "Bound",
                             "accessModes": current["spec"].get("accessModes") or ["ReadWriteOnce"],
                             "capacity": {"storage": capacity}}
        self.store.update_status("", "persistentvolumeclaims", current)

    def _pending(self, pvc, reason, message):
        """Leave the claim Pending and say why once (as an event)."""
        changed = False
        if (pvc.get("status") or {}).get("phase") != "Pending":
            pvc["status"] = {"phase": "Pending"}
            self.store.update_status("", "persistentvolumeclaims", pvc)
            changed = True
        key = (pvc["metadata"]["uid"], reason)
        if key not in self._reported:
            self._reported.add(key)
            kind = "Normal" if reason in ("WaitForFirstConsumer", "ExternalProvisioning") else "Warning"
            emit_event(self.cluster, pvc, kind, reason, message, "persistentvolume-controller")
        return changed

    # reclaiming ------------------------------------------------------------
    def _reclaim(self):
        changed = False
        claims = {(c["metadata"]["namespace"], c["metadata"]["name"]): c["metadata"]["uid"]
                  for c in self.store.list("", "persistentvolumeclaims")}
        for pv in self.store.list("", "persistentvolumes"):
            claim = (pv.get("spec") or {}).get("claimRef")
            if not claim or claim.get("uid") is None:
                continue
            if claims.get((claim.get("namespace"), claim.get("name"))) == claim["uid"]:
                continue
            name = pv["metadata"]["name"]
            if pv["spec"].get("persistentVolumeReclaimPolicy", "Delete") == "Delete":
                try:
                    self.store.delete("", "persistentvolumes", None, name)
                except NotFound:
                    continue
                shutil.rmtree(volume_dir(self.cluster, name), ignore_errors=True)
                changed = True
            elif (pv.get("status") or {}).get("phase") != "Released":
                pv["status"] = {"phase": "Released"}
                try:
                    self.store.update_status("", "persistentvolumes", pv)
                except ApiError:
                    continue
                changed = True
        return changed


def _default_class(classes):
    for name, sc in classes.items():
        annotations = (sc.get("metadata") or {}).get("annotations") or {}
        if annotations.get("storageclass.kubernetes.io/is-default-class") == "true":
            return name
    return None
