"""The lab's Velero held to real Velero 1.16: the same operations on a lab
cluster and on a real-stack cluster, compared field by field, and backups
crossing between the two through one bucket.

The real side is the stack's cluster "backup" (real kube-apiserver,
kube-controller-manager and Velero 1.16.2 with node-agent); the lab side is
a cluster of the lab process that serves the stack's S3, so both write to
the same S3 endpoint and bucket (each under its own prefix, or a shared
one for the crossings). Names the two sides generate differently (pod and
ReplicaSet suffixes, PV names, kopia's content-addressed blobs) are
normalised before comparing; every other difference is a finding.
"""
import datetime
import gzip
import io
import json
import os
import re
import tarfile
import time
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

VELERO = ("velero.io", "v1", "velero")
RUN = uuid.uuid4().hex[:6]             # names are per run: an attached stack keeps earlier runs' objects
BUCKET = f"differential-{RUN}"
LOC, SAME = f"diff-{RUN}", f"same-{RUN}"
PAYLOAD = b"differential payload\n" * 4096
TIMEOUT = 240


def _until(what, check, timeout=TIMEOUT, every=0.5, nudge=None):
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


def _control(url, method, path, body=None):
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
            _control(self.control, "POST", "/clock/advance", {"seconds": 61})

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
        return _until(f"{self.kind} {plural} {name} to finish", done, timeout)

    def location(self, name, prefix):
        cloud = f"[default]\naws_access_key_id={self.s3['access_key']}\naws_secret_access_key={self.s3['secret_key']}\n"
        self.core.create_namespaced_secret("velero", {"metadata": {"name": f"{name}-credentials"},
                                                      "stringData": {"cloud": cloud}})
        self.create("backupstoragelocations", "BackupStorageLocation", name, {
            "provider": "aws", "objectStorage": {"bucket": BUCKET, "prefix": prefix},
            "credential": {"name": f"{name}-credentials", "key": "cloud"},
            "config": {"region": self.s3["region"], "s3ForcePathStyle": "true", "s3Url": self.s3["endpoint"],
                       "checksumAlgorithm": ""}})
        _until(f"{self.kind} location {name} Available",
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
        _until(f"{self.kind} default service account in {ns}",
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
        _until(f"{self.kind} pod of db Running", lambda: [
            p for p in self.core.list_namespaced_pod(ns, label_selector="app=diff").items
            if p.status.phase == "Running"])
        self.volume(ns).joinpath("payload.bin").write_bytes(PAYLOAD)

    def volume(self, ns, claim="data"):
        pvc = _until(f"{self.kind} claim {ns}/{claim} bound", lambda: (
            lambda c: c if c.status.phase == "Bound" else None)(self.core.read_namespaced_persistent_volume_claim(
                claim, ns)))
        return _until(f"{self.kind} volume dir of {ns}/{claim}",
                      lambda: (lambda p: p if p.is_dir() else None)(self.volumes / pvc.spec.volume_name))

    def synced(self, name):
        return _until(f"{self.kind} backup {name} synced with its PodVolumeBackups", lambda: (
            (self.velero("backups", name) or {}).get("status", {}).get("phase") and
            self.custom.list_namespaced_custom_object(*VELERO, "podvolumebackups",
                                                      label_selector=f"velero.io/backup-name={name}")["items"]),
            nudge=self.nudge)


@pytest.fixture(scope="module")
def sides(stack):
    s3 = stack["s3"]["minio"]
    bucket = boto3.client("s3", endpoint_url=s3["endpoint"], region_name=s3["region"],
                          aws_access_key_id=s3["access_key"], aws_secret_access_key=s3["secret_key"],
                          config=Config(s3={"addressing_style": "path"}))
    bucket.create_bucket(Bucket=BUCKET)
    real = stack["clusters"]["backup"]
    name = f"labside-{uuid.uuid4().hex[:4]}"
    entry = _control(stack["s3_control"], "POST", "/clusters",
                     {"name": name, "version": real["version"], "velero_version": real["velero_version"]})
    try:
        yield {"real": Side("real", real, s3), "lab": Side("lab", entry, s3, stack["s3_control"]),
               "restore": Side("real", stack["clusters"]["restore"], s3), "bucket": bucket}
    finally:
        if not os.environ.get("DMAAS_REALSTACK_DIR"):       # an attached stack keeps it, to look at
            _control(stack["s3_control"], "DELETE", f"/clusters/{name}")


@pytest.fixture(scope="module")
def backups(sides):
    """The same app and the same Backup on both sides, each to its own prefix."""
    ns = f"diff-{RUN}"
    ttl = _ttl_beyond_both_clocks(sides["lab"])
    for kind in ("real", "lab"):
        side = sides[kind]
        side.location(LOC, prefix=kind)
        side.app(ns)
        side.create("backups", "Backup", SAME, {"includedNamespaces": [ns], "storageLocation": LOC, "ttl": ttl})
    done = {kind: sides[kind].finished("backups", SAME) for kind in ("real", "lab")}
    return {"ns": ns, "objects": done}


def _ttl_beyond_both_clocks(lab):
    """The same TTL for both sides that keeps either side's backup alive on
    the other's clock. The lab stamps expiration from its virtual clock
    (months behind the wall clock); real Velero's GC controller deletes a
    synced backup whose expiration has passed on its own clock at once,
    kopia snapshot included (that was the crossing's "snapshot not found")."""
    lab_now = datetime.datetime.fromisoformat(_control(lab.control, "GET", "/clock")["now"].replace("Z", "+00:00"))
    behind = datetime.datetime.now(datetime.timezone.utc) - lab_now
    hours = max(0, int(behind.total_seconds() // 3600)) + 720      # + 30 days, Velero's default TTL
    return f"{hours}h0m0s"


def _keys(bucket, prefix):
    pages = bucket.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix + "/")
    return sorted(o["Key"][len(prefix) + 1:] for page in pages for o in page.get("Contents", []))


def _normalised_keys(bucket, prefix):
    """Backup files by name; kopia's blobs by kind (content-addressed names differ)."""
    found = set()
    for key in _keys(bucket, prefix):
        parts = key.split("/")
        if parts[0] == "kopia":
            blob = parts[-1]
            found.add("kopia/<ns>/" + (blob if blob.startswith("kopia.") else re.sub(r"[0-9a-f]{8,}.*", "*", blob)))
        else:
            found.add(key)
    return found


def _get(bucket, key):
    return bucket.get_object(Bucket=BUCKET, Key=key)["Body"].read()


GENERATED = [(re.compile(r"pvc-[0-9a-f-]{36}"), "pvc-<uid>"),
             (re.compile(r"\bdb-[a-z0-9]{9,10}-[a-z0-9]{5}\b"), "db-<rs>-<pod>"),
             (re.compile(r"\bdb-[a-z0-9]{9,10}\b"), "db-<rs>")]


def _normalise(text):
    for pattern, replacement in GENERATED:
        text = pattern.sub(replacement, text)
    return text


# Events that tell the two set-ups apart, not the two Velero: the external
# provisioner's (OpenEBS's emits them, and so does the lab's storage
# controller; the real stack's node stand-in provisions without them), and
# the PV controller's WaitForFirstConsumer (the lab's LocalPV classes wait
# for the first pod as OpenEBS's do; the real stack's bind at once, having
# no scheduler to pick a node).
PROVISIONER_REASONS = {"Provisioning", "ProvisioningSucceeded", "WaitForFirstConsumer"}


def _tarball(bucket, prefix):
    data = _get(bucket, f"{prefix}/backups/{SAME}/{SAME}.tar.gz")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}


def _split_events(members):
    """(entries without events, {(kind, object, reason)} of the events by Kubernetes' controllers)."""
    events, others = set(), set()
    for name, data in members.items():
        if name.startswith("resources/events/"):
            event = json.loads(data)
            if event["reason"] not in PROVISIONER_REASONS:
                events.add((event["involvedObject"]["kind"], _normalise(event["involvedObject"]["name"]),
                            event["reason"]))
        else:
            others.add(_normalise(name))
    return others, events


def test_phases_and_status_fields_agree(sides, backups):
    real, lab = backups["objects"]["real"], backups["objects"]["lab"]
    assert (lab["status"]["phase"], real["status"]["phase"]) == ("Completed", "Completed"), (lab, real)
    assert sorted(lab["status"]) == sorted(real["status"])
    for field in ("formatVersion", "version", "errors", "warnings"):
        assert lab["status"].get(field) == real["status"].get(field), field
    # the item counts, less the provisioner's events (see PROVISIONER_REASONS)
    def provisioner_events(prefix):
        return sum(1 for n, d in _tarball(sides["bucket"], prefix).items()
                   if n.startswith("resources/events/namespaces/") and json.loads(d)["reason"] in PROVISIONER_REASONS)
    assert lab["status"]["progress"]["totalItems"] - provisioner_events("lab") == \
        real["status"]["progress"]["totalItems"] - provisioner_events("real")
    assert sorted(lab["metadata"]["labels"]) == sorted(real["metadata"]["labels"])
    assert lab["metadata"]["labels"]["velero.io/storage-location"] == LOC
    assert lab["spec"] == real["spec"]


def test_the_bucket_keys_agree(sides, backups):
    lab, real = (_normalised_keys(sides["bucket"], kind) for kind in ("lab", "real"))
    assert sorted(lab - real) == [] and sorted(real - lab) == []


def test_the_tarball_entries_agree(sides, backups):
    """Every entry by name, events by (kind, object, reason): their names
    carry the recording instant."""
    (lab, lab_events), (real, real_events) = (_split_events(_tarball(sides["bucket"], p)) for p in ("lab", "real"))
    assert sorted(lab - real) == [] and sorted(real - lab) == []
    assert sorted(lab_events - real_events) == [] and sorted(real_events - lab_events) == []


def test_the_pod_volume_backups_agree(sides, backups):
    def pvbs(prefix):
        return json.loads(gzip.decompress(_get(sides["bucket"], f"{prefix}/backups/{SAME}/{SAME}-podvolumebackups.json.gz")))
    [lab], [real] = pvbs("lab"), pvbs("real")
    assert lab["spec"]["uploaderType"] == real["spec"]["uploaderType"] == "kopia"
    assert sorted(lab["spec"]["tags"]) == sorted(real["spec"]["tags"])
    assert lab["spec"]["repoIdentifier"] == real["spec"]["repoIdentifier"]
    assert sorted(lab["metadata"]["labels"]) == sorted(real["metadata"]["labels"])
    assert lab["metadata"].get("annotations") == real["metadata"].get("annotations")
    assert sorted(lab["status"]) == sorted(real["status"])
    assert _normalise(re.sub(r"/host_pods/[0-9a-f-]{36}/", "/host_pods/<uid>/", lab["status"]["path"])) == \
        _normalise(re.sub(r"/host_pods/[0-9a-f-]{36}/", "/host_pods/<uid>/", real["status"]["path"]))


def test_restored_objects_and_labels_agree(sides, backups):
    ns = backups["ns"]

    def restored(side):
        side.create("restores", "Restore", f"{SAME}-r", {"backupName": SAME, "namespaceMapping": {ns: ns + "-r"}})
        done = side.finished("restores", f"{SAME}-r")
        assert done["status"]["phase"] == "Completed", done["status"]
        side.volume(ns + "-r")          # data restored before the restore completes
        objects = {}
        for kind, items in (("ConfigMap", side.core.list_namespaced_config_map(ns + "-r").items),
                            ("Secret", side.core.list_namespaced_secret(ns + "-r").items),
                            ("ServiceAccount", side.core.list_namespaced_service_account(ns + "-r").items),
                            ("PersistentVolumeClaim", side.core.list_namespaced_persistent_volume_claim(ns + "-r").items),
                            ("Deployment", side.apps.list_namespaced_deployment(ns + "-r").items)):
            for item in items:
                labels = {k: v for k, v in (item.metadata.labels or {}).items()}
                objects[f"{kind}/{_normalise(item.metadata.name)}"] = labels
        return objects, done
    (lab, lab_restore), (real, real_restore) = restored(sides["lab"]), restored(sides["real"])
    assert sorted(lab) == sorted(real)
    for key in lab:
        assert lab[key] == real[key], key
    assert sorted(lab_restore["status"]) == sorted(real_restore["status"])
    assert lab_restore["status"].get("warnings") == real_restore["status"].get("warnings")
    assert lab_restore["status"]["progress"] == real_restore["status"]["progress"]
    for kind in ("lab", "real"):
        assert (sides[kind].volume(ns + "-r") / "payload.bin").read_bytes() == PAYLOAD
    # what became of each item: the restore's resource list, names normalised
    lists = [json.loads(_normalise(gzip.decompress(_get(
        sides["bucket"], f"{kind}/restores/{SAME}-r/restore-{SAME}-r-resource-list.json.gz")).decode()))
        for kind in ("lab", "real")]
    assert lists[0] == lists[1]
    # the restored ReplicaSet and pod were adopted, nothing new was made
    for kind in ("lab", "real"):
        pods = sides[kind].core.list_namespaced_pod(ns + "-r").items
        assert [(_normalise(p.metadata.name), p.metadata.owner_references[0].kind) for p in pods] == \
            [("db-<rs>-<pod>", "ReplicaSet")], kind


def test_a_backup_the_lab_wrote_restores_with_real_velero(sides, backups):
    """Real Velero syncs the lab's backup from the bucket and restores it,
    volume data (a kopia snapshot the lab's kopia CLI took) included."""
    ns, restore = backups["ns"], sides["restore"]
    restore.location(f"from-lab-{RUN}", prefix="lab")
    restore.synced(SAME)
    restore.create("restores", "Restore", f"lab-made-{RUN}", {"backupName": SAME})
    done = restore.finished("restores", f"lab-made-{RUN}")
    assert done["status"]["phase"] == "Completed", done["status"]
    assert (restore.volume(ns) / "payload.bin").read_bytes() == PAYLOAD
    assert restore.core.read_namespaced_config_map("settings", ns).data == {"mode": "fast"}


def test_a_backup_real_velero_wrote_restores_on_the_lab(sides, backups):
    """The lab syncs real Velero's backup and restores it, volume data (a
    kopia snapshot real node-agent took) included."""
    ns, real, lab = backups["ns"], sides["real"], sides["lab"]
    made = f"real-made-{RUN}"
    real.create("backups", "Backup", made, {"includedNamespaces": [ns], "storageLocation": LOC,
                                            "ttl": "720h0m0s"})
    assert real.finished("backups", made)["status"]["phase"] == "Completed"
    lab.location(f"from-real-{RUN}", prefix="real")
    lab.synced(made)
    assert lab.velero("backups", made)["spec"]["storageLocation"] == f"from-real-{RUN}"
    lab.create("restores", "Restore", made, {"backupName": made, "namespaceMapping": {ns: ns + "-x"}})
    done = lab.finished("restores", made)
    assert done["status"]["phase"] == "Completed", done["status"]
    assert (lab.volume(ns + "-x") / "payload.bin").read_bytes() == PAYLOAD
