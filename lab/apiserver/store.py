"""ObjectStore: the objects of one lab cluster (its "etcd" plus the generic
registry rules kube-apiserver applies on every write).

Objects are plain dicts as the API returns them, keyed by (group, plural)
and (namespace, name); every method returns deep copies. Timestamps come
from the lab's virtual clock (`clock.now()`, an aware UTC datetime).
resourceVersion is one increasing counter for the whole store, generation
(of the kinds that have one) starts at 1 and is bumped when anything
outside metadata and status changes; empty labels, annotations, finalizers
and ownerReferences are not stored, and a Secret's stringData is merged
into data. Deleting an object with finalizers only sets deletionTimestamp; it
goes when an update removes the last finalizer. Namespaces get Kubernetes'
`kubernetes` finalizer in spec.finalizers and turn Terminating on delete;
the namespace controller empties them. Listeners run after each change,
outside the lock, in the writing thread.
"""
import base64
import datetime
import functools
import logging
import random
import threading
import uuid

from .errors import AlreadyExists, Conflict, Forbidden, Invalid, NotFound
from .selectors import field_matcher, label_matcher

# k8s.io/apiserver/pkg/storage/names: generateName suffixes avoid vowels and
# look-alike characters.
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_NAMESPACE_FINALIZER = "kubernetes"

log = logging.getLogger(__name__)


def clone(value):
    """A deep copy of a JSON-shaped value (dicts, lists, scalars): what every
    read and write hands out, so nobody shares the stored object. Several
    times faster than copy.deepcopy, which the lists of every pass felt."""
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clone(v) for v in value]
    return value


def format_time(moment):
    """RFC 3339 with a Z, seconds precision, as Kubernetes writes metav1.Time."""
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# Built-in resources whose registry strategy keeps no metadata.generation
# (every other built-in of the lab's registry, and every custom resource, has one)
_NO_GENERATION = {("", plural) for plural in ("namespaces", "services", "configmaps", "secrets", "serviceaccounts",
                                             "persistentvolumeclaims", "persistentvolumes", "events", "endpoints",
                                             "limitranges")}
_NO_GENERATION |= {("storage.k8s.io", "storageclasses"), ("policy", "podsecuritypolicies")}
_NO_GENERATION |= {("rbac.authorization.k8s.io", plural) for plural in ("roles", "rolebindings", "clusterroles",
                                                                        "clusterrolebindings")}
# metadata fields Go's encoding omits when empty (omitempty): an empty one is never stored
_OMITTED_WHEN_EMPTY = ("labels", "annotations", "finalizers", "ownerReferences")


def _as_stored(group, plural, obj):
    """What kube-apiserver's strategies do to every written object: empty
    metadata maps and lists dropped; a Secret's stringData merged into data
    (base64) and its type defaulted to Opaque (pkg/apis/core)."""
    meta = obj.setdefault("metadata", {})
    for key in _OMITTED_WHEN_EMPTY:
        if key in meta and not meta[key]:
            del meta[key]
    if (group, plural) == ("", "secrets"):
        string_data = obj.pop("stringData", None) or {}
        if string_data:
            data = dict(obj.get("data") or {})
            data.update({k: base64.b64encode(str(v).encode()).decode() for k, v in string_data.items()})
            obj["data"] = data
        obj.setdefault("type", "Opaque")
    return obj


def _spec_part(obj):
    """What generation tracks: everything except metadata, status and type info."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _writes(method):
    """Run a write under the lock, then tell the listeners what changed
    (outside the lock, so a listener may write to the store)."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._lock:
            try:
                result = method(self, *args, **kwargs)
            finally:
                events, self._pending = self._pending, []
            listeners = list(self._listeners)
        for event in events:
            for listener in listeners:
                try:
                    listener(*event)
                except Exception:  # a broken observer must not turn a done write into an error
                    log.exception("store listener failed on %s %s/%s", event[0], event[1], event[2])
        return result
    return wrapper


def _is_finalized(obj, plural):
    if (obj["metadata"].get("finalizers") or []):
        return False
    if plural == "namespaces" and ((obj.get("spec") or {}).get("finalizers") or []):
        return False
    return True


class ObjectStore:
    """Thread-safe object storage with Kubernetes write semantics."""

    def __init__(self, clock):
        self.clock = clock
        self._lock = threading.RLock()
        self._objects = {}        # (group, plural) -> {(namespace, name): obj}
        self._version = 0
        self._listeners = []
        self._pending = []        # events of the write in progress

    # -- reading ----------------------------------------------------------

    def get(self, group, plural, namespace, name):
        with self._lock:
            obj = self._objects.get((group, plural), {}).get((namespace or "", name))
            return clone(obj)

    def list(self, group, plural, namespace=None, label_selector=None, field_selector=None):
        """Objects sorted by namespace and name. Selectors are strings as in
        a list request; `label_selector` may also be a LabelSelector object."""
        labels_match = label_matcher(label_selector)
        fields_match = field_matcher(field_selector, group, plural)
        with self._lock:
            items = sorted(self._objects.get((group, plural), {}).items())
            return [clone(obj) for (ns, _), obj in items
                    if (namespace is None or ns == namespace)
                    and labels_match(obj["metadata"].get("labels")) and fields_match(obj)]

    def resource_version(self):
        """The store's current resourceVersion (a list's metadata.resourceVersion)."""
        with self._lock:
            return str(self._version)

    def add_listener(self, listener):
        """listener(event, group, plural, obj) with event ADDED|MODIFIED|DELETED."""
        with self._lock:
            self._listeners.append(listener)

    # -- writing ----------------------------------------------------------

    @_writes
    def create(self, group, plural, obj):
        obj = clone(obj)
        meta = obj.setdefault("metadata", {})
        bucket = self._objects.setdefault((group, plural), {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = self._generated_name(bucket, meta)
        if not meta.get("name"):
            raise Invalid.field(group, obj.get("kind") or plural, "", "metadata.name",
                                "Required value: name or generateName is required")
        namespace = meta.get("namespace") or ""
        if namespace:
            self._check_namespace_open(group, plural, namespace, meta["name"])
        if (namespace, meta["name"]) in bucket:
            raise AlreadyExists.object(group, plural, meta["name"])
        for key in ("deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion"):
            meta.pop(key, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = format_time(self.clock.now())
        if (group, plural) in _NO_GENERATION:
            meta.pop("generation", None)
        else:
            meta["generation"] = 1
        _as_stored(group, plural, obj)
        if (group, plural) == ("", "namespaces"):
            self._prepare_namespace(obj)
        self._stamp(obj)
        bucket[(namespace, meta["name"])] = obj
        self._pending.append(("ADDED", group, plural, clone(obj)))
        return clone(obj)

    @_writes
    def update(self, group, plural, obj, check_version=True):
        """Replace an object. Conflict (409) if check_version and the object's
        resourceVersion is stale; an object without one is replaced unconditionally."""
        new = clone(obj)
        old = self._existing(group, plural, new)
        if check_version:
            self._check_version(group, plural, old, new)
        meta, old_meta = new.setdefault("metadata", {}), old["metadata"]
        for key in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
            if key in old_meta:
                meta[key] = old_meta[key]
            else:
                meta.pop(key, None)
        if (group, plural) in _NO_GENERATION:
            meta.pop("generation", None)
        else:
            meta["generation"] = old_meta.get("generation", 1) + (_spec_part(new) != _spec_part(old))
        _as_stored(group, plural, new)
        return self._commit(group, plural, old, new)

    @_writes
    def update_status(self, group, plural, obj, check_version=True):
        """Change only .status of the stored object."""
        old = self._existing(group, plural, obj)
        if check_version:
            self._check_version(group, plural, old, obj)
        new = clone(old)
        if "status" in obj:
            new["status"] = clone(obj["status"])
        else:
            new.pop("status", None)
        return self._commit(group, plural, old, new)

    @_writes
    def delete(self, group, plural, namespace, name):
        """Delete now, or mark for deletion while finalizers remain (namespaces
        turn Terminating). Returns the object as deleted or as marked."""
        key = (namespace or "", name)
        old = self._objects.get((group, plural), {}).get(key)
        if old is None:
            raise NotFound.object(group, plural, name)
        is_namespace = (group, plural) == ("", "namespaces")
        if is_namespace and old["metadata"].get("deletionTimestamp"):
            raise Conflict.object(group, plural, name,
                                  "The system is ensuring all content is removed from this namespace.  "
                                  "Upon completion, this namespace will automatically be purged by the system.")
        if _is_finalized(old, plural):
            return self._remove(group, plural, key)
        new = clone(old)
        if not new["metadata"].get("deletionTimestamp"):
            new["metadata"]["deletionTimestamp"] = format_time(self.clock.now())
            new["metadata"]["deletionGracePeriodSeconds"] = 0
        if is_namespace:
            new.setdefault("status", {})["phase"] = "Terminating"
        return self._commit(group, plural, old, new)

    @_writes
    def purge(self, group, plural, namespace, name):
        """Remove an object now, finalizers or not (garbage collection of a
        deleted CRD's resources). Returns it, or None if it was not there."""
        key = (namespace or "", name)
        if key not in self._objects.get((group, plural), {}):
            return None
        return self._remove(group, plural, key)

    # -- internals --------------------------------------------------------

    def _generated_name(self, bucket, meta):
        namespace = meta.get("namespace") or ""
        while True:
            name = meta["generateName"] + "".join(random.choice(_NAME_ALPHABET) for _ in range(5))
            if (namespace, name) not in bucket:
                return name

    def _check_namespace_open(self, group, plural, namespace, name):
        ns = self._objects.get(("", "namespaces"), {}).get(("", namespace))
        if ns is None:
            raise NotFound(f'namespaces "{namespace}" not found', {"name": namespace, "kind": "namespaces"})
        if ns["metadata"].get("deletionTimestamp"):
            why = f"namespace {namespace} is being terminated"
            details = {"name": name, "kind": plural,
                       "causes": [{"reason": "NamespaceTerminating", "message": why, "field": "metadata.namespace"}]}
            if group:
                details["group"] = group
            qualified = f"{plural}.{group}" if group else plural
            raise Forbidden(f'{qualified} "{name}" is forbidden: unable to create new content in namespace '
                            f'{namespace} because it is being terminated', details)

    @staticmethod
    def _prepare_namespace(obj):
        """What the namespace strategy does on create (pkg/registry/core/namespace)."""
        name = obj["metadata"]["name"]
        obj.setdefault("spec", {})["finalizers"] = [_NAMESPACE_FINALIZER]
        obj["status"] = {"phase": "Active"}
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name

    def _existing(self, group, plural, obj):
        meta = obj.get("metadata") or {}
        old = self._objects.get((group, plural), {}).get((meta.get("namespace") or "", meta.get("name")))
        if old is None:
            raise NotFound.object(group, plural, meta.get("name"))
        return old

    @staticmethod
    def _check_version(group, plural, old, new):
        given = (new.get("metadata") or {}).get("resourceVersion")
        if given and given != old["metadata"]["resourceVersion"]:
            raise Conflict.object(group, plural, old["metadata"]["name"],
                                  "the object has been modified; please apply your changes "
                                  "to the latest version and try again")

    def _stamp(self, obj):
        self._version += 1
        obj["metadata"]["resourceVersion"] = str(self._version)

    def _commit(self, group, plural, old, new):
        """Store `new` in place of `old` (called with the lock held)."""
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if new == old:
            return clone(old)  # a no-op write changes nothing, as in Kubernetes
        key = (new["metadata"].get("namespace") or "", new["metadata"]["name"])
        if new["metadata"].get("deletionTimestamp") and _is_finalized(new, plural):
            self._objects[(group, plural)][key] = new
            return self._remove(group, plural, key)
        self._stamp(new)
        self._objects[(group, plural)][key] = new
        self._pending.append(("MODIFIED", group, plural, clone(new)))
        return clone(new)

    def _remove(self, group, plural, key):
        obj = self._objects[(group, plural)].pop(key)
        self._stamp(obj)
        self._pending.append(("DELETED", group, plural, clone(obj)))
        return clone(obj)
