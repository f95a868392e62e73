"""PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and
strategic merge patch (k8s.io/apimachinery strategicpatch).

The lab keeps no Go struct tags, so strategic merge knows the
patchStrategy/patchMergeKey of list fields by field name (the table below,
taken from the core/apps types); other lists are replaced, as strategic
merge does for lists without a strategy. It understands `$patch`
(replace/delete), `$retainKeys`, `$setElementOrder/<field>` and
`$deleteFromPrimitiveList/<field>`, which is what kubectl apply sends.
Errors map as in kube-apiserver (endpoints/handlers/patch.go): a body that
does not decode is 400 BadRequest, a JSON patch that decodes but does not
apply (a failed `test`, a missing path) is 422 Invalid.
"""
import copy

from .errors import BadRequest, Invalid

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
CONTENT_TYPES = (MERGE, STRATEGIC, JSON_PATCH)


def merge_patch(target, patch):
    """RFC 7386: objects merge recursively, null removes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# patchMergeKey of list fields with patchStrategy "merge", by field name.
_MERGE_KEYS = {"containers": "name", "initContainers": "name", "ephemeralContainers": "name", "env": "name",
               "volumes": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
               "imagePullSecrets": "name", "hostAliases": "ip", "topologySpreadConstraints": "topologyKey",
               "ownerReferences": "uid", "conditions": "type", "secrets": "name"}
# Lists of scalars with patchStrategy "merge" (a patch adds to them).
_MERGED_SCALAR_LISTS = {"finalizers"}
_ORDER, _DELETE_FROM = "$setElementOrder/", "$deleteFromPrimitiveList/"


def _merge_key(field, items):
    if field == "ports":  # container ports merge on containerPort, service ports on port
        return "containerPort" if any(isinstance(i, dict) and "containerPort" in i for i in items) else "port"
    return _MERGE_KEYS.get(field)


def strategic_merge_patch(original, patch):
    """Apply a strategic merge patch to a map; None if the patch deletes it."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    result = copy.deepcopy(original) if isinstance(original, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = strategic_merge_patch(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _merge_list(key, result.get(key), value)
        else:
            result[key] = copy.deepcopy(value)
    for key, value in patch.items():
        if key.startswith(_DELETE_FROM) and isinstance(result.get(key[len(_DELETE_FROM):]), list):
            field = key[len(_DELETE_FROM):]
            result[field] = [v for v in result[field] if v not in value]
        elif key.startswith(_ORDER) and isinstance(result.get(key[len(_ORDER):]), list):
            field = key[len(_ORDER):]
            result[field] = _ordered(field, result[field], value)
    if isinstance(patch.get("$retainKeys"), list):
        result = {k: v for k, v in result.items() if k in patch["$retainKeys"]}
    return result


def _merge_list(field, original, patch):
    original = original if isinstance(original, list) else []
    if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
        return [copy.deepcopy(i) for i in patch if not (isinstance(i, dict) and "$patch" in i)]
    if field in _MERGED_SCALAR_LISTS:
        return original + [copy.deepcopy(v) for v in patch if v not in original]
    key = _merge_key(field, original + patch)
    if key is None or not all(isinstance(i, dict) for i in patch):
        return copy.deepcopy(patch)
    result = copy.deepcopy(original)
    for item in patch:
        index = next((i for i, o in enumerate(result) if isinstance(o, dict) and o.get(key) == item.get(key)), None)
        if item.get("$patch") == "delete":
            if index is not None:
                del result[index]
        elif index is None:
            result.append(strategic_merge_patch({}, item))
        else:
            result[index] = strategic_merge_patch(result[index], item)
    return result


def _ordered(field, items, order):
    """Items in the order `$setElementOrder` gives; unlisted ones keep theirs, last."""
    key = _merge_key(field, items)
    identity = (lambda item: item.get(key) if isinstance(item, dict) else item) if key else (lambda item: item)
    position = {identity(o): i for i, o in enumerate(order)}
    return sorted(items, key=lambda item: position.get(identity(item), len(position)))


def _tokens(pointer):
    if pointer == "":
        return []
    if not isinstance(pointer, str) or not pointer.startswith("/"):
        raise BadRequest(f"invalid JSON pointer {pointer!r}: must be empty or start with '/'")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _index(container, token, pointer, allow_end=False):
    if allow_end and token == "-":
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise Invalid(f"invalid array index {token!r} in {pointer!r}")
    index = int(token)
    if index > len(container) or (index == len(container) and not allow_end):
        raise Invalid(f"array index {index} out of bounds in {pointer!r}")
    return index


def _parent(doc, pointer):
    """(container, last token) for a pointer; the container must exist."""
    tokens = _tokens(pointer)
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, pointer)]
        else:
            raise Invalid(f'doc is missing path: "{pointer}": missing value')
    return node, tokens[-1]


def _get(doc, pointer):
    if pointer == "":
        return doc
    container, token = _parent(doc, pointer)
    if isinstance(container, dict) and token in container:
        return container[token]
    if isinstance(container, list):
        return container[_index(container, token, pointer)]
    raise Invalid(f'doc is missing path: "{pointer}": missing value')


def _add(doc, pointer, value):
    if pointer == "":
        return value
    container, token = _parent(doc, pointer)
    if isinstance(container, dict):
        container[token] = value
    elif isinstance(container, list):
        container.insert(_index(container, token, pointer, allow_end=True), value)
    else:
        raise Invalid(f'add operation does not apply: doc is missing path: "{pointer}"')
    return doc


def _remove(doc, pointer):
    if pointer == "":
        raise Invalid("remove operation does not apply: cannot remove the whole document")
    container, token = _parent(doc, pointer)
    if isinstance(container, dict) and token in container:
        del container[token]
    elif isinstance(container, list):
        del container[_index(container, token, pointer)]
    else:
        raise Invalid(f'remove operation does not apply: doc is missing path: "{pointer}": missing value')
    return doc


def _operation(op, index):
    if not isinstance(op, dict) or "op" not in op:
        raise BadRequest(f"invalid JSON patch: operation {index} must be an object with an 'op'")
    name = op["op"]
    required = {"add": ("path", "value"), "replace": ("path", "value"), "test": ("path", "value"),
                "remove": ("path",), "move": ("from", "path"), "copy": ("from", "path")}
    if name not in required:
        raise BadRequest(f"invalid JSON patch: unknown operation {name!r} at index {index}")
    missing = [k for k in required[name] if k not in op]
    if missing:
        raise BadRequest(f"invalid JSON patch: {name} operation at index {index} is missing {missing[0]!r}")
    return name


def json_patch(doc, operations):
    """RFC 6902 on a deep copy of `doc`; returns the patched document."""
    if not isinstance(operations, list):
        raise BadRequest("invalid JSON patch: the body must be a JSON array of operations")
    names = [_operation(op, i) for i, op in enumerate(operations)]
    doc = copy.deepcopy(doc)
    for name, op in zip(names, operations):
        path = op["path"]
        if name == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif name == "remove":
            doc = _remove(doc, path)
        elif name == "replace":
            _get(doc, path)  # replace requires the target to exist
            doc = _add(_remove(doc, path), path, copy.deepcopy(op["value"])) if path else copy.deepcopy(op["value"])
        elif name == "test":
            if _get(doc, path) != op["value"]:
                raise Invalid(f"testing value {path} failed: test failed")
        elif name == "move":
            value = _get(doc, op["from"])
            doc = _add(_remove(doc, op["from"]), path, value)
        elif name == "copy":
            doc = _add(doc, path, copy.deepcopy(_get(doc, op["from"])))
    return doc


def apply_patch(content_type, doc, body):
    """Apply a decoded PATCH body of `content_type` to `doc`."""
    if content_type == JSON_PATCH:
        return json_patch(doc, body)
    if not isinstance(body, dict):
        raise BadRequest("invalid merge patch: the body must be a JSON object")
    if content_type == STRATEGIC:
        return strategic_merge_patch(doc, body) or {}
    return merge_patch(doc, body)
