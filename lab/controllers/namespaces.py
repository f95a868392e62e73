"""Namespace lifecycle and owner-reference garbage collection.

NamespaceController: every active namespace holds the ServiceAccount
`default` and the ConfigMap `kube-root-ca.crt`, re-created when deleted (as
kube-controller-manager's serviceaccount controller and root-ca-cert
publisher keep them; the lab serves plain HTTP, so the CA bundle is empty).
A deleted namespace is Terminating (the store keeps it while
spec.finalizers holds `kubernetes`); this empties it of every namespaced
resource the cluster serves, then drops the finalizer so the store removes
it. GarbageCollector: objects whose every owner (by uid) is
gone are deleted, as kube-controller-manager's background GC does.
"""
from lab.apiserver.errors import AlreadyExists, ApiError, NotFound
from lab.controllers.util import Dirty

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
_FINALIZER = "kubernetes"
ROOT_CA = "kube-root-ca.crt"
ROOT_CA_DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal "
                       "endpoints such as the internal service IP or kubernetes.default.svc. No other usage is "
                       "guaranteed across distributions of Kubernetes clusters.")


class NamespaceController:
    def __init__(self, cluster):
        self.cluster = cluster
        self.store = cluster.store
        self.dirty = Dirty(self.store, {("", "namespaces"), ("", "serviceaccounts"), ("", "configmaps")})

    def next_due(self):
        return None

    def reconcile(self):
        namespaces = self.store.list("", "namespaces")
        terminating = [ns for ns in namespaces if ns["metadata"].get("deletionTimestamp")]
        dirty = self.dirty.take()
        if not terminating and not dirty:
            return False
        changed = False
        for ns in terminating:
            changed |= self._empty(ns)
        if dirty:
            for ns in namespaces:
                if not ns["metadata"].get("deletionTimestamp"):
                    changed |= self._populate(ns["metadata"]["name"])
        return changed

    def _populate(self, name):
        return populate(self.store, name)

    def _empty(self, ns):
        """Delete what is left in the namespace; once nothing is, finalize it."""
        name = ns["metadata"]["name"]
        changed = False
        for rtype in self._namespaced_types():
            for obj in self.store.list(rtype.group, rtype.plural, namespace=name):
                if obj["metadata"].get("deletionTimestamp"):
                    continue        # waiting for its own finalizers
                try:
                    self.store.delete(rtype.group, rtype.plural, name, obj["metadata"]["name"])
                    changed = True
                except NotFound:
                    pass
        if any(self.store.list(t.group, t.plural, namespace=name) for t in self._namespaced_types()):
            return changed
        ns.setdefault("spec", {})["finalizers"] = [
            f for f in ns["spec"].get("finalizers") or [] if f != _FINALIZER]
        try:
            self.store.update("", "namespaces", ns, check_version=False)
        except ApiError:
            pass
        return True

    def _namespaced_types(self):
        return [t for t in self.cluster.registry.served() if t.namespaced]


class GarbageCollector:
    """Deletes dependents whose owners are all gone (background propagation)."""

    # What the lab's own controllers create with ownerReferences, and the
    # kinds that own them (others' owners, e.g. custom resources, are left alone).
    DEPENDENTS = (("apps", "replicasets"), ("", "pods"))
    OWNERS = {"Deployment": ("apps", "deployments"), "ReplicaSet": ("apps", "replicasets"),
              "StatefulSet": ("apps", "statefulsets"), "DaemonSet": ("apps", "daemonsets"),
              "Job": ("batch", "jobs")}

    def __init__(self, cluster):
        self.cluster = cluster
        self.store = cluster.store
        self.dirty = Dirty(self.store, set(self.DEPENDENTS) | set(self.OWNERS.values()))

    def next_due(self):
        return None

    def reconcile(self):
        if not self.dirty.take():
            return False
        live = {obj["metadata"]["uid"] for group, plural in self.OWNERS.values()
                for obj in self.store.list(group, plural)
                if not obj["metadata"].get("deletionTimestamp")}
        changed = False
        for group, plural in self.DEPENDENTS:
            for obj in self.store.list(group, plural):
                refs = obj["metadata"].get("ownerReferences") or []
                if not refs or any(ref.get("uid") in live or ref.get("kind") not in self.OWNERS
                                   for ref in refs):
                    continue
                try:
                    self.store.delete(group, plural, obj["metadata"].get("namespace"), obj["metadata"]["name"])
                    changed = True
                except NotFound:
                    pass
        return changed


def populate(store, name):
    """The objects Kubernetes' controllers keep in every namespace; True if
    one was missing. Velero's restore finds them there already (real
    controllers make them within milliseconds of the namespace)."""
    wanted = ((("", "serviceaccounts"), {"apiVersion": "v1", "kind": "ServiceAccount",
                                         "metadata": {"name": "default", "namespace": name}}),
              (("", "configmaps"), {"apiVersion": "v1", "kind": "ConfigMap",
                                    "metadata": {"name": ROOT_CA, "namespace": name,
                                                 "annotations": {"kubernetes.io/description": ROOT_CA_DESCRIPTION}},
                                    "data": {"ca.crt": ""}}))
    changed = False
    for (group, plural), obj in wanted:
        if store.get(group, plural, name, obj["metadata"]["name"]) is None:
            try:
                store.create(group, plural, obj)
                changed = True
            except (AlreadyExists, NotFound):
                pass
    return changed
