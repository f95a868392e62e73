"""What a cluster's Velero says of itself, read through the API the way an
operator would: the server's version and plugins (a ServerStatusRequest,
as `velero version` and `velero plugin get` ask), its garbage-collection
frequency (the server's arguments, where the Deployment shows them),
node-agent's readiness (its DaemonSet) and the StorageClasses engines need.

    client(info, velero_namespace, prefix="dmaas-", retries=None) -> ClusterClient   # labels its own requests
    server_status(client, prefix) -> {"serverVersion", "plugins"}
    gc_frequency(client) -> seconds | None
    node_agent_problem(client) -> str | None
    storage_class_problem(client, engine) -> str | None
"""
from __future__ import annotations

import re
import uuid

from runner.driver.clusters import ClusterClient
from runner.driver.reachability import CONNECT_TIMEOUT
from runner.driver.isolation import Isolation

GC_FLAG = "--garbage-collection-frequency"
# Go's time.Duration as flags take it: "1h", "1h0m0s", "90s", "1.5m"
_GO_PART = re.compile(r"(\d+(?:\.\d*)?)(ns|us|µs|ms|s|m|h)")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def client(info, velero_namespace, prefix="dmaas-", retries=None):
    ident = uuid.uuid4().hex[:8]
    return ClusterClient(info, velero_namespace=velero_namespace, retries=retries,
                         isolation=Isolation(run=f"inspect-{ident}", scenario=ident, prefix=f"{prefix}{ident}-"))


def server_status(cluster):
    """The Velero server's own account of itself."""
    return cluster.velero.server_status(cluster.isolation.name("status"))


def go_seconds(text):
    """A Go duration (`1h0m0s`, `90s`) in seconds, or None when it is not one."""
    text = str(text or "").strip()
    parts = _GO_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(number) * _GO_UNITS[unit] for number, unit in parts)


def gc_frequency(cluster):
    """Seconds between Velero's garbage-collection passes as its server's
    arguments say (None when the Deployment is not readable or does not say)."""
    try:
        deployment = cluster.apps.read_namespaced_deployment("velero", cluster.velero_namespace,
                                                             _request_timeout=CONNECT_TIMEOUT)
    except Exception:   # not visible to these credentials, unreachable, or Velero runs elsewhere
        return None
    for container in deployment.spec.template.spec.containers or []:
        words = list(container.command or []) + list(container.args or [])
        for i, word in enumerate(words):
            if word == GC_FLAG and i + 1 < len(words):
                return go_seconds(words[i + 1])
            if word.startswith(GC_FLAG + "="):
                return go_seconds(word.split("=", 1)[1])
    return None


def node_agent_problem(cluster):
    """Why Velero's node-agent cannot back up pod volumes here, or None."""
    from kubernetes.client.exceptions import ApiException
    try:
        daemonset = cluster.apps.read_namespaced_daemon_set("node-agent", cluster.velero_namespace)
    except ApiException as error:
        if error.status == 404:
            return (f"no node-agent DaemonSet in namespace {cluster.velero_namespace} (file-system backup needs "
                    f"it: `velero install --use-node-agent`; Velero's Helm chart leaves it off)")
        raise
    status = daemonset.status
    desired, ready = status.desired_number_scheduled or 0, status.number_ready or 0
    if desired == 0 or ready < desired:
        return f"node-agent is not ready ({ready} of {desired} pods ready)"
    return None


def storage_class_problem(cluster, engine):
    """Why the engine's StorageClass is not usable here, or None."""
    found = cluster.get("storage.k8s.io/v1", "StorageClass", engine.storage_class)
    if found is None:
        return f"no StorageClass {engine.storage_class} (engine {engine.name}: install {engine.title})"
    if found.get("provisioner") != engine.provisioner:
        return (f"StorageClass {engine.storage_class} has provisioner {found.get('provisioner')}, engine "
                f"{engine.name} needs {engine.provisioner}")
    return None
