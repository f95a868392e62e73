"""Small pieces the lab's controllers share."""
import itertools
import secrets
import threading

from lab.apiserver.errors import Conflict, NotFound
from lab.apiserver.selectors import label_matcher
from lab.clock import format_time

# k8s.io/apiserver/pkg/storage/names: random suffixes avoid vowels and look-alikes.
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def random_suffix(length=5):
    return "".join(secrets.choice(NAME_ALPHABET) for _ in range(length))


class Dirty:
    """Set when the store changes one of the watched (group, plural) types, so
    an idle controller's pass costs nothing. Starts set."""

    def __init__(self, store, watched):
        self._watched = set(watched)
        self._flag = threading.Event()
        self._flag.set()
        store.add_listener(self._on_change)

    def _on_change(self, event, group, plural, obj):
        if (group, plural) in self._watched:
            self._flag.set()

    def take(self):
        """True (and cleared) if something changed since the last take."""
        if not self._flag.is_set():
            return False
        self._flag.clear()
        return True


_EVENT_SEQUENCE = itertools.count()


def emit_event(cluster, obj, event_type, reason, message, component):
    """Record a core/v1 Event about `obj` (as `kubectl describe` shows them),
    named as client-go's recorder names them: `<object>.<nanoseconds, hex>`
    (virtual time, plus a sequence so that events of one instant differ)."""
    meta = obj["metadata"]
    namespace = meta.get("namespace") or "default"
    now = cluster.clock.now()
    stamp = format_time(now)
    nanos = int(now.timestamp()) * 10**9 + next(_EVENT_SEQUENCE)
    event = {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": f"{meta['name']}.{nanos:x}", "namespace": namespace},
        "involvedObject": {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
                           "name": meta["name"], "namespace": meta.get("namespace"),
                           "uid": meta.get("uid"), "resourceVersion": meta.get("resourceVersion")},
        "reason": reason, "message": message, "type": event_type, "count": 1,
        "firstTimestamp": stamp, "lastTimestamp": stamp,
        "source": {"component": component},
        "reportingComponent": component,
    }
    try:
        cluster.store.create("", "events", event)
    except Exception:       # an event is best effort, as in Kubernetes (namespace going away...)
        pass


def pod_claims(pod):
    """Names of the PVCs a pod's volumes refer to."""
    return [v["persistentVolumeClaim"]["claimName"] for v in (pod.get("spec") or {}).get("volumes") or []
            if (v.get("persistentVolumeClaim") or {}).get("claimName")]


def claims_in_use(store):
    """{(namespace, claim name)} used by any pod: WaitForFirstConsumer claims bind then."""
    return {(pod["metadata"]["namespace"], claim)
            for pod in store.list("", "pods") for claim in pod_claims(pod)}


def controller_ref(owner):
    """The ownerReference a controller puts on what it creates."""
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def owned_by(obj, owner):
    return any(ref.get("uid") == owner["metadata"]["uid"]
               for ref in obj["metadata"].get("ownerReferences") or [])


def claim(store, plural_key, owner, objs):
    """The objects of `objs` that `owner` controls, after adopting the
    orphans its selector matches, as kube-controller-manager's
    ControllerRefManager does. Restores make such orphans: Velero strips
    every ownerReference, and the restored Deployment, ReplicaSet or
    StatefulSet takes back what it had."""
    selector = (owner.get("spec") or {}).get("selector")
    if owner["metadata"].get("deletionTimestamp") or not selector:
        return [o for o in objs if owned_by(o, owner)]
    matches = label_matcher(selector)
    owned = []
    for obj in objs:
        meta = obj["metadata"]
        if owned_by(obj, owner):
            owned.append(obj)
        elif (not any(ref.get("controller") for ref in meta.get("ownerReferences") or [])
              and not meta.get("deletionTimestamp") and matches(meta.get("labels") or {})):
            meta["ownerReferences"] = (meta.get("ownerReferences") or []) + [controller_ref(owner)]
            try:
                owned.append(store.update(*plural_key, obj))
            except (Conflict, NotFound):
                pass            # changed or gone meanwhile: the next pass looks again
    return owned
