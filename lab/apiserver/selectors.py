"""Label and field selectors, parsed as kube-apiserver parses them.

Label selectors (k8s.io/apimachinery/pkg/labels): `k=v`, `k==v`, `k!=v`,
`k in (a,b)`, `k notin (a,b)`, `k`, `!k`, joined by commas (AND). `!=` and
`notin` also match objects without the key. The object form of a selector
(`matchLabels` / `matchExpressions`, as in a Deployment's spec.selector) is
accepted too. Field selectors: `field=v`, `field==v`, `field!=v` on
metadata.name, metadata.namespace and the few per-resource fields
Kubernetes registers. Malformed input raises BadRequest (400).
"""
import re

from .errors import BadRequest

_PREFIX = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/"
_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
_KEY = rf"(?:{_PREFIX})?{_NAME}"
_VALUE = rf"(?:{_NAME})?"

_EXISTS = re.compile(rf"^\s*(?P<not>!?)\s*(?P<key>{_KEY})\s*$")
_EQUALITY = re.compile(rf"^\s*(?P<key>{_KEY})\s*(?P<op>==|=|!=)\s*(?P<value>{_VALUE})\s*$")
_SET = re.compile(rf"^\s*(?P<key>{_KEY})\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)\s*$")
_VALUE_ONLY = re.compile(rf"^{_VALUE}$")

# Fields kube-apiserver registers beyond metadata.name / metadata.namespace
# (pkg/registry/*/strategy.go ...FieldsSet), keyed by (group, plural).
_EXTRA_FIELDS = {
    ("", "pods"): {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
                   "spec.serviceAccountName", "status.phase", "status.podIP", "status.nominatedNodeName"},
    ("", "namespaces"): {"status.phase"},
    ("", "secrets"): {"type"},
    ("", "events"): {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                     "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
                     "involvedObject.fieldPath", "reason", "source", "type"},
    ("", "persistentvolumeclaims"): {"spec.volumeName"},
    ("", "persistentvolumes"): {"spec.claimRef.name", "spec.claimRef.namespace"},
    ("apps", "replicasets"): {"status.replicas"},
    ("batch", "jobs"): {"status.successful"},
}


def _split_top_level(text):
    """Split on commas that are not inside parentheses."""
    parts, depth, current = [], 0, []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise BadRequest(f"unable to parse requirement: unbalanced ')' in selector {text!r}")
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if depth:
        raise BadRequest(f"unable to parse requirement: unbalanced '(' in selector {text!r}")
    parts.append("".join(current))
    return parts


def _requirement(text):
    """One label requirement -> predicate over a labels dict."""
    match = _SET.match(text)
    if match:
        values = {v.strip() for v in match["values"].split(",")}
        if any(not _VALUE_ONLY.match(v) for v in values):
            raise BadRequest(f"unable to parse requirement: invalid value in {text.strip()!r}")
        key = match["key"]
        if match["op"] == "in":
            return lambda labels: key in labels and labels[key] in values
        return lambda labels: key not in labels or labels[key] not in values
    match = _EQUALITY.match(text)
    if match:
        key, value = match["key"], match["value"]
        if match["op"] == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    match = _EXISTS.match(text)
    if match:
        key = match["key"]
        if match["not"]:
            return lambda labels: key not in labels
        return lambda labels: key in labels
    raise BadRequest(f"unable to parse requirement: invalid label selector {text.strip()!r}")


def _expression(expr):
    """One matchExpressions entry -> predicate over a labels dict."""
    key, operator, values = expr.get("key"), expr.get("operator"), set(expr.get("values") or [])
    if operator == "In":
        return lambda labels: key in labels and labels[key] in values
    if operator == "NotIn":
        return lambda labels: key not in labels or labels[key] not in values
    if operator == "Exists":
        return lambda labels: key in labels
    if operator == "DoesNotExist":
        return lambda labels: key not in labels
    raise BadRequest(f"{operator!r} is not a valid label selector operator")


def label_matcher(selector):
    """Predicate over a labels dict for a selector string, a LabelSelector
    object, or None (matches everything)."""
    if selector is None:
        return lambda labels: True
    if isinstance(selector, dict):
        checks = [(lambda labels, k=k, v=v: labels.get(k) == v)
                  for k, v in (selector.get("matchLabels") or {}).items()]
        checks += [_expression(e) for e in selector.get("matchExpressions") or []]
    elif isinstance(selector, str):
        checks = [] if not selector.strip() else [_requirement(p) for p in _split_top_level(selector)]
    else:
        raise BadRequest(f"label selector must be a string or a LabelSelector object, not {type(selector).__name__}")
    return lambda labels: all(check(labels or {}) for check in checks)


def _field_value(obj, path):
    value = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return ""
    return str(value).lower() if isinstance(value, bool) else str(value)


def field_matcher(selector, group, plural):
    """Predicate over an object for a field selector string (None matches all)."""
    if selector is None or not selector.strip():
        return lambda obj: True
    supported = {"metadata.name", "metadata.namespace"} | _EXTRA_FIELDS.get((group, plural), set())
    checks = []
    for term in selector.split(","):
        match = re.match(r"^\s*([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*?)\s*$", term)
        if not match:
            raise BadRequest(f"invalid field selector: {term.strip()!r}: expected field=value or field!=value")
        field, op, value = match.groups()
        if field not in supported:
            raise BadRequest(f'field label not supported: {field}')
        if op == "!=":
            checks.append(lambda obj, f=field, v=value: _field_value(obj, f) != v)
        else:
            checks.append(lambda obj, f=field, v=value: _field_value(obj, f) == v)
    return lambda obj: all(check(obj) for check in checks)
