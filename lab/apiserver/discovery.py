"""Discovery documents: /version, /api, /apis, /apis/{group}, and the
APIResourceList of each served group/version, as kube-apiserver returns
them (legacy, non-aggregated discovery; clients fall back to it)."""

# What each subresource of ours answers to; the main resource answers to
# everything except watch (the lab API server does not stream watches).
_RESOURCE_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update"]
_SUBRESOURCE_VERBS = {"status": ["get", "patch", "update"], "exec": ["create", "get"], "finalize": ["update"]}
_SUBRESOURCE_KINDS = {"exec": "PodExecOptions"}


def _group_version(group, version):
    return f"{group}/{version}" if group else version


def version_info(registry):
    major, minor = registry.release
    return {"major": str(major), "minor": str(minor), "gitVersion": f"v{registry.k8s_version}",
            "gitCommit": "lab", "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
            "goVersion": "go1.22", "compiler": "gc", "platform": "linux/amd64"}


def openapi_v2(registry):
    """A valid OpenAPI v2 document without definitions: kubectl's client-side
    validation skips kinds it has no schema for (the lab keeps no schemas)."""
    return {"swagger": "2.0", "info": {"title": "Kubernetes", "version": f"v{registry.k8s_version}"},
            "paths": {}, "definitions": {}}


OPENAPI_V2_PROTOBUF = "application/octet-stream"  # what kube-openapi answers a protobuf Accept with


def _proto_field(number, payload):
    """A length-delimited protobuf field (wire type 2)."""
    length, varint = len(payload), bytearray()
    while True:
        byte, length = length & 0x7F, length >> 7
        varint.append(byte | (0x80 if length else 0))
        if not length:
            break
    return bytes([number << 3 | 2]) + bytes(varint) + payload


def openapi_v2_protobuf(registry):
    """openapi_v2(registry) as the gnostic protobuf client-go asks for:
    Document{swagger=1, info=2{title=1, version=2}, paths=8, definitions=9}."""
    doc = openapi_v2(registry)
    info = _proto_field(1, doc["info"]["title"].encode()) + _proto_field(2, doc["info"]["version"].encode())
    return _proto_field(1, b"2.0") + _proto_field(2, info) + _proto_field(8, b"") + _proto_field(9, b"")


def api_versions(server_address):
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def _api_group(group, versions):
    listed = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": listed, "preferredVersion": listed[0]}


def group_list(registry):
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_api_group(g, v) for g, v in registry.groups() if g]}


def api_group(registry, group):
    """The APIGroup document, or None if the group is not served."""
    versions = dict(registry.groups()).get(group)
    if not group or not versions:
        return None
    return dict(_api_group(group, versions), kind="APIGroup", apiVersion="v1")


def resource_list(registry, group, version):
    """The APIResourceList of group/version, or None if it serves nothing."""
    resources = []
    for rtype in registry.served():
        if rtype.group != group or version not in rtype.versions:
            continue
        entry = {"name": rtype.plural, "singularName": rtype.singular, "namespaced": rtype.namespaced,
                 "kind": rtype.kind, "verbs": _RESOURCE_VERBS}
        if rtype.short_names:
            entry["shortNames"] = list(rtype.short_names)
        resources.append(entry)
        for sub in rtype.subresources:
            resources.append({"name": f"{rtype.plural}/{sub}", "singularName": "",
                              "namespaced": rtype.namespaced, "kind": _SUBRESOURCE_KINDS.get(sub, rtype.kind),
                              "verbs": _SUBRESOURCE_VERBS[sub]})
    if not resources:
        return None
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": _group_version(group, version), "resources": resources}
