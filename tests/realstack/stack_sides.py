"""The two sides of a differential test: a cluster with Velero reached
through its kubeconfig only (real Velero on the real stack, or a cluster of
the lab process that serves the stack's S3, made through its control API),
the bucket both write to, and the normalisation that leaves only what must
agree. Shared by tests/realstack/test_differential*.py.

Normalised, and nothing else: names with random parts (pod and ReplicaSet
suffixes, PV names, generated names), timestamps, UIDs, resourceVersions,
the node's name, kopia's content-addressed IDs, and the order of lists
that have none (the caller says which)."""
import gzip
import io
import json
import re
import tarfile
import time
import types
import urllib.request
import uuid

VELERO = ("velero.io", "v1", "velero")
RUN = uuid.uuid4().hex[:6]             # names are per run: an attached stack keeps earlier runs' objects
BUCKET = f"differential-{RUN}"
PAYLOAD = b"differential payload\n" * 4096
TIMEOUT = 240
UNFINISHED = (None, "", "New", "InProgress", "WaitingForPluginOperations",
              "WaitingForPluginOperationsPartiallyFailed", "Finalizing", "FinalizingPartiallyFailed")


def until(what, check, timeout=TIMEOUT, every=0.5, nudge=None):
    deadline = time.monotonic() + timeout
    last, nudged = None, time.monotonic()
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        if nudge and time.monotonic() - nudged > 2:
            nudge()
            nudged = time.monotonic()
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def control(url, method, path, body=None):
    request = urllib.request.Request(url + path, method=method, data=json.dumps(body).encode() if body else None,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"{}")


# -- normalising ------------------------------------------------------------------
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})")
STAMP = re.compile(r"-(20\d{12})\b")                          # a Schedule's backup name: <schedule>-<YYYYmmddHHMMSS>
GENERATED = [(re.compile(r"\bdb-<hash>-[a-z0-9]{5}\b"), "db-<hash>-<pod>"),        # the app's pod
             (re.compile(r"\b[0-9a-f]{32}\b"), "<id>")]                               # kopia's IDs
DROPPED_METADATA = ("resourceVersion", "managedFields")


def normalise(value, names=None):
    """A JSON value with the parts that must differ replaced; `names` maps
    side-specific strings (the node's name, a generated object name) to
    placeholders first."""
    if isinstance(value, dict):
        return {k: normalise(v, names) for k, v in value.items()
                if not (k in DROPPED_METADATA and isinstance(v, (str, list)))}
    if isinstance(value, list):
        return [normalise(v, names) for v in value]
    if not isinstance(value, str):
        return value
    for real, placeholder in sorted((names or {}).items(), key=lambda kv: -len(kv[0])):
        value = value.replace(real, placeholder)
    value = TIME.sub("<time>", UUID.sub("<uid>", value))
    value = STAMP.sub("-<stamp>", value)
    for pattern, replacement in GENERATED:
        value = pattern.sub(replacement, value)
    return value


def without_write_counts(obj):
    """A velero.io object without metadata.generation: its CRDs have no
    status subresource, so generation counts every write of the object,
    and Velero writes its objects more often than the lab does (README)."""
    obj = json.loads(json.dumps(obj))
    if isinstance(obj, list):
        return [without_write_counts(o) for o in obj]
    (obj.get("metadata") or {}).pop("generation", None)
    return obj


def unordered(value):
    """A list that has no order, as a sorted list of its normalised items."""
    return sorted(value, key=lambda item: json.dumps(item, sort_keys=True))


def setup_only(found, allowed):
    """The differences none of `allowed` ({path regex: why}) explains."""
    def where(difference):       # "[document: ]path" before ": lab ..." or ": only ..."
        return re.split(r": (?:lab |only )", difference, maxsplit=1)[0]
    return [d for d in found if not any(re.search(pattern, where(d)) for pattern in allowed)]


def differences(lab, real, where=""):
    """['path: lab X, real Y'] of two normalised JSON values."""
    if isinstance(lab, dict) and isinstance(real, dict):
        found = []
        for key in sorted(set(lab) | set(real)):
            if key not in lab:
                found.append(f"{where}.{key}: only real has it: {json.dumps(real[key])[:200]}")
            elif key not in real:
                found.append(f"{where}.{key}: only the lab has it: {json.dumps(lab[key])[:200]}")
            else:
                found += differences(lab[key], real[key], f"{where}.{key}")
        return found
    if isinstance(lab, list) and isinstance(real, list) and len(lab) == len(real):
        return [d for i, (a, b) in enumerate(zip(lab, real)) for d in differences(a, b, f"{where}[{i}]")]
    return [] if lab == real else [f"{where}: lab {json.dumps(lab)[:200]}, real {json.dumps(real)[:200]}"]


# -- one side -----------------------------------------------------------------------
class Side:
    """One cluster with Velero, reached through its kubeconfig only; volume
    data goes in and out through the app's pod (pods/exec), as an app's."""

    def __init__(self, kind, entry, s3, bucket, control_url=None):
        from kubernetes import client, config
        from runner.driver.clusters import ClusterClient
        self.kind, self.s3, self.bucket, self.control_url = kind, s3, bucket, control_url
        self.entry = entry
        api = config.new_client_from_config(entry["kubeconfig"], context=entry.get("context"))
        self.core, self.apps, self.custom = client.CoreV1Api(api), client.AppsV1Api(api), client.CustomObjectsApi(api)
        self.client = ClusterClient(types.SimpleNamespace(name=f"{kind}-{entry.get('context')}",
                                                          kubeconfig=entry["kubeconfig"], context=entry.get("context")))

    @property
    def lab(self):
        return self.control_url is not None

    def nudge(self, seconds=61):
        """The lab's Velero works on its virtual clock: move it (a sync period by default)."""
        if self.control_url:
            control(self.control_url, "POST", "/clock/advance", {"seconds": seconds})

    def names(self):
        """Side-specific strings and their placeholders: the node (as the
        pods and PodVolumeBackups name it: the lab serves no Node objects)."""
        nodes = {p.spec.node_name for p in self.core.list_pod_for_all_namespaces().items if p.spec.node_name}
        nodes |= {b["spec"].get("node") for b in self.list("podvolumebackups") if b["spec"].get("node")}
        names = {node: "<node>" for node in nodes}
        # a ReplicaSet's pod-template-hash: a hash each side computes its own way (names end in it)
        for rs in self.apps.list_replica_set_for_all_namespaces().items:
            template_hash = (rs.metadata.labels or {}).get("pod-template-hash")
            if template_hash:
                names[template_hash] = "<hash>"
        return names

    # velero objects
    def velero(self, plural, name):
        try:
            return self.custom.get_namespaced_custom_object(*VELERO, plural, name)
        except Exception:       # not there (yet)
            return None

    def list(self, plural, selector=""):
        return self.custom.list_namespaced_custom_object(*VELERO, plural, label_selector=selector)["items"]

    def create(self, plural, kind, name, spec, labels=None):
        self.custom.create_namespaced_custom_object(*VELERO, plural, {
            "apiVersion": "velero.io/v1", "kind": kind,
            "metadata": {"name": name, "namespace": "velero", "labels": labels or {}}, "spec": spec})

    def delete(self, plural, name):
        try:
            self.custom.delete_namespaced_custom_object(*VELERO, plural, name)
        except Exception:
            pass

    def finished(self, plural, name, timeout=TIMEOUT):
        def done():
            obj = self.velero(plural, name)
            return obj if ((obj or {}).get("status") or {}).get("phase") not in UNFINISHED else None
        return until(f"{self.kind} {plural} {name} to finish", done, timeout)

    def backup(self, name, spec, labels=None):
        self.create("backups", "Backup", name, spec, labels)
        return self.finished("backups", name)

    def restore(self, name, spec):
        self.create("restores", "Restore", name, spec)
        return self.finished("restores", name)

    def location(self, name, prefix):
        cloud = f"[default]\naws_access_key_id={self.s3['access_key']}\naws_secret_access_key={self.s3['secret_key']}\n"
        self.core.create_namespaced_secret("velero", {"metadata": {"name": f"{name}-credentials"},
                                                      "stringData": {"cloud": cloud}})
        self.create("backupstoragelocations", "BackupStorageLocation", name, {
            "provider": "aws", "objectStorage": {"bucket": BUCKET, "prefix": prefix},
            "credential": {"name": f"{name}-credentials", "key": "cloud"},
            "config": {"region": self.s3["region"], "s3ForcePathStyle": "true", "s3Url": self.s3["endpoint"],
                       "checksumAlgorithm": ""}})
        until(f"{self.kind} location {name} Available",
              lambda: ((self.velero("backupstoragelocations", name) or {}).get("status") or {}).get("phase")
              == "Available", nudge=self.nudge)

    def synced(self, name):
        return until(f"{self.kind} backup {name} synced with its PodVolumeBackups", lambda: (
            (self.velero("backups", name) or {}).get("status", {}).get("phase") and
            self.list("podvolumebackups", f"velero.io/backup-name={name}")), nudge=self.nudge)

    # the application
    def app(self, ns):
        """A namespace as the strategy's apps look: config, secret, service
        account, a claim and a Deployment whose volume goes to fs backup,
        with PAYLOAD written into the volume through the pod."""
        self.core.create_namespace({"metadata": {"name": ns, "labels": {"team": "diff"}}})
        self.core.create_namespaced_config_map(ns, {"metadata": {"name": "settings", "labels": {"app": "diff"}},
                                                    "data": {"mode": "fast"}})
        self.core.create_namespaced_config_map(ns, {"metadata": {"name": "db-settings",
                                                                 "labels": {"app": "diff", "tier": "db"}},
                                                    "data": {"pool": "8"}})
        self.core.create_namespaced_secret(ns, {"metadata": {"name": "token", "labels": {"app": "diff"}},
                                                "stringData": {"token": "not-a-real-secret"}})
        self.core.create_namespaced_service_account(ns, {"metadata": {"name": "worker", "labels": {"app": "diff"}}})
        self.core.create_namespaced_persistent_volume_claim(ns, {
            "metadata": {"name": "data", "labels": {"app": "diff"}},
            "spec": {"storageClassName": "openebs-hostpath", "accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": "1Gi"}}}})
        until(f"{self.kind} default service account in {ns}",
              lambda: any(sa.metadata.name == "default" for sa in self.core.list_namespaced_service_account(ns).items))
        self.apps.create_namespaced_deployment(ns, {
            "metadata": {"name": "db", "labels": {"app": "diff"}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "diff"}},
                     "template": {"metadata": {"labels": {"app": "diff"},
                                               "annotations": {"backup.velero.io/backup-volumes": "data"}},
                                  "spec": {"serviceAccountName": "worker",
                                           "containers": [{"name": "db", "image": "busybox:1.35",
                                                           "command": ["sleep", "86400"],
                                                           "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
                                           "volumes": [{"name": "data",
                                                        "persistentVolumeClaim": {"claimName": "data"}}]}}}})
        pod = self.running_pod(ns)
        script = ("i=0; while [ $i -lt 4096 ]; do echo differential payload; i=$((i+1)); done > /data/payload.bin")
        rc, _, err = self.client.exec(ns, pod, ["sh", "-c", script])
        assert rc == 0, f"{self.kind}: writing the payload failed: {err}"
        assert self.payload(ns) == PAYLOAD

    def running_pod(self, ns):
        pods = until(f"{self.kind} pod of db in {ns} Running", lambda: [
            p for p in self.core.list_namespaced_pod(ns, label_selector="app=diff").items
            if p.status.phase == "Running" and not p.metadata.deletion_timestamp])
        return pods[0].metadata.name

    def payload(self, ns):
        """The volume's payload.bin as the app's pod reads it."""
        rc, out, err = self.client.exec(ns, self.running_pod(ns), ["cat", "/data/payload.bin"], binary=True)
        assert rc == 0, f"{self.kind}: reading the payload failed: {err}"
        return out

    # what the side wrote to the bucket
    def get(self, key):
        return self.bucket.get_object(Bucket=BUCKET, Key=key)["Body"].read()

    def keys(self, prefix):
        pages = self.bucket.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    def gz_json(self, key):
        return json.loads(gzip.decompress(self.get(key)))

    def tarball(self, key):
        with tarfile.open(fileobj=io.BytesIO(self.get(key)), mode="r:gz") as tar:
            return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}
