"""The lab's Kubernetes API server: one per lab cluster.

Public API. `ResourceRegistry(k8s_version)` knows the resource types served
at a Kubernetes version (`lookup(group, version, plural)`, `served()`,
`by_kind(group, kind)`, `groups()`; `ResourceType(group, versions, plural,
singular, kind, namespaced, short_names, subresources)`, versions[0]
preferred) and follows CustomResourceDefinitions stored in a store it
`watch()`es. `ObjectStore(clock)` holds the cluster's objects with
Kubernetes write semantics (`get`, `list` with label/field selectors,
`create`, `update`, `update_status`, `delete`, `purge`,
`resource_version`, `add_listener`); it raises `errors.ApiError`
subclasses (NotFound, AlreadyExists, Conflict, Invalid, BadRequest,
Forbidden, MethodNotAllowed, NotServed, UnsupportedMediaType) that become
Kubernetes `Status` bodies. `ApiServer(name, store, registry,
exec_handler=None, faults=None, host="127.0.0.1", port=0)` serves them over
HTTP (`start() -> url`, `.url`, `stop()`): discovery, CRUD, list with
selectors, merge / strategic merge / JSON patch, the status subresource,
Tables for kubectl, and pods/exec over a websocket, which calls
`exec_handler(namespace, pod, container, argv, stdin=None) -> (exit_code,
stdout_bytes, stderr_bytes)` before upgrading. `faults` is a
`lab.faults.Faults` (`is_cut()`, `wait()`).
`write_kubeconfig(path, server_url, context)` writes a kubeconfig for it.
"""
from .errors import (AlreadyExists, ApiError, BadRequest, Conflict, Forbidden, Invalid, MethodNotAllowed,
                     NotFound, NotServed, UnsupportedMediaType)
from .kubeconfig import write_kubeconfig
from .registry import ResourceRegistry, ResourceType
from .server import ApiServer
from .store import ObjectStore

__all__ = ["AlreadyExists", "ApiError", "ApiServer", "BadRequest", "Conflict", "Forbidden", "Invalid",
           "MethodNotAllowed", "NotFound", "NotServed", "ObjectStore", "ResourceRegistry", "ResourceType",
           "UnsupportedMediaType", "write_kubeconfig"]
