"""File-system backup and restore throughput through the lab: N MiB of
volume data backed up by a Velero Backup (file-system backup with kopia, as
Velero 1.16 takes it) on one lab cluster and restored by a Restore on
another, beside the plain kopia CLI backing up the same directory to the
same S3 endpoint.

    python bench/backup_restore.py [--mib N]      (default 64)
"""
import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402
from kubernetes import client, config  # noqa: E402

from lab import process  # noqa: E402
from lab.tools import binary as _tool_binary  # noqa: E402

NS, BUCKET, TIMEOUT = "bench", "bench", 300.0
FILE_MIB = 4


class Cluster:
    def __init__(self, state):
        api = config.new_client_from_config(state["kubeconfig"], context=state["context"])
        self.core, self.apps = client.CoreV1Api(api), client.AppsV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self.node_dir = Path(state["node_dir"])

    def connect(self, s3):
        cloud = f"[default]\naws_access_key_id={s3['access_key']}\naws_secret_access_key={s3['secret_key']}\n"
        self.core.create_namespaced_secret("velero", {"metadata": {"name": "cloud-credentials"},
                                                      "stringData": {"cloud": cloud}})
        self.custom.create_namespaced_custom_object("velero.io", "v1", "velero", "backupstoragelocations", {
            "apiVersion": "velero.io/v1", "kind": "BackupStorageLocation", "metadata": {"name": "default"},
            "spec": {"provider": "aws", "default": True, "objectStorage": {"bucket": BUCKET, "prefix": "velero"},
                     "config": {"region": s3["region"], "s3Url": s3["endpoint"], "s3ForcePathStyle": "true"}}})

    def wait(self, what, predicate):
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        raise SystemExit(f"bench: timed out after {TIMEOUT:.0f}s waiting for {what}")

    def phase(self, plural, name):
        obj = self.custom.get_namespaced_custom_object("velero.io", "v1", "velero", plural, name)
        phase = (obj.get("status") or {}).get("phase")
        return obj if phase not in (None, "", "New", "InProgress") else None

    def volume(self):
        def bound():
            pvc = self.core.read_namespaced_persistent_volume_claim("data", NS)
            return pvc.spec.volume_name if pvc.status.phase == "Bound" else None
        path = self.node_dir / "volumes" / self.wait("the PVC to be bound", bound)
        self.wait(f"volume directory {path}", path.is_dir)
        return path


def digest(directory):
    sha = hashlib.sha256()
    for path in sorted(Path(directory).rglob("*")):
        if path.is_file():
            sha.update(path.relative_to(directory).as_posix().encode())
            sha.update(path.read_bytes())
    return sha.hexdigest()


def plain_kopia(directory, s3, add_data):
    """Seconds of plain kopia on the same endpoint, like the lab's two
    backups: `repository create` + `snapshot create`, then (after
    add_data()) a second `snapshot create` into the existing repository."""
    env = dict(os.environ, KOPIA_PASSWORD="bench-password", AWS_ACCESS_KEY_ID=s3["access_key"],
               AWS_SECRET_ACCESS_KEY=s3["secret_key"], KOPIA_CHECK_FOR_UPDATES="false")
    with tempfile.TemporaryDirectory(prefix="kopia-config-") as home:
        def kopia(*args):
            subprocess.run([_tool_binary("kopia"), "--config-file", f"{home}/repo.config", "--log-dir", home, *args],
                           env=dict(env, HOME=home), check=True, capture_output=True, timeout=TIMEOUT)
        began = time.monotonic()
        kopia("repository", "create", "s3", "--bucket", BUCKET, "--prefix", "plain-kopia/",
              "--endpoint", s3["endpoint"].split("://", 1)[1], "--disable-tls")
        kopia("snapshot", "create", str(directory))
        first = time.monotonic() - began
        add_data()
        began = time.monotonic()
        kopia("snapshot", "create", str(directory))
        return first, time.monotonic() - began


def write_data(volume, mib, prefix):
    remaining, index = mib, 0
    while remaining > 0:
        size = min(FILE_MIB, remaining)
        (volume / f"{prefix}-{index:04d}.bin").write_bytes(os.urandom(size << 20))
        remaining, index = remaining - size, index + 1
    return index


def lab_backup(source, name):
    began = time.monotonic()
    source.custom.create_namespaced_custom_object("velero.io", "v1", "velero", "backups", {
        "apiVersion": "velero.io/v1", "kind": "Backup", "metadata": {"name": name},
        "spec": {"includedNamespaces": [NS]}})
    backup = source.wait(f"backup {name}", lambda: source.phase("backups", name))
    seconds = time.monotonic() - began
    if backup["status"]["phase"] != "Completed":
        raise SystemExit(f"bench: backup {name} ended {backup['status']['phase']}: {backup['status']}")
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=64, help="MiB of volume data (default 64)")
    args = parser.parse_args()
    if args.mib <= 0:
        raise SystemExit("bench: --mib must be a positive number")
    with tempfile.TemporaryDirectory(prefix="velero-bench-") as tmp:
        lab = process.start(None, Path(tmp) / "state")
        try:
            s3 = lab.state["s3"]["minio"]
            boto3.client("s3", endpoint_url=s3["endpoint"], region_name=s3["region"],
                         aws_access_key_id=s3["access_key"], aws_secret_access_key=s3["secret_key"],
                         config=Config(s3={"addressing_style": "path"})).create_bucket(Bucket=BUCKET)
            source, target = (Cluster(lab.state["clusters"][n]) for n in ("backup", "restore"))
            for cluster in (source, target):
                cluster.connect(s3)
            source.core.create_namespace({"metadata": {"name": NS}})
            source.core.create_namespaced_persistent_volume_claim(NS, {
                "metadata": {"name": "data"},
                "spec": {"storageClassName": "openebs-hostpath", "accessModes": ["ReadWriteOnce"],
                         "resources": {"requests": {"storage": f"{args.mib * 2}Mi"}}}})
            source.apps.create_namespaced_deployment(NS, {
                "metadata": {"name": "app"},
                "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "bench"}},
                         "template": {"metadata": {"labels": {"app": "bench"},
                                                   "annotations": {"backup.velero.io/backup-volumes": "data"}},
                                      "spec": {"containers": [{"name": "c", "image": "busybox"}],
                                               "volumes": [{"name": "data",
                                                            "persistentVolumeClaim": {"claimName": "data"}}]}}}})
            volume = source.volume()
            index = write_data(volume, args.mib, "blob")
            expected = digest(volume)
            first_seconds = lab_backup(source, "bench")
            write_data(volume, args.mib, "more")
            second_seconds = lab_backup(source, "bench-2")

            lab.control("POST", "/clock/advance", {"seconds": 61})     # one backup sync period
            target.wait("the backup to sync to the restore cluster", lambda: any(
                b["metadata"]["name"] == "bench" for b in target.custom.list_namespaced_custom_object(
                    "velero.io", "v1", "velero", "backups")["items"]))
            began = time.monotonic()
            target.custom.create_namespaced_custom_object("velero.io", "v1", "velero", "restores", {
                "apiVersion": "velero.io/v1", "kind": "Restore", "metadata": {"name": "bench"},
                "spec": {"backupName": "bench"}})  # the first backup: the data written first
            restore = target.wait("the restore", lambda: target.phase("restores", "bench"))
            restore_seconds = time.monotonic() - began
            if restore["status"]["phase"] != "Completed":
                raise SystemExit(f"bench: restore ended {restore['status']['phase']}: {restore['status']}")
            if digest(target.volume()) != expected:
                raise SystemExit("bench: restored data differs from the backed-up data")
            for path in volume.glob("more-*"):
                path.unlink()
            plain_first, plain_second = plain_kopia(volume, s3, lambda: write_data(volume, args.mib, "more"))
        finally:
            lab.stop()
    print(f"volume data: {args.mib} MiB in {index} files (FS backup, kopia, minio profile), "
          f"then {args.mib} MiB more")
    rows = (("first backup (incl. repository create)", first_seconds, plain_first),
            ("second backup (repository exists)", second_seconds, plain_second))
    for what, lab_s, plain_s in rows:
        print(f"{what:38}: lab {args.mib / lab_s:6.1f} MiB/s ({lab_s:.2f} s, Backup New -> Completed), "
              f"plain kopia {args.mib / plain_s:6.1f} MiB/s ({plain_s:.2f} s): {plain_s / lab_s:.2f}x")
    print(f"{'restore':38}: lab {args.mib / restore_seconds:6.1f} MiB/s ({restore_seconds:.2f} s, "
          f"Restore New -> Completed, data verified)")

if __name__ == "__main__":
    main()
