"""The two sides of a differential test: one cluster with Velero, reached
through its kubeconfig only (real Velero on the real stack, or a cluster of
the lab process that serves the stack's S3, created through its control
API), plus the bucket both write to. Shared by tests/realstack/test_differential*.py."""
import json
import time
import urllib.request
import uuid
from pathlib import Path

VELERO = ("velero.io", "v1", "velero")
RUN = uuid.uuid4().hex[:6]             # names are per run: an attached stack keeps earlier runs' objects
BUCKET = f"differential-{RUN}"
PAYLOAD = b"differential payload\n" * 4096
TIMEOUT = 240
TERMINAL = ("Completed", "PartiallyFailed", "Failed", "FailedValidation")


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


class Side:
    """One cluster with Velero, reached through its kubeconfig only (plus
    its node's volume directories, where the test writes data as an app
    would)."""

    def __init__(self, kind, entry, s3, control=None):
        from kubernetes import client, config
        api = config.new_client_from_config(entry["kubeconfig"], context=entry.get("context"))
        self.kind, self.s3, self.control = kind, s3, control
        self.core, self.apps, self.custom = client.CoreV1Api(api), client.AppsV1Api(api), client.CustomObjectsApi(api)
        volumes = Path(entry["node_dir"])
        self.volumes = volumes / "volumes" if kind == "lab" else volumes

    def nudge(self):
        """The lab's Velero syncs on its virtual clock: move it a sync period."""
        if self.control:
            control(self.control, "POST", "/clock/advance", {"seconds": 61})

    def velero(self, plural, name):
        try:
            return self.custom.get_namespaced_custom_object(*VELERO, plural, name)
        except Exception:       # not there (yet)
            return None

    def create(self, plural, kind, name, spec, labels=None):
        self.custom.create_namespaced_custom_object(*VELERO, plural, {
            "apiVersion": "velero.io/v1", "kind": kind,
            "metadata": {"name": name, "namespace": "velero", "labels": labels or {}}, "spec": spec})

    def finished(self, plural, name, timeout=TIMEOUT):
        def done():
            obj = self.velero(plural, name)
            phase = ((obj or {}).get("status") or {}).get("phase")
            return obj if phase not in (None, "", "New", "InProgress", "WaitingForPluginOperations",
                                        "Finalizing") else None
        return until(f"{self.kind} {plural} {name} to finish", done, timeout)

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

    def app(self, ns):
        """A namespace as the strategy's apps look: config, secret, service
        account, a claim and a Deployment whose volume goes to fs backup."""
        self.core.create_namespace({"metadata": {"name": ns, "labels": {"team": "diff"}}})
        self.core.create_namespaced_config_map(ns, {"metadata": {"name": "settings", "labels": {"app": "diff"}},
                                                    "data": {"mode": "fast"}})
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
                                           "containers": [{"name": "db", "image": "busybox",
                                                           "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
                                           "volumes": [{"name": "data",
                                                        "persistentVolumeClaim": {"claimName": "data"}}]}}}})
        until(f"{self.kind} pod of db Running", lambda: [
            p for p in self.core.list_namespaced_pod(ns, label_selector="app=diff").items
            if p.status.phase == "Running"])
        self.volume(ns).joinpath("payload.bin").write_bytes(PAYLOAD)

    def volume(self, ns, claim="data"):
        pvc = until(f"{self.kind} claim {ns}/{claim} bound", lambda: (
            lambda c: c if c.status.phase == "Bound" else None)(self.core.read_namespaced_persistent_volume_claim(
                claim, ns)))
        return until(f"{self.kind} volume dir of {ns}/{claim}",
                      lambda: (lambda p: p if p.is_dir() else None)(self.volumes / pvc.spec.volume_name))

    def synced(self, name):
        return until(f"{self.kind} backup {name} synced with its PodVolumeBackups", lambda: (
            (self.velero("backups", name) or {}).get("status", {}).get("phase") and
            self.custom.list_namespaced_custom_object(*VELERO, "podvolumebackups",
                                                      label_selector=f"velero.io/backup-name={name}")["items"]),
            nudge=self.nudge)
