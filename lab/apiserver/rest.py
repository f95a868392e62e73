"""The REST semantics of resource requests (what kube-apiserver's generic
handlers and registry strategies do), independent of HTTP plumbing.

`Request` names one resource path; `ResourceApi.handle` runs a verb on it
against the ObjectStore and returns (HTTP code, body). Objects are stored
once per (group, plural) with the apiVersion they were written through;
reads rewrite apiVersion to the requested version (no field conversions).
"""
import json
import re
from dataclasses import dataclass, field

from . import patch as patches
from .errors import ApiError, BadRequest, Conflict, Invalid, MethodNotAllowed, NotFound, NotServed, \
    UnsupportedMediaType
from .registry import CRD_GROUP, CRD_PLURAL, crd_problems

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")

# Built-ins whose DELETE answers with the object itself (ReturnDeletedObject
# in pkg/registry/*/storage; the OpenAPI types of their delete calls say the
# same); the others answer with a Status. Custom resources return the object.
_RETURNS_DELETED_OBJECT = {("", "pods"), ("", "namespaces"), ("", "persistentvolumeclaims"),
                           ("", "persistentvolumes"), ("", "services"), ("", "serviceaccounts"),
                           ("storage.k8s.io", "storageclasses"), ("policy", "podsecuritypolicies")}

# Status a registry strategy gives a new object (PrepareForCreate); other
# types with a status subresource start with an empty status.
_INITIAL_STATUS = {("", "pods"): {"phase": "Pending"},
                   ("", "persistentvolumeclaims"): {"phase": "Pending"},
                   ("", "persistentvolumes"): {"phase": "Pending"},
                   ("", "services"): {"loadBalancer": {}}}

# Status fields Go serializes even when zero (no omitempty); typed clients
# (the python client's models) require them in every answer.
_ALWAYS_SERIALIZED_STATUS = {
    ("apps", "statefulsets"): ("replicas", "availableReplicas"),
    ("apps", "replicasets"): ("replicas",),
    ("apps", "daemonsets"): ("currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled",
                             "numberReady"),
    ("policy", "poddisruptionbudgets"): ("disruptionsAllowed", "currentHealthy", "desiredHealthy",
                                         "expectedPods"),
}


@dataclass
class Request:
    """A resource request: verb target and query, already routed."""
    group: str
    version: str
    rtype: object                # registry.ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None
    query: dict = field(default_factory=dict)   # name -> first value

    @property
    def api_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version


def decode_json(body, what="request body"):
    try:
        return json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest(f"the {what} is not valid JSON: {error}") from None


def _name_problem(rtype, name):
    """Why `name` is not a valid object name for this type (None if valid)."""
    if rtype.group == "rbac.authorization.k8s.io":  # path segment names, e.g. system:aggregate-to-view
        bad = name in (".", "..") or "/" in name or "%" in name
        return 'may not contain "/" or "%", nor be "." or ".."' if bad else None
    if (rtype.group, rtype.plural) == ("", "namespaces"):
        ok, rule = len(name) <= 63 and _LABEL.match(name), "a lowercase RFC 1123 label"
    elif (rtype.group, rtype.plural) == ("", "services"):
        ok, rule = len(name) <= 63 and _DNS1035.match(name), "a DNS-1035 label"
    else:
        ok, rule = len(name) <= 253 and _SUBDOMAIN.match(name), "a lowercase RFC 1123 subdomain"
    if ok:
        return None
    return (f"a valid name must be {rule} consisting of lower case alphanumeric characters, '-' "
            f"or '.', and must start and end with an alphanumeric character")


class ResourceApi:
    """CRUD, patch and status for every served resource of one cluster."""

    def __init__(self, store, registry):
        self.store = store
        self.registry = registry

    def handle(self, method, request, body=b"", content_type=""):
        sub = request.subresource
        if method != "GET" and request.query.get("dryRun"):
            raise BadRequest("dryRun is not supported by the lab API server (the request would really write)")
        if method == "GET":
            if request.query.get("watch") not in (None, "", "0", "false"):
                raise MethodNotAllowed("watch is not supported by the lab API server; list and poll instead")
            return (200, self.read(request)) if request.name else (200, self.list(request))
        if method == "POST" and not request.name:
            if request.rtype.namespaced and request.namespace is None:
                raise MethodNotAllowed(f"create {request.rtype.plural} needs a namespace in the path")
            return 201, self.create(request, decode_json(body))
        if method == "PUT" and request.name and sub in (None, "status", "finalize"):
            return 200, self.replace(request, decode_json(body))
        if method == "PATCH" and request.name and sub in (None, "status"):
            return 200, self.patch(request, content_type, body)
        if method == "DELETE" and request.name and sub is None:
            return 200, self.delete(request)
        if method == "DELETE" and not request.name:
            return 200, self.delete_collection(request)
        raise MethodNotAllowed("the server does not allow this method on the requested resource")

    # -- reads ------------------------------------------------------------

    def _present(self, request, obj):
        """An object as this request's version answers it."""
        obj["apiVersion"] = request.api_version
        obj.setdefault("kind", request.rtype.kind)
        zero_fields = _ALWAYS_SERIALIZED_STATUS.get((request.group, request.rtype.plural), ())
        if zero_fields:
            status = obj.setdefault("status", {})
            for name in zero_fields:
                status.setdefault(name, 0)
        return obj

    def _stored(self, request):
        obj = self.store.get(request.group, request.rtype.plural, request.namespace, request.name)
        if obj is None:
            raise NotFound.object(request.group, request.rtype.plural, request.name)
        return obj

    def read(self, request):
        return self._present(request, self._stored(request))

    def _select(self, request):
        return self.store.list(request.group, request.rtype.plural, request.namespace,
                               request.query.get("labelSelector"), request.query.get("fieldSelector"))

    def _list(self, request, items):
        """A List; items of a built-in kind carry no apiVersion or kind (the
        typed encoder leaves them out), custom resources' keep theirs."""
        builtin = self.registry.builtin(request.group, request.rtype.plural) is not None
        presented = [self._present(request, obj) for obj in items]
        if builtin:
            for obj in presented:
                obj.pop("apiVersion", None)
                obj.pop("kind", None)
        return {"kind": f"{request.rtype.kind}List", "apiVersion": request.api_version,
                "metadata": {"resourceVersion": self.store.resource_version()}, "items": presented}

    def list(self, request):
        return self._list(request, self._select(request))

    # -- writes -----------------------------------------------------------

    def _incoming(self, request, obj):
        """Check and normalise a body for create/replace: kind, apiVersion,
        namespace as the URL says (400 otherwise, as the decoder answers)."""
        rtype = request.rtype
        if not isinstance(obj, dict):
            raise BadRequest(f"the body of a {rtype.kind} request must be a JSON object, not {type(obj).__name__}")
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        if kind and kind != rtype.kind:
            raise BadRequest(f'{kind} in version "{request.version}" cannot be handled as a {rtype.kind}: '
                             f'the kind in the body ({kind}) does not match the resource ({rtype.plural})')
        if api_version and api_version.rpartition("/")[0] != request.group:
            raise BadRequest(f"the API version in the data ({api_version}) does not match the expected "
                             f"API version ({request.api_version})")
        obj["kind"], obj["apiVersion"] = rtype.kind, request.api_version
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise BadRequest(f"metadata of a {rtype.kind} must be an object")
        if rtype.namespaced:
            if meta.get("namespace") and meta["namespace"] != request.namespace:
                raise BadRequest("the namespace of the provided object does not match the namespace "
                                 "sent on the request")
            meta["namespace"] = request.namespace
        else:
            meta.pop("namespace", None)
        return obj

    def _validate(self, request, obj):
        rtype, name = request.rtype, obj["metadata"].get("name")
        if name:
            problem = _name_problem(rtype, name)
            if problem:
                raise Invalid.field(rtype.group, rtype.kind, name, "metadata.name",
                                    f'Invalid value: "{name}": {problem}')
        if (rtype.group, rtype.plural) == (CRD_GROUP, CRD_PLURAL):
            problems = crd_problems(obj)
            if problems:
                field_name, what = problems[0]
                raise Invalid.field(rtype.group, rtype.kind, name, field_name, what)

    def create(self, request, obj):
        obj = self._incoming(request, obj)
        self._validate(request, obj)
        key = (request.group, request.rtype.plural)
        if "status" in request.rtype.subresources and key != ("", "namespaces"):
            obj["status"] = dict(_INITIAL_STATUS.get(key, {}))
        return self._present(request, self.store.create(request.group, request.rtype.plural, obj))

    def replace(self, request, obj):
        obj = self._incoming(request, obj)
        body_name = obj["metadata"].get("name")
        if body_name != request.name:
            raise BadRequest(f"the name of the object ({body_name}) does not match the name on the URL "
                             f"({request.name})")
        return self._write(request, obj, self._stored(request))

    def _write(self, request, obj, current):
        """Store a full new version of an object through the main resource or
        a subresource, keeping what that path may not change."""
        group, rtype, sub = request.group, request.rtype, request.subresource
        if sub == "status":
            return self._present(request, self.store.update_status(group, rtype.plural, obj))
        if sub == "finalize":  # namespaces/finalize changes only spec.finalizers
            finalizers = (obj.get("spec") or {}).get("finalizers") or []
            current.setdefault("spec", {})["finalizers"] = finalizers
            current["metadata"]["resourceVersion"] = obj["metadata"].get("resourceVersion")
            return self._present(request, self.store.update(group, rtype.plural, current))
        if "status" in rtype.subresources:  # the main resource ignores status changes
            if "status" in current:
                obj["status"] = current["status"]
            else:
                obj.pop("status", None)
        if (group, rtype.plural) == ("", "namespaces"):
            obj.setdefault("spec", {})["finalizers"] = (current.get("spec") or {}).get("finalizers", [])
        self._validate(request, obj)
        return self._present(request, self.store.update(group, rtype.plural, obj))

    def patch(self, request, content_type, body):
        content_type = (content_type or "").split(";")[0].strip().lower()
        is_builtin = self.registry.builtin(request.group, request.rtype.plural) is not None
        if content_type not in patches.CONTENT_TYPES or (content_type == patches.STRATEGIC and not is_builtin):
            accepted = [patches.JSON_PATCH, patches.MERGE] + ([patches.STRATEGIC] if is_builtin else [])
            raise UnsupportedMediaType(f"the body of the request was in an unknown format - accepted media "
                                       f"types include: {', '.join(accepted)}")
        operations = decode_json(body, "patch")
        retries = 4  # kube-apiserver retries a patch that lost a write race, unless it pins a resourceVersion
        while True:
            current = self._stored(request)
            patched = patches.apply_patch(content_type, self._present(request, current), operations)
            patched = self._incoming(request, patched)
            if patched["metadata"].get("name") != request.name:
                raise Invalid.field(request.group, request.rtype.kind, request.name, "metadata.name",
                                    "Invalid value: field is immutable")
            try:
                return self._write(request, patched, current)
            except Conflict:
                pinned = patched["metadata"].get("resourceVersion") != current["metadata"]["resourceVersion"]
                if pinned or not retries:
                    raise
                retries -= 1

    def delete(self, request):
        rtype = request.rtype
        deleted = self.store.delete(request.group, rtype.plural, request.namespace, request.name)
        is_builtin = self.registry.builtin(request.group, rtype.plural) is not None
        if deleted["metadata"].get("deletionTimestamp") or not is_builtin \
                or (request.group, rtype.plural) in _RETURNS_DELETED_OBJECT:
            return self._present(request, deleted)
        details = {"name": request.name, "kind": rtype.plural, "uid": deleted["metadata"]["uid"]}
        if request.group:
            details["group"] = request.group
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}

    def delete_collection(self, request):
        deleted = []
        for obj in self._select(request):
            meta = obj["metadata"]
            try:
                deleted.append(self.store.delete(request.group, request.rtype.plural,
                                                 meta.get("namespace"), meta["name"]))
            except ApiError as error:
                if error.code != 404:  # deleted meanwhile is fine
                    raise
        return self._list(request, deleted)


def route(registry, group, version, parts, query):
    """Resolve the path segments after /api/v1 or /apis/{g}/{v} to a Request,
    or raise NotServed (404) as kube-apiserver does for unknown paths."""
    namespace = None
    if len(parts) >= 3 and parts[0] == "namespaces" and not (len(parts) == 3 and parts[2] in ("status", "finalize")):
        namespace, parts = parts[1], parts[2:]
    if not parts or len(parts) > 3 or not all(parts):
        raise NotServed()
    rtype = registry.lookup(group, version, parts[0])
    if rtype is None or (namespace is not None and not rtype.namespaced):
        raise NotServed()
    subresource = parts[2] if len(parts) == 3 else None
    if subresource and subresource not in rtype.subresources:
        raise NotServed()
    return Request(group, version, rtype, namespace, parts[1] if len(parts) > 1 else None, subresource, query)
