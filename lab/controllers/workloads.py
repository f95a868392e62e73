"""Workloads: Deployments (through ReplicaSets), StatefulSets and the pod
lifecycle (what the scheduler and the kubelet report).

Pods never run their images: a pod is scheduled to the cluster's one node as
soon as the claims it mounts exist, and reported Running and Ready once they
are all Bound (commands run in it through `pods/exec`, see lab/runtime.py).
"""
import copy
import hashlib
import json
import math

from lab.apiserver.errors import AlreadyExists, ApiError, NotFound
from lab.clock import format_time
from lab.controllers.util import (NAME_ALPHABET, Dirty, claim, controller_ref, emit_event, owned_by, pod_claims,
                                 random_suffix)

POD_TEMPLATE_HASH = "pod-template-hash"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"


def template_hash(template, length=10):
    """A stable, name-safe hash of a pod template (the pod-template-hash label)."""
    digest = int(hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest(), 16)
    chars = []
    for _ in range(length):
        digest, index = divmod(digest, len(NAME_ALPHABET))
        chars.append(NAME_ALPHABET[index])
    return "".join(chars)


def is_ready(pod):
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def _max_surge(deploy, replicas):
    """A rolling update's maxSurge in pods (default 25%, rounded up; a Recreate strategy has none)."""
    strategy = (deploy.get("spec") or {}).get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0
    surge = (strategy.get("rollingUpdate") or {}).get("maxSurge", "25%")
    if isinstance(surge, str) and surge.endswith("%"):
        return math.ceil(replicas * int(surge[:-1]) / 100)
    return int(surge)


def _replicas(spec):
    value = (spec or {}).get("replicas")
    return 1 if value is None else int(value)


def _live(objs):
    return [o for o in objs if not o["metadata"].get("deletionTimestamp")]


def _pod_from_template(template, name, namespace, owner, extra_labels):
    meta = template.get("metadata") or {}
    spec = copy.deepcopy(template.get("spec") or {})
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("serviceAccountName", spec.get("serviceAccount") or "default")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace,
                         "labels": {**(meta.get("labels") or {}), **extra_labels},
                         "annotations": dict(meta.get("annotations") or {}),
                         "ownerReferences": [controller_ref(owner)]},
            "spec": spec,
            # what kube-apiserver gives every new pod (PrepareForCreate): a client
            # listing pods never sees one without a status
            "status": {"phase": "Pending"}}


class _Controller:
    WATCHES = set()

    def __init__(self, cluster):
        self.cluster = cluster
        self.store = cluster.store
        self.dirty = Dirty(self.store, self.WATCHES)

    def next_due(self):
        return None

    def reconcile(self):
        if not self.dirty.take():
            return False
        return self.sync()

    def _create(self, plural_key, obj):
        try:
            self.store.create(*plural_key, obj)
            return True
        except (AlreadyExists, ApiError):
            return False        # e.g. namespace terminating: nothing to do now

    def _delete(self, plural_key, obj):
        try:
            self.store.delete(*plural_key, obj["metadata"].get("namespace"), obj["metadata"]["name"])
            return True
        except NotFound:
            return False

    def _set_status(self, plural_key, obj, status):
        if obj.get("status") == status:
            return False
        obj["status"] = status
        try:
            self.store.update_status(*plural_key, obj, check_version=False)
            return True
        except NotFound:
            return False

    def _condition(self, obj, ctype, status, reason, message):
        """A condition keeping its timestamps while it does not change."""
        now = format_time(self.cluster.clock.now())
        for old in (obj.get("status") or {}).get("conditions") or []:
            if old.get("type") == ctype and old.get("status") == status and old.get("reason") == reason:
                return old
        return {"type": ctype, "status": status, "reason": reason, "message": message,
                "lastUpdateTime": now, "lastTransitionTime": now}


class DeploymentController(_Controller):
    """Deployment -> one ReplicaSet per template (`<name>-<hash>`), older ones scaled to 0."""
    WATCHES = {("apps", "deployments"), ("apps", "replicasets")}
    KEY = ("apps", "deployments")
    RS = ("apps", "replicasets")

    def sync(self):
        changed = False
        for deploy in _live(self.store.list(*self.KEY)):
            changed |= self._sync_one(deploy)
        return changed

    def _sync_one(self, deploy):
        meta, spec = deploy["metadata"], deploy.get("spec") or {}
        template = spec.get("template") or {}
        pod_hash = template_hash(template)
        owned = claim(self.store, self.RS, deploy, self.store.list(*self.RS, namespace=meta["namespace"]))
        # the new ReplicaSet is the oldest whose template is the Deployment's, hash label aside
        # (deploymentutil.FindNewReplicaSet): an adopted one keeps the name its own cluster gave it
        current = next((rs for rs in sorted(owned, key=lambda r: r["metadata"].get("creationTimestamp") or "")
                        if _same_template(rs, template)), None)
        desired = _replicas(spec)
        changed = False
        if current is None:
            revision = 1 + max([int((rs["metadata"].get("annotations") or {}).get(REVISION_ANNOTATION, 0))
                                for rs in owned] or [0])
            replica_set = self._replica_set(deploy, template, pod_hash, desired, revision)
            if self._create(self.RS, replica_set):
                changed = True
                self._scaled(deploy, replica_set["metadata"]["name"], 0, desired)
        elif _replicas(current.get("spec")) != desired:
            self._scaled(deploy, current["metadata"]["name"], _replicas(current.get("spec")), desired)
            current["spec"]["replicas"] = desired
            self.store.update(*self.RS, current, check_version=False)
            changed = True
        changed |= self._note_revision(deploy, current or replica_set)
        for old in owned:
            if old is not current and _replicas(old.get("spec")) != 0:
                self._scaled(deploy, old["metadata"]["name"], _replicas(old.get("spec")), 0)
                old["spec"]["replicas"] = 0
                self.store.update(*self.RS, old, check_version=False)
                changed = True
        return self._update_status(deploy, owned, current, desired) or changed

    def _note_revision(self, deploy, replica_set):
        """The Deployment carries its new ReplicaSet's revision (SetDeploymentRevision)."""
        revision = ((replica_set or {}).get("metadata", {}).get("annotations") or {}).get(REVISION_ANNOTATION)
        annotations = deploy["metadata"].get("annotations") or {}
        if not revision or annotations.get(REVISION_ANNOTATION) == revision:
            return False
        current = self.store.get(*self.KEY, deploy["metadata"]["namespace"], deploy["metadata"]["name"])
        if current is None:
            return False
        current["metadata"]["annotations"] = dict(current["metadata"].get("annotations") or {},
                                                  **{REVISION_ANNOTATION: revision})
        self.store.update(*self.KEY, current, check_version=False)
        return True

    def _scaled(self, deploy, replica_set, old, new):
        emit_event(self.cluster, deploy, "Normal", "ScalingReplicaSet",
                   f"Scaled {'up' if new > old else 'down'} replica set {replica_set} from {old} to {new}",
                   "deployment-controller")

    def _replica_set(self, deploy, template, pod_hash, replicas, revision):
        meta = deploy["metadata"]
        template = copy.deepcopy(template)
        template.setdefault("metadata", {}).setdefault("labels", {})[POD_TEMPLATE_HASH] = pod_hash
        selector = copy.deepcopy((deploy.get("spec") or {}).get("selector") or {})
        selector.setdefault("matchLabels", {})[POD_TEMPLATE_HASH] = pod_hash
        return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": f"{meta['name']}-{pod_hash}", "namespace": meta["namespace"],
                             "labels": dict(template["metadata"]["labels"]),
                             "annotations": {REVISION_ANNOTATION: str(revision),
                                             "deployment.kubernetes.io/desired-replicas": str(replicas),
                                             "deployment.kubernetes.io/max-replicas": str(replicas + _max_surge(deploy,
                                                                                                                replicas))},
                             "ownerReferences": [controller_ref(deploy)]},
                "spec": {"replicas": replicas, "selector": selector, "template": template}}

    def _update_status(self, deploy, owned, current, desired):
        statuses = [rs.get("status") or {} for rs in owned]
        ready = sum(s.get("readyReplicas", 0) for s in statuses)
        updated = ((current or {}).get("status") or {}).get("replicas", 0)
        available = ready
        status = {"observedGeneration": deploy["metadata"].get("generation", 1),
                  "replicas": sum(s.get("replicas", 0) for s in statuses),
                  "updatedReplicas": updated, "readyReplicas": ready, "availableReplicas": available}
        if desired - available > 0:
            status["unavailableReplicas"] = desired - available
        status = {k: v for k, v in status.items() if v or k == "observedGeneration"}
        complete = current is not None and updated == desired and available >= desired
        status["conditions"] = [
            self._condition(deploy, "Available", "True" if available >= desired else "False",
                            "MinimumReplicasAvailable" if available >= desired else "MinimumReplicasUnavailable",
                            "Deployment has minimum availability." if available >= desired
                            else "Deployment does not have minimum availability."),
            self._condition(deploy, "Progressing", "True",
                            "NewReplicaSetAvailable" if complete else "ReplicaSetUpdated",
                            f'ReplicaSet "{deploy["metadata"]["name"]}-'
                            f'{template_hash((deploy.get("spec") or {}).get("template") or {})}" '
                            + ("has successfully progressed." if complete else "is progressing.")),
        ]
        return self._set_status(self.KEY, deploy, status)


def _same_template(replica_set, template):
    """EqualIgnoreHash: the ReplicaSet's pod template is `template` but for its pod-template-hash label."""
    def without_hash(tmpl):
        meta = dict((tmpl or {}).get("metadata") or {})
        labels = {k: v for k, v in (meta.pop("labels", None) or {}).items() if k != POD_TEMPLATE_HASH}
        if labels:
            meta["labels"] = labels
        return {**(tmpl or {}), "metadata": meta}
    return without_hash((replica_set.get("spec") or {}).get("template")) == without_hash(template)


class ReplicaSetController(_Controller):
    WATCHES = {("apps", "replicasets"), ("", "pods")}
    KEY = ("apps", "replicasets")

    def sync(self):
        changed = False
        for rs in _live(self.store.list(*self.KEY)):
            meta = rs["metadata"]
            pods = _live(claim(self.store, ("", "pods"), rs, self.store.list("", "pods", namespace=meta["namespace"])))
            desired = _replicas(rs.get("spec"))
            template = (rs.get("spec") or {}).get("template") or {}
            for _ in range(desired - len(pods)):
                name = f"{meta['name']}-{random_suffix()}"
                pod = _pod_from_template(template, name, meta["namespace"], rs, {})
                pod["metadata"]["generateName"] = f"{meta['name']}-"       # the ReplicaSet controller names by it
                if self._create(("", "pods"), pod):
                    changed = True
                    emit_event(self.cluster, rs, "Normal", "SuccessfulCreate", f"Created pod: {name}",
                               "replicaset-controller")
            if len(pods) > desired:
                # Not-ready pods go first, then the newest (controller.ActivePods ordering).
                doomed = sorted(pods, key=lambda p: (is_ready(p), p["metadata"]["creationTimestamp"]))
                for pod in doomed[:len(pods) - desired]:
                    if self._delete(("", "pods"), pod):
                        changed = True
                        emit_event(self.cluster, rs, "Normal", "SuccessfulDelete",
                                   f"Deleted pod: {pod['metadata']['name']}", "replicaset-controller")
            pods = _live([p for p in self.store.list("", "pods", namespace=meta["namespace"])
                          if owned_by(p, rs)])
            ready = sum(1 for p in pods if is_ready(p))
            status = {"replicas": len(pods), "fullyLabeledReplicas": len(pods), "readyReplicas": ready,
                      "availableReplicas": ready, "observedGeneration": meta.get("generation", 1)}
            status = {k: v for k, v in status.items() if v or k in ("replicas", "observedGeneration")}
            changed |= self._set_status(self.KEY, rs, status)
        return changed


class StatefulSetController(_Controller):
    """StatefulSet -> pods `<name>-<i>` and claims `<template>-<name>-<i>`."""
    WATCHES = {("apps", "statefulsets"), ("", "pods"), ("", "persistentvolumeclaims")}
    KEY = ("apps", "statefulsets")

    def sync(self):
        changed = False
        for sts in _live(self.store.list(*self.KEY)):
            changed |= self._sync_one(sts)
        return changed

    def _sync_one(self, sts):
        meta, spec = sts["metadata"], sts.get("spec") or {}
        name, namespace = meta["name"], meta["namespace"]
        revision = f"{name}-{template_hash(spec.get('template') or {})}"
        desired = _replicas(spec)
        ordered = spec.get("podManagementPolicy", "OrderedReady") != "Parallel"
        pods = {self._ordinal(p, name): p
                for p in _live(claim(self.store, ("", "pods"), sts, self.store.list("", "pods", namespace=namespace)))}
        pods.pop(None, None)
        changed = False
        for i in range(desired):
            changed |= self._ensure_claims(sts, i)
            if i in pods:
                continue
            if ordered and any(not is_ready(pods[j]) for j in range(i) if j in pods):
                break
            pod = self._pod(sts, i, revision)
            if self._create(("", "pods"), pod):
                changed = True
                emit_event(self.cluster, sts, "Normal", "SuccessfulCreate",
                           f"create Pod {pod['metadata']['name']} in StatefulSet {sts['metadata']['name']} "
                           f"successful", "statefulset-controller")
            if ordered:
                break
        for i in sorted((i for i in pods if i >= desired), reverse=True):
            changed |= self._delete(("", "pods"), pods.pop(i))
            if ((spec.get("persistentVolumeClaimRetentionPolicy") or {}).get("whenScaled") == "Delete"):
                changed |= self._delete_claims(sts, i)
        outdated = [i for i, p in pods.items() if p["metadata"]["labels"].get("controller-revision-hash") != revision]
        if outdated and all(is_ready(p) for p in pods.values()):
            changed |= self._delete(("", "pods"), pods.pop(max(outdated)))   # rolling update, highest first
        ready = sum(1 for p in pods.values() if is_ready(p))
        current = sum(1 for p in pods.values()
                      if p["metadata"]["labels"].get("controller-revision-hash") == revision)
        status = {"observedGeneration": meta.get("generation", 1), "replicas": len(pods),
                  "readyReplicas": ready, "availableReplicas": ready, "currentReplicas": current,
                  "updatedReplicas": current, "currentRevision": revision, "updateRevision": revision,
                  "collisionCount": 0}
        status = {k: v for k, v in status.items()
                  if v or k in ("replicas", "observedGeneration", "collisionCount", "availableReplicas")}
        return self._set_status(self.KEY, sts, status) or changed

    @staticmethod
    def _ordinal(pod, name):
        suffix = pod["metadata"]["name"][len(name) + 1:]
        return int(suffix) if pod["metadata"]["name"].startswith(name + "-") and suffix.isdigit() else None

    def _claim_templates(self, sts):
        return (sts.get("spec") or {}).get("volumeClaimTemplates") or []

    def _ensure_claims(self, sts, ordinal):
        meta = sts["metadata"]
        selector_labels = ((sts["spec"].get("selector") or {}).get("matchLabels") or {})
        changed = False
        for tmpl in self._claim_templates(sts):
            claim_name = f"{tmpl['metadata']['name']}-{meta['name']}-{ordinal}"
            if self.store.get("", "persistentvolumeclaims", meta["namespace"], claim_name) is not None:
                continue
            claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                     "metadata": {"name": claim_name, "namespace": meta["namespace"],
                                  "labels": {**(tmpl["metadata"].get("labels") or {}), **selector_labels},
                                  "annotations": dict(tmpl["metadata"].get("annotations") or {})},
                     "spec": copy.deepcopy(tmpl.get("spec") or {}),
                     "status": {"phase": "Pending"}}
            if self._create(("", "persistentvolumeclaims"), claim):
                changed = True
                emit_event(self.cluster, sts, "Normal", "SuccessfulCreate",
                           f"create Claim {claim['metadata']['name']} Pod {sts['metadata']['name']}-{ordinal} in "
                           f"StatefulSet {sts['metadata']['name']} success", "statefulset-controller")
        return changed

    def _delete_claims(self, sts, ordinal):
        changed = False
        for tmpl in self._claim_templates(sts):
            claim = self.store.get("", "persistentvolumeclaims", sts["metadata"]["namespace"],
                                   f"{tmpl['metadata']['name']}-{sts['metadata']['name']}-{ordinal}")
            if claim is not None:
                changed |= self._delete(("", "persistentvolumeclaims"), claim)
        return changed

    def _pod(self, sts, ordinal, revision):
        meta, spec = sts["metadata"], sts["spec"]
        pod_name = f"{meta['name']}-{ordinal}"
        pod = _pod_from_template(spec.get("template") or {}, pod_name, meta["namespace"], sts, {
            "statefulset.kubernetes.io/pod-name": pod_name, "controller-revision-hash": revision,
            "apps.kubernetes.io/pod-index": str(ordinal)})
        pod["spec"]["hostname"] = pod_name
        if spec.get("serviceName"):
            pod["spec"]["subdomain"] = spec["serviceName"]
        volumes = [v for v in pod["spec"].get("volumes") or []
                   if v.get("name") not in {t["metadata"]["name"] for t in self._claim_templates(sts)}]
        for tmpl in self._claim_templates(sts):
            volumes.append({"name": tmpl["metadata"]["name"], "persistentVolumeClaim": {
                "claimName": f"{tmpl['metadata']['name']}-{meta['name']}-{ordinal}"}})
        pod["spec"]["volumes"] = volumes
        return pod


class PodLifecycle(_Controller):
    """Scheduler + kubelet: bind pods to the node, report them Running/Ready
    once every claim they mount is Bound."""
    WATCHES = {("", "pods"), ("", "persistentvolumeclaims")}
    KEY = ("", "pods")

    def sync(self):
        changed = False
        claims = {(c["metadata"]["namespace"], c["metadata"]["name"]): c
                  for c in self.store.list("", "persistentvolumeclaims")}
        for pod in _live(self.store.list(*self.KEY)):
            namespace = pod["metadata"]["namespace"]
            missing = [c for c in pod_claims(pod) if (namespace, c) not in claims]
            unbound = [c for c in pod_claims(pod)
                       if ((claims.get((namespace, c)) or {}).get("status") or {}).get("phase") != "Bound"]
            if not missing and not pod["spec"].get("nodeName"):
                pod["spec"]["nodeName"] = self.cluster.node_name
                pod = self.store.update(*self.KEY, pod, check_version=False)
                changed = True
            if missing:
                why = f'persistentvolumeclaim "{missing[0]}" not found'
            elif unbound:
                why = "pod has unbound immediate PersistentVolumeClaims"
            else:
                why = None
            changed |= self._report(pod, why)
        return changed

    def _report(self, pod, why):
        status = pod.get("status") or {}
        if why is None and status.get("phase") == "Running" and is_ready(pod):
            return False
        now = format_time(self.cluster.clock.now())
        if why is not None:
            if status.get("phase") == "Pending" and (status.get("conditions") or [{}])[0].get("message") == why:
                return False
            return self._set_status(self.KEY, pod, {"phase": "Pending", "qosClass": "BestEffort", "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": why,
                 "lastTransitionTime": now, "lastProbeTime": None}]})
        containers = pod["spec"].get("containers") or []
        conditions = [{"type": t, "status": "True", "lastTransitionTime": now, "lastProbeTime": None}
                      for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")]
        return self._set_status(self.KEY, pod, {
            "phase": "Running", "conditions": conditions, "hostIP": self.cluster.node_ip,
            "podIP": self.cluster.pod_ip(pod["metadata"]["uid"]), "startTime": now, "qosClass": "BestEffort",
            "containerStatuses": [
                {"name": c.get("name"), "image": c.get("image"), "imageID": "",
                 "containerID": _container_id(pod, c), "ready": True, "started": True, "restartCount": 0,
                 "state": {"running": {"startedAt": now}}}
                for c in containers]})


def _container_id(pod, container):
    digest = hashlib.sha256(f"{pod['metadata']['uid']}/{container.get('name')}".encode()).hexdigest()
    return f"containerd://{digest}"


def controllers(cluster):
    return [DeploymentController(cluster), ReplicaSetController(cluster),
            StatefulSetController(cluster), PodLifecycle(cluster)]
