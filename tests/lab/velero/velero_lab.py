"""Helpers for the Velero contract tests: one lab process (started through
lab.process as the runner starts it; fixtures in conftest.py), reached only from outside: the
kubernetes client with each cluster's kubeconfig, boto3 for buckets,
urllib for the control API. Each test uses its own bucket, locations and
namespaces so tests do not see each other's backups."""
import gzip
import io
import json
import tarfile
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from kubernetes import client, config as kube_config

from lab import process
from lab.config import DEFAULT_ENGINES
from lab_http import control, wait_for

CLUSTERS = [{"name": "src", "version": "1.29.4", "velero_version": "1.16.2"},
            {"name": "dst", "version": "1.29.4", "velero_version": "1.11.1"},
            {"name": "old1", "version": "1.23.17", "velero_version": "1.9.7"},
            {"name": "old2", "version": "1.23.17", "velero_version": "1.12.4"}]
# OpenEBS's four engines, and two no code names: a snapshot engine on a CSI
# driver of its own and a file-system engine on another CSI driver
ENGINES = {**DEFAULT_ENGINES,
           "zfs-local": {"storage_class": "openebs-zfspv", "provisioner": "zfs.csi.openebs.io",
                         "parameters": {"poolname": "zfspv-pool"}, "volume": "csi", "backup": "snapshot"},
           "lvm-local": {"storage_class": "openebs-lvmpv", "provisioner": "local.csi.openebs.io",
                         "parameters": {"volgroup": "lvmvg"}, "volume": "csi", "backup": "fs"}}
LAB_CONFIG = {"lab": {"clusters": CLUSTERS, "s3": ["minio", "aws"], "engines": ENGINES,
                      "start": "2026-01-05T00:00:00Z"}}
GROUP, NS = "velero.io", "velero"


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    handle = process.start(LAB_CONFIG, tmp_path_factory.mktemp("velero-lab") / "state")
    yield handle
    handle.stop()


def advance(lab, seconds):
    status, body = control(lab, "POST", "/clock/advance", {"seconds": seconds})
    assert status == 200, body
    return body["now"]


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


class Bucket:
    """A bucket on one S3 endpoint, read with boto3 only: a lab profile's,
    or any `s3` entry shaped as lab.json's (the real stack's stack.json)."""

    def __init__(self, lab, profile, name, s3=None):
        s3 = s3 or lab.state["s3"][profile]
        self.lab, self.profile, self.name, self.s3 = lab, profile, name, s3
        self.client = boto3.client("s3", endpoint_url=s3["endpoint"], region_name=s3["region"],
                                   aws_access_key_id=s3["access_key"], aws_secret_access_key=s3["secret_key"],
                                   config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
        try:
            self.client.create_bucket(Bucket=name)
        except self.client.exceptions.BucketAlreadyOwnedByYou:
            pass

    def keys(self, prefix=""):
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    def get(self, key):
        return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()

    def json_gz(self, key):
        return json.loads(gzip.decompress(self.get(key)))

    def tar_members(self, key):
        with tarfile.open(fileobj=io.BytesIO(self.get(key)), mode="r:gz") as tar:
            return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}

    def credentials_file(self):
        return (f"[default]\naws_access_key_id={self.s3['access_key']}\n"
                f"aws_secret_access_key={self.s3['secret_key']}\n")

    def fault(self, action):
        status, body = control(self.lab, "POST", f"/faults/s3/{self.profile}",
                               {"action": action, "bucket": self.name})
        assert status == 200, body

    def corrupt(self, key):
        status, body = control(self.lab, "POST", f"/faults/s3/{self.profile}/corrupt",
                               {"bucket": self.name, "key": key})
        assert status == 200, body


class Cluster:
    """One lab cluster seen through the kubernetes client."""

    def __init__(self, lab, name, state=None):
        """A lab's cluster by name, or any cluster by its lab.json-shaped entry
        (kubeconfig, context, node_dir: the real stack's stack.json has them)."""
        self.lab, self.name = lab, name
        state = state or control(lab, "GET", "/state")[1]["clusters"][name]
        self.state = state
        self.node_dir = Path(state["node_dir"])
        self.api = kube_config.new_client_from_config(state["kubeconfig"], context=state["context"])
        self.core = client.CoreV1Api(self.api)
        self.apps = client.AppsV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)

    @property
    def velero_version(self):
        """(major, minor) of the Velero the cluster runs."""
        return tuple(int(x) for x in self.state["velero_version"].split(".")[:2])

    # velero objects
    def create(self, plural, name, spec, labels=None):
        kind = {"backups": "Backup", "restores": "Restore", "schedules": "Schedule",
                "backupstoragelocations": "BackupStorageLocation", "volumesnapshotlocations": "VolumeSnapshotLocation",
                "deletebackuprequests": "DeleteBackupRequest"}[plural]
        body = {"apiVersion": "velero.io/v1", "kind": kind,
                "metadata": {"name": name, "namespace": NS, "labels": labels or {}}, "spec": spec}
        return self.custom.create_namespaced_custom_object(GROUP, "v1", NS, plural, body)

    def get(self, plural, name):
        try:
            return self.custom.get_namespaced_custom_object(GROUP, "v1", NS, plural, name)
        except client.ApiException as error:
            if error.status == 404:
                return None
            raise

    def list(self, plural, selector=None):
        return self.custom.list_namespaced_custom_object(GROUP, "v1", NS, plural,
                                                          label_selector=selector or "")["items"]

    def delete(self, plural, name):
        try:
            self.custom.delete_namespaced_custom_object(GROUP, "v1", NS, plural, name)
        except client.ApiException as error:
            if error.status != 404:
                raise

    def wait_phase(self, plural, name, phases=("Completed", "PartiallyFailed", "Failed", "FailedValidation"),
                   timeout=60):
        def done():
            obj = self.get(plural, name)
            return obj if obj and (obj.get("status") or {}).get("phase") in phases else None
        return wait_for(f"{plural} {name} on {self.name} to reach {phases}", done, timeout)

    def location(self, bucket, name=None, prefix=None, **spec):
        """Credentials Secret + BSL for bucket; waits until Available."""
        name = name or unique("bsl")
        secret = f"{name}-creds"
        self.core.create_namespaced_secret(NS, {"metadata": {"name": secret},
                                                "stringData": {"cloud": bucket.credentials_file()}})
        body = {"provider": "aws", "objectStorage": {"bucket": bucket.name, "prefix": prefix or ""},
                "credential": {"name": secret, "key": "cloud"},
                "config": {"region": bucket.s3["region"], "s3Url": bucket.s3["endpoint"],
                           "s3ForcePathStyle": "true", "checksumAlgorithm": ""}}   # moto takes no CRC checksums
        body.update(spec)
        self.create("backupstoragelocations", name, body)
        wait_for(f"BSL {name} validated", lambda: (self.get("backupstoragelocations", name).get("status")
                                                   or {}).get("phase"))
        return name

    def snapshot_location(self, bucket, name=None, prefix="cstor", **config):
        name = name or unique("vsl")
        secret = f"{name}-creds"
        self.core.create_namespaced_secret(NS, {"metadata": {"name": secret},
                                                "stringData": {"cloud": bucket.credentials_file()}})
        cfg = {"bucket": bucket.name, "prefix": prefix, "provider": "aws", "region": bucket.s3["region"],
               "s3Url": bucket.s3["endpoint"], "s3ForcePathStyle": "true", "namespace": "openebs"}
        cfg.update({k: str(v) for k, v in config.items()})
        self.create("volumesnapshotlocations", name, {"provider": "openebs.io/cstor-blockstore",
                                                      "credential": {"name": secret, "key": "cloud"},
                                                      "config": cfg})
        return name

    # workloads and data
    def namespace(self, name=None, labels=None):
        name = name or unique("ns")
        self.core.create_namespace({"metadata": {"name": name, "labels": labels or {}}})
        return name

    def claim(self, namespace, name, storage_class):
        self.core.create_namespaced_persistent_volume_claim(namespace, {
            "metadata": {"name": name},
            "spec": {"storageClassName": storage_class, "accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": "1Gi"}}}})

    def deployment(self, namespace, name, claim, annotations=None):
        self.apps.create_namespaced_deployment(namespace, {
            "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}, "annotations": annotations or {}},
                                  "spec": {"containers": [{"name": "main", "image": "busybox",
                                                           "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
                                           "volumes": [{"name": "data",
                                                        "persistentVolumeClaim": {"claimName": claim}}]}}}})

    def volume_dir(self, namespace, claim, timeout=30):
        def bound():
            pvc = self.core.read_namespaced_persistent_volume_claim(claim, namespace)
            return pvc.spec.volume_name if pvc.status.phase == "Bound" else None
        pv = wait_for(f"PVC {namespace}/{claim} bound on {self.name}", bound, timeout)
        path = self.node_dir / "volumes" / pv
        wait_for(f"volume dir {path}", path.is_dir, timeout)
        return path


def tree(directory):
    """{relative path: bytes} of every file under directory."""
    root = Path(directory)
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def clusters(lab):
    return {spec["name"]: Cluster(lab, spec["name"]) for spec in CLUSTERS}


@pytest.fixture
def bucket(lab):
    return Bucket(lab, "minio", unique("bkt"))
