"""Storage engines in a lab cluster: a StorageClass per engine of the lab's
config, and the provisioner that binds PVCs to PVs whose data is a directory
on the node.

One reconcile pass does what the engines' provisioners and the kube
persistent-volume controller do together: provision a PV for each pending
PVC of a class an engine serves (`pvc-<pvc uid>`, capacity = the request,
shaped as the engine's `volume` says: CSI with its provisioner as driver,
local or hostPath), bind both ways, bind statically named PVs, and reclaim
PVs whose claim is gone (Delete: remove PV and data; Retain: mark Released).
"""
import shutil

from lab.apiserver.errors import AlreadyExists, ApiError, NotFound
from lab.apiserver.store import format_time
from lab.controllers.util import Dirty, emit_event, claims_in_use

CAS_TYPE = "openebs.io/cas-type"
_WAIT_FOR_CONSUMER = "WaitForFirstConsumer"


def storage_class(engine):
    """The StorageClass an engine installs (lab.config.EngineSpec). Node-local
    volumes (local, hostPath) bind where their first pod runs, as OpenEBS's
    LocalPV classes do; CSI volumes bind at once and may grow."""
    metadata = {"name": engine.storage_class}
    if engine.annotations:
        metadata["annotations"] = dict(engine.annotations)
    manifest = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": metadata,
                "provisioner": engine.provisioner, "reclaimPolicy": "Delete"}
    if engine.parameters:
        manifest["parameters"] = dict(engine.parameters)
    if engine.volume == "csi":
        manifest.update(allowVolumeExpansion=True, volumeBindingMode="Immediate")
    else:
        manifest["volumeBindingMode"] = _WAIT_FOR_CONSUMER
    return manifest


def _external_provisioning(provisioner):
    return (f"Waiting for a volume to be created either by the external provisioner '{provisioner}' or "
            f"manually by the system administrator. If volume creation is delayed, please verify that the "
            f"provisioner is running and correctly registered.")


def volume_dir(cluster, pv_name):
    """The directory on the node that holds a PV's data."""
    return cluster.node_dir / "volumes" / pv_name


def engine_of(storage_class, engines):
    """The engine (of `engines`, name -> EngineSpec) that provisions a class:
    the one whose class it is; else, among the engines of its provisioner,
    the one kind of volume they all make, or the one whose parameters and
    annotations the class carries; else None."""
    name = (storage_class.get("metadata") or {}).get("name")
    candidates = [e for e in engines.values() if e.provisioner == storage_class.get("provisioner")]
    for engine in candidates:
        if engine.storage_class == name:
            return engine
    if len({engine.volume for engine in candidates}) == 1:
        return candidates[0]
    annotations = (storage_class.get("metadata") or {}).get("annotations") or {}
    parameters = storage_class.get("parameters") or {}
    alike = [e for e in candidates if e.parameters.items() <= parameters.items()
             and e.annotations.items() <= annotations.items()]
    return alike[0] if len(alike) == 1 else None


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
        engine = engine_of(storage_class, self.cluster.engines)
        if engine is None:
            provisioner = storage_class.get("provisioner")
            its_classes = sorted(e.storage_class for e in self.cluster.engines.values()
                                 if e.provisioner == provisioner)
            if its_classes:
                return self._pending(
                    pvc, "ProvisioningFailed",
                    f"provisioner '{provisioner}' makes volumes of several kinds: StorageClass {class_name} is "
                    f"none of its classes ({', '.join(its_classes)}) and has no one class's parameters and annotations")
            return self._pending(pvc, "ExternalProvisioning", _external_provisioning(provisioner))
        if (storage_class.get("volumeBindingMode") == _WAIT_FOR_CONSUMER
                and (meta["namespace"], meta["name"]) not in claimed_by_pods):
            return self._pending(pvc, "WaitForFirstConsumer",
                                 "waiting for first consumer to be created before binding")
        return self._provision(pvc, storage_class, engine)

    def _select_node(self, pvc):
        """What kube-scheduler's volume binder writes on a claim that waits for its
        first consumer, before the provisioner makes its volume: the consumer's node."""
        current = self.store.get("", "persistentvolumeclaims", pvc["metadata"]["namespace"], pvc["metadata"]["name"])
        if current is not None:
            current["metadata"]["annotations"] = {**(current["metadata"].get("annotations") or {}),
                                                  "volume.kubernetes.io/selected-node": self.cluster.node_name}
            self.store.update("", "persistentvolumeclaims", current, check_version=False)

    def _provision(self, pvc, storage_class, engine):
        meta = pvc["metadata"]
        if storage_class.get("volumeBindingMode") == _WAIT_FOR_CONSUMER:
            self._select_node(pvc)
        pv_name = f"pvc-{meta['uid']}"
        provisioner = storage_class.get("provisioner")
        # kube-controller-manager's PV controller hands the claim to the
        # external provisioner (every OpenEBS engine's is one) and says so;
        # the provisioner then announces its work, as external-provisioner does
        self._report_once(pvc, "ExternalProvisioning", _external_provisioning(provisioner))
        emit_event(self.cluster, pvc, "Normal", "Provisioning",
                   f'External provisioner is provisioning volume for claim "{meta["namespace"]}/{meta["name"]}"',
                   provisioner)
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
        cas_type = (storage_class.get("parameters") or {}).get("cas-type") or \
            ((storage_class.get("metadata") or {}).get("annotations") or {}).get(CAS_TYPE)
        if engine.volume == "csi":
            attributes = {"storage.kubernetes.io/csiProvisionerIdentity": f"lab-{provisioner}"}
            if cas_type:
                attributes[CAS_TYPE] = cas_type
            pv_spec["csi"] = {"driver": provisioner, "fsType": "ext4", "volumeHandle": pv_name,
                              "volumeAttributes": attributes}
        else:
            if engine.volume == "local":
                pv_spec["local"] = {"path": data_dir, "fsType": "ext4"}
            else:
                pv_spec["hostPath"] = {"path": data_dir, "type": "DirectoryOrCreate"}
            pv_spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": [self.cluster.node_name]}]}]}}
        metadata = {"name": pv_name, "annotations": {"pv.kubernetes.io/provisioned-by": provisioner}}
        if cas_type:
            metadata["labels"] = {CAS_TYPE: cas_type}
        return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": metadata, "spec": pv_spec}

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
            # the PV controller notes each phase change (Kubernetes 1.29 on)
            pv["status"] = {"phase": "Bound", "lastPhaseTransitionTime": format_time(self.cluster.clock.now())}
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
        self._report_once(pvc, reason, message)
        return changed

    def _report_once(self, pvc, reason, message):
        """The PV controller's event about a claim, once per reason (the
        recorder folds repeats into one event's count)."""
        key = (pvc["metadata"]["uid"], reason)
        if key not in self._reported:
            self._reported.add(key)
            kind = "Normal" if reason in ("WaitForFirstConsumer", "ExternalProvisioning") else "Warning"
            emit_event(self.cluster, pvc, kind, reason, message, "persistentvolume-controller")

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
                pv["status"] = {"phase": "Released",
                                "lastPhaseTransitionTime": format_time(self.cluster.clock.now())}
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
