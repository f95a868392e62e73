"""One Kubernetes cluster through the official client and a kubeconfig context.

    ClusterClient(info: ClusterInfo, tracker=None, velero_namespace="velero", cache_dir=None, isolation=None,
                  retries=None)
    .name, .info, .api (ApiClient), .core (CoreV1Api), .apps (AppsV1Api),
    .custom (CustomObjectsApi), .dynamic (DynamicClient, discovery cached per client)
    .version() -> "1.29.4"                     # the server's release (vendor suffixes dropped: runner.versions)
    .reachable(timeout=3) -> bool
    .apply(manifest: dict) -> dict             # create (with the scenario's labels), or replace the scenario's
                                               # own; tracks what it created; Clash on another's object
    .newest_kind_created -> datetime | None    # creationTimestamp of the newest CRD apply created
    .get(api_version, kind, name, namespace=None) -> dict | None
    .list(api_version, kind, namespace=None, label_selector=None) -> [dict]
    .delete(api_version, kind, name, namespace=None) -> bool   # False if it was not there
    .ensure_namespace(name) -> dict            # the scenario's own namespace (Clash on another's)
    .wait_for(what: str, predicate, timeout="cluster_wait", interval=0.2) -> the predicate's truthy value
    .exec(namespace, pod, argv, container=None, timeout="exec", binary=False) -> (rc, stdout, stderr)
    .served() -> [ServedResource(group_version, kind, plural, namespaced, verbs)]
    .serves(api_version, kind) -> bool
    .velero -> VeleroClient (runner/driver/velero.py)

Objects are plain dicts as the API returns them. Errors other than "not
found" raise kubernetes.client.exceptions.ApiException (or
dynamic.exceptions.*), which say what the server said.
"""
import collections
import json
import os
import re
import shutil
import tempfile
import time
import uuid
import weakref

import kubernetes
from kubernetes import client as k8s
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import NotFoundError, ConflictError, ResourceNotFoundError
from kubernetes.stream import stream

from runner import versions
from runner.driver import timeouts
from runner.driver.isolation import Isolation
from runner.driver.waits import WaitTimeout, wait_until
from runner.times import parse_time

_STDOUT, _STDERR, _STATUS = 1, 2, 3      # channels of the v4.channel.k8s.io exec protocol

ServedResource = collections.namedtuple("ServedResource", "group_version kind plural namespaced verbs")


class ExecFailed(RuntimeError):
    """A pod exec whose command never ran; the message says why, in one line."""


class ClusterClient:
    def __init__(self, info, tracker=None, velero_namespace="velero", cache_dir=None, isolation=None, retries=None):
        self.info = info
        self.isolation = isolation or Isolation(run="run", scenario="scenario")
        self.name = info.name
        self.velero_namespace = velero_namespace
        self._tracker = tracker or (lambda *args: None)
        if cache_dir is None:           # a client of its own (an inspection): its cache goes with it
            cache_dir = tempfile.mkdtemp(prefix="dmaas-discovery-")
            weakref.finalize(self, shutil.rmtree, cache_dir, True)
        self._cache_dir = cache_dir
        configuration = k8s.Configuration()
        kubernetes.config.load_kube_config(config_file=info.kubeconfig, context=info.context,
                                           client_configuration=configuration)
        if retries is not None:
            configuration.retries = retries      # 0: one try (a preflight, where urllib3 would log each retry)
        self.api = k8s.ApiClient(configuration)
        self.core = k8s.CoreV1Api(self.api)
        self.apps = k8s.AppsV1Api(self.api)
        self.custom = k8s.CustomObjectsApi(self.api)
        self._dynamic = None
        self._velero = None
        self.newest_kind_created = None

    def __repr__(self):
        return f"<cluster {self.name} ({self.info.context})>"

    @property
    def dynamic(self):
        if self._dynamic is None:
            # A discovery cache file of our own: the lab reuses ports across
            # runs, and the client's default cache is keyed by host:port.
            cache = os.path.join(self._cache_dir, f"discovery-{self.name}-{uuid.uuid4().hex[:8]}.json")
            self._dynamic = DynamicClient(self.api, cache_file=cache)
        return self._dynamic

    def refresh_discovery(self):
        """After CRDs change, so new kinds resolve."""
        if self._dynamic is not None:
            self._dynamic.resources.invalidate_cache()

    @property
    def velero(self):
        if self._velero is None:
            from runner.driver.velero import VeleroClient
            self._velero = VeleroClient(self, self.velero_namespace, self._tracker)
        return self._velero

    # ------------------------------------------------------------- basics

    def version(self):
        return versions.normalize(k8s.VersionApi(self.api).get_code().git_version)

    def reachable(self, timeout=3):
        try:
            k8s.VersionApi(self.api).get_code(_request_timeout=timeout)
            return True
        except Exception:   # refused, reset, timed out, 5xx: all mean "not reachable"
            return False

    def resource(self, api_version, kind):
        try:
            return self.dynamic.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError:
            self.refresh_discovery()
            return self.dynamic.resources.get(api_version=api_version, kind=kind)

    def served(self):
        found = []
        for resource in self.dynamic.resources.search():
            name, kind = getattr(resource, "name", None), getattr(resource, "kind", None)
            if not name or "/" in name or not kind or kind.endswith("List"):
                continue   # subresources and the client's synthetic *List entries
            found.append(ServedResource(resource.group_version, resource.kind, resource.name,
                                        resource.namespaced, tuple(resource.verbs or ())))
        return found

    def serves(self, api_version, kind):
        try:
            self.resource(api_version, kind)
            return True
        except ResourceNotFoundError:
            return False

    # ------------------------------------------------------------- objects

    def apply(self, manifest):
        """Create the object with the scenario's labels, or replace it when it
        exists and is the scenario's own (keeping its resourceVersion); an
        object of that name the scenario did not make is a Clash. What this
        creates is tracked for cleanup."""
        resource = self.resource(manifest["apiVersion"], manifest["kind"])
        metadata = self.isolation.stamp(manifest.get("metadata"))
        manifest = dict(manifest, metadata=metadata)
        namespace = metadata.get("namespace") if resource.namespaced else None
        try:
            created = resource.create(body=manifest, namespace=namespace).to_dict()
            self._tracker(manifest["apiVersion"], manifest["kind"], self.name, namespace, metadata["name"])
            if manifest["kind"] == "CustomResourceDefinition":
                self.refresh_discovery()
                self.newest_kind_created = parse_time(created["metadata"]["creationTimestamp"])
            return created
        except ConflictError:
            current = resource.get(name=metadata["name"], namespace=namespace).to_dict()
            self.isolation.check_own(self.name, current, _what(manifest["kind"], metadata["name"], namespace))
            body = dict(manifest, metadata=dict(metadata, resourceVersion=current["metadata"]["resourceVersion"]))
            return resource.replace(body=body, namespace=namespace).to_dict()

    def ensure_namespace(self, name):
        existing = self.get("v1", "Namespace", name)
        if existing:
            self.isolation.check_own(self.name, existing, f"Namespace {name}")
        if existing and not (existing.get("metadata") or {}).get("deletionTimestamp"):
            return existing
        if existing:   # terminating: wait for it to go before creating it anew
            self.wait_for(f"namespace {name} to finish terminating",
                          lambda: self.get("v1", "Namespace", name) is None, timeout="namespace_gone")
        return self.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    def get(self, api_version, kind, name, namespace=None):
        resource = self.resource(api_version, kind)
        try:
            return resource.get(name=name, namespace=namespace if resource.namespaced else None).to_dict()
        except NotFoundError:
            return None

    def list(self, api_version, kind, namespace=None, label_selector=None, field_selector=None):
        resource = self.resource(api_version, kind)
        kwargs = {}
        if label_selector:
            kwargs["label_selector"] = label_selector
        if field_selector:
            kwargs["field_selector"] = field_selector
        result = resource.get(namespace=namespace if resource.namespaced else None, **kwargs).to_dict()
        items = result.get("items") or []
        for item in items:   # list items carry no apiVersion/kind on the wire
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
        return items

    def delete(self, api_version, kind, name, namespace=None):
        resource = self.resource(api_version, kind)
        try:
            resource.delete(name=name, namespace=namespace if resource.namespaced else None)
            return True
        except NotFoundError:
            return False

    def wait_for(self, what, predicate, timeout="cluster_wait", interval=0.2):
        return wait_until(f"{what} on cluster {self.name}", predicate, timeout, interval)

    # ------------------------------------------------------------- pods

    def _exit_code(self, status_text, namespace, pod):
        """The command's exit code from the exec protocol's status channel (a
        metav1.Status); ExecFailed when the command never ran (the API server
        could not reach the node, the container is gone...)."""
        try:
            status = json.loads(status_text) if status_text else {"status": "Success"}
        except ValueError:
            status = {"message": status_text}
        if status.get("status") == "Success":
            return 0
        if status.get("reason") == "NonZeroExitCode":
            for cause in (status.get("details") or {}).get("causes") or []:
                if cause.get("reason") == "ExitCode":
                    return int(cause.get("message", 1))
        message = re.sub(r"\?command=[^\s\"]*", "?command=...", " ".join(str(status.get("message", "")).split()))
        raise ExecFailed(f"exec in pod {namespace}/{pod} on cluster {self.name} did not run: "
                         f"{message[:300] or 'no reason given'}")

    def exec(self, namespace, pod, argv, container=None, timeout="exec", binary=False):
        """Run argv in a pod (pods/exec over the websocket, as kubectl does).
        stdout/stderr are str unless binary=True."""
        kwargs = {"command": list(argv), "stderr": True, "stdin": False, "stdout": True, "tty": False,
                  "_preload_content": False, "binary": True}
        if container:
            kwargs["container"] = container
        response = stream(self.core.connect_get_namespaced_pod_exec, pod, namespace, **kwargs)
        stdout, stderr = bytearray(), bytearray()
        limit = timeout
        deadline = time.monotonic() + timeouts.seconds(limit)
        try:
            while response.is_open():
                if time.monotonic() > deadline:
                    raise WaitTimeout(f"timed out after {timeouts.seconds(limit):g} s waiting for `{' '.join(argv)}` "
                                      f"in pod {namespace}/{pod} on cluster {self.name}{timeouts.label(limit)}")
                response.update(timeout=1)
                stdout += response.read_channel(_STDOUT)
                stderr += response.read_channel(_STDERR)
            stdout += response.read_channel(_STDOUT)
            stderr += response.read_channel(_STDERR)
            rc = self._exit_code(response.read_channel(_STATUS), namespace, pod)
        finally:
            response.close()
        if binary:
            return rc, bytes(stdout), bytes(stderr)
        return rc, stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace")


def _what(kind, name, namespace=None):
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"
