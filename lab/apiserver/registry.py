"""The resource types one lab cluster serves at its Kubernetes version.

Built-in types carry the release range in which kube-apiserver serves them
(e.g. policy/v1beta1 podsecuritypolicies and batch/v1beta1 cronjobs only
below 1.25). CustomResourceDefinitions (apiextensions.k8s.io/v1) add their
resources as soon as they are stored and remove them when deleted:
`watch(store)` follows the store. Versions are ordered as Kubernetes orders
them for discovery (GA > beta > alpha, higher numbers first), so
`versions[0]` is the preferred version.
"""
import re
import threading
from dataclasses import dataclass

_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+].*)?$")


def parse_k8s_version(text):
    """'1.29.4' or 'v1.29' -> (1, 29); Kubernetes serves APIs by major.minor."""
    match = _VERSION.match(str(text).strip())
    if not match:
        raise ValueError(f"invalid Kubernetes version {text!r}: expected MAJOR.MINOR[.PATCH], e.g. 1.29.4")
    return int(match[1]), int(match[2])


def version_priority(version):
    """Sort key of an API version (k8s.io/apimachinery version.CompareKubeAwareVersionStrings)."""
    match = re.match(r"^v(\d+)(?:(alpha|beta)(\d+))?$", version)
    if not match:
        return (3, 0, 0, version)  # non kube-like versions sort last, alphabetically
    stability = {None: 0, "beta": 1, "alpha": 2}[match[2]]
    return (stability, -int(match[1]), -int(match[3] or 0), version)


@dataclass(frozen=True)
class ResourceType:
    group: str                  # "" for core
    versions: tuple             # served versions, preferred first
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple = ()
    subresources: tuple = ()    # e.g. ("status",), ("status", "exec")

    def api_version(self, version=None):
        version = version or self.versions[0]
        return f"{self.group}/{version}" if self.group else version


# group, version, plural, kind, namespaced, short names, subresources, served from, served below
_BUILTINS = [
    ("", "v1", "namespaces", "Namespace", False, ("ns",), ("status", "finalize"), None, None),
    ("", "v1", "pods", "Pod", True, ("po",), ("status", "exec"), None, None),
    ("", "v1", "services", "Service", True, ("svc",), ("status",), None, None),
    ("", "v1", "configmaps", "ConfigMap", True, ("cm",), (), None, None),
    ("", "v1", "secrets", "Secret", True, (), (), None, None),
    ("", "v1", "serviceaccounts", "ServiceAccount", True, ("sa",), (), None, None),
    ("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, ("pvc",), ("status",), None, None),
    ("", "v1", "persistentvolumes", "PersistentVolume", False, ("pv",), ("status",), None, None),
    ("", "v1", "events", "Event", True, ("ev",), (), None, None),
    ("", "v1", "endpoints", "Endpoints", True, ("ep",), (), None, None),
    ("", "v1", "limitranges", "LimitRange", True, ("limits",), (), None, None),
    ("apps", "v1", "deployments", "Deployment", True, ("deploy",), ("status",), None, None),
    ("apps", "v1", "statefulsets", "StatefulSet", True, ("sts",), ("status",), None, None),
    ("apps", "v1", "replicasets", "ReplicaSet", True, ("rs",), ("status",), None, None),
    ("apps", "v1", "daemonsets", "DaemonSet", True, ("ds",), ("status",), None, None),
    ("batch", "v1", "jobs", "Job", True, (), ("status",), None, None),
    ("batch", "v1", "cronjobs", "CronJob", True, ("cj",), ("status",), (1, 21), None),
    ("batch", "v1beta1", "cronjobs", "CronJob", True, ("cj",), ("status",), None, (1, 25)),
    ("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, ("pdb",), ("status",), (1, 21), None),
    ("policy", "v1beta1", "poddisruptionbudgets", "PodDisruptionBudget", True, ("pdb",), ("status",), None, (1, 25)),
    ("policy", "v1beta1", "podsecuritypolicies", "PodSecurityPolicy", False, ("psp",), (), None, (1, 25)),
    ("networking.k8s.io", "v1", "ingresses", "Ingress", True, ("ing",), ("status",), (1, 19), None),
    ("networking.k8s.io", "v1beta1", "ingresses", "Ingress", True, ("ing",), ("status",), None, (1, 22)),
    ("storage.k8s.io", "v1", "storageclasses", "StorageClass", False, ("sc",), (), None, None),
    ("rbac.authorization.k8s.io", "v1", "roles", "Role", True, (), (), None, None),
    ("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True, (), (), None, None),
    ("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False, (), (), None, None),
    ("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False, (), (), None, None),
    ("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False,
     ("crd", "crds"), ("status",), None, None),
]

CRD_GROUP, CRD_PLURAL = "apiextensions.k8s.io", "customresourcedefinitions"


def crd_resource_type(crd):
    """The ResourceType a CRD object defines, or None if it serves no version."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    served = [v for v in spec.get("versions") or [] if v.get("served")]
    if not served:
        return None
    kind = names["kind"]
    has_status = any("status" in ((v.get("subresources") or {})) for v in served)
    return ResourceType(
        group=spec["group"],
        versions=tuple(sorted((v["name"] for v in served), key=version_priority)),
        plural=names["plural"],
        singular=names.get("singular") or kind.lower(),
        kind=kind,
        namespaced=spec.get("scope") == "Namespaced",
        short_names=tuple(names.get("shortNames") or ()),
        subresources=("status",) if has_status else (),
    )


def crd_problems(crd):
    """Why kube-apiserver would reject this CRD (field, message) pairs; empty if valid."""
    spec = crd.get("spec") if isinstance(crd.get("spec"), dict) else {}
    names = spec.get("names") if isinstance(spec.get("names"), dict) else {}
    problems = []
    for field, value in (("spec.group", spec.get("group")), ("spec.names.plural", names.get("plural")),
                         ("spec.names.kind", names.get("kind"))):
        if not value:
            problems.append((field, "Required value"))
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        problems.append(("spec.scope", 'Unsupported value: must be "Namespaced" or "Cluster"'))
    versions = spec.get("versions") or []
    if not versions:
        problems.append(("spec.versions", "Invalid value: must have exactly one version marked as storage version"))
    elif sum(1 for v in versions if v.get("storage")) != 1:
        problems.append(("spec.versions", "Invalid value: must have exactly one version marked as storage version"))
    name = (crd.get("metadata") or {}).get("name")
    if spec.get("group") and names.get("plural") and name != f"{names['plural']}.{spec['group']}":
        problems.append(("metadata.name", f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group'))
    return problems


class ResourceRegistry:
    """Served resource types of one cluster; thread-safe."""

    def __init__(self, k8s_version):
        self.k8s_version = str(k8s_version)
        self.release = parse_k8s_version(k8s_version)
        self._lock = threading.Lock()
        self._builtins = self._served_builtins()
        self._custom = {}       # (group, plural) -> ResourceType from a CRD
        self._watched = set()   # ids of stores already followed

    def _served_builtins(self):
        by_key = {}
        for group, version, plural, kind, namespaced, short, subs, since, below in _BUILTINS:
            if (since and self.release < since) or (below and self.release >= below):
                continue
            entry = by_key.setdefault((group, plural), dict(
                group=group, versions=[], plural=plural, singular=kind.lower(), kind=kind,
                namespaced=namespaced, short_names=short, subresources=subs))
            entry["versions"].append(version)
        return {key: ResourceType(**dict(e, versions=tuple(sorted(e["versions"], key=version_priority))))
                for key, e in by_key.items()}

    def served(self):
        """Every served ResourceType, built-ins first."""
        with self._lock:
            return list(self._builtins.values()) + list(self._custom.values())

    def lookup(self, group, version, plural):
        """The ResourceType served at group/version under `plural`, else None."""
        with self._lock:
            rtype = self._builtins.get((group, plural)) or self._custom.get((group, plural))
        return rtype if rtype and version in rtype.versions else None

    def get(self, group, plural):
        """The ResourceType stored under (group, plural) at any version, else None."""
        with self._lock:
            return self._builtins.get((group, plural)) or self._custom.get((group, plural))

    def builtin(self, group, plural):
        """The built-in ResourceType under (group, plural), else None."""
        return self._builtins.get((group, plural))

    def by_kind(self, group, kind):
        """The ResourceType of `kind` in `group`, else None."""
        return next((t for t in self.served() if t.group == group and t.kind == kind), None)

    def groups(self):
        """[(group, [versions preferred first])] for discovery, core ("") first."""
        versions = {}
        for rtype in self.served():
            versions.setdefault(rtype.group, set()).update(rtype.versions)
        return sorted(((g, sorted(v, key=version_priority)) for g, v in versions.items()),
                      key=lambda item: (item[0] != "", item[0]))

    def add_crd(self, crd):
        """Serve (or re-serve) the resource a stored CRD defines."""
        rtype = crd_resource_type(crd)
        key = (crd["spec"]["group"], crd["spec"]["names"]["plural"])
        with self._lock:
            if key in self._builtins:
                return  # a CRD cannot take over a built-in resource (NamesAccepted=False)
            if rtype:
                self._custom[key] = rtype
            else:
                self._custom.pop(key, None)

    def remove_crd(self, crd):
        with self._lock:
            self._custom.pop((crd["spec"]["group"], crd["spec"]["names"]["plural"]), None)

    def watch(self, store):
        """Serve the CRDs already in `store` and follow its changes. Also acts
        as the apiextensions controller: marks new CRDs Established and, when
        a CRD goes, deletes its custom resources (kube-apiserver does this
        through the customresourcecleanup finalizer)."""
        with self._lock:
            if id(store) in self._watched:
                return
            self._watched.add(id(store))
        store.add_listener(lambda event, group, plural, obj: self._on_change(store, event, group, plural, obj))
        for crd in store.list(CRD_GROUP, CRD_PLURAL):
            self._on_change(store, "ADDED", CRD_GROUP, CRD_PLURAL, crd)

    def _on_change(self, store, event, group, plural, crd):
        if (group, plural) != (CRD_GROUP, CRD_PLURAL):
            return
        if event == "DELETED":
            rtype = self.get(crd["spec"]["group"], crd["spec"]["names"]["plural"])
            self.remove_crd(crd)
            if rtype:
                for obj in store.list(rtype.group, rtype.plural):
                    meta = obj["metadata"]
                    store.purge(rtype.group, rtype.plural, meta.get("namespace"), meta["name"])
            return
        self.add_crd(crd)
        if not _is_established(crd):
            store.update_status(CRD_GROUP, CRD_PLURAL, _established(crd), check_version=False)


def _is_established(crd):
    conditions = (crd.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


def _established(crd):
    """The CRD with the status the apiextensions controllers give an accepted CRD."""
    names = dict(crd["spec"]["names"])
    names.setdefault("singular", names["kind"].lower())
    names.setdefault("listKind", names["kind"] + "List")
    stamp = crd["metadata"].get("creationTimestamp")
    crd = dict(crd)
    crd["status"] = {
        "acceptedNames": names,
        "storedVersions": [v["name"] for v in crd["spec"]["versions"] if v.get("storage")],
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
             "message": "no conflicts found", "lastTransitionTime": stamp},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted", "lastTransitionTime": stamp},
        ],
    }
    return crd

