"""File-system backup through the restic CLI, invoked the way Velero's
node-agent invokes it (pkg/restic/command_factory.go): `restic backup .`
run inside the volume directory with tags, `restic restore <id> --target .`
inside the new volume directory, `restic forget <id>` when a backup goes.
Credentials travel in the environment only; nothing logs them."""
import json
import os
import subprocess
import time
from pathlib import Path

from lab.apiserver.errors import AlreadyExists
from lab.clock import format_time
from lab.controllers.util import random_suffix
from lab.metrics import METRICS
from lab.velero import kube
from lab.velero.credentials import location_credentials, repository_password

RESTIC = "restic"
TIMEOUT_SECONDS = 600


class ResticError(Exception):
    """A restic command failed; str() is a one-line reason (no secrets)."""


class ResticRepository:
    def __init__(self, identifier, password, access_key, secret_key, region, cache_dir):
        self.identifier = identifier
        self._env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/tmp"),
            "RESTIC_REPOSITORY": identifier,
            "RESTIC_PASSWORD": password,
            "AWS_ACCESS_KEY_ID": access_key,
            "AWS_SECRET_ACCESS_KEY": secret_key,
            "AWS_DEFAULT_REGION": region,
            "TZ": "UTC",                # --time is read in the local zone
        }
        self.cache_dir = str(cache_dir)

    def _run(self, args, cwd=None):
        command = [RESTIC, "--cache-dir", self.cache_dir, *args]
        started = time.perf_counter()
        try:
            done = subprocess.run(command, cwd=cwd, env=self._env, capture_output=True,
                                  text=True, timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            raise ResticError(f"restic {args[0]} timed out after {TIMEOUT_SECONDS}s "
                              f"(repository {self.identifier})") from None
        finally:
            METRICS.add("uploader", f"restic {args[0]}", time.perf_counter() - started)
        if done.returncode != 0:
            lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
            reason = lines[-1] if lines else f"exit status {done.returncode}"
            raise ResticError(f"restic {args[0]} failed (repository {self.identifier}): {reason}")
        return done.stdout

    def init(self):
        self._run(["init"])

    def snapshots(self, tags):
        """Snapshots carrying every tag in `tags` (dict), oldest first."""
        args = ["snapshots", "--json"]
        if tags:
            args += ["--tag", ",".join(f"{k}={v}" for k, v in sorted(tags.items()))]
        found = json.loads(self._run(args) or "[]") or []
        return sorted(found, key=lambda s: s["time"])

    def backup(self, directory, tags, when, parent=None, force=False):
        """Back up directory; returns (snapshot id, bytes processed), or
        (None, 0) for an empty directory (restic refuses an empty snapshot;
        Velero's node-agent then completes without one)."""
        if not any(Path(directory).iterdir()):
            return None, 0
        args = ["backup", "--json", "--host", "velero", "--time", format_time(when).replace("T", " ")[:-1]]
        for key, value in tags.items():
            args += ["--tag", f"{key}={value}"]
        if parent:
            args += ["--parent", parent]
        if force:
            args.append("--force")
        args.append(".")
        summary = None
        for line in self._run(args, cwd=directory).splitlines():
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if message.get("message_type") == "summary":
                summary = message
        if not summary or not summary.get("snapshot_id"):
            raise ResticError(f"restic backup gave no snapshot id (repository {self.identifier})")
        return summary["snapshot_id"], int(summary.get("total_bytes_processed") or 0)

    def restore(self, snapshot, directory):
        self._run(["restore", snapshot, "--target", "."], cwd=directory)

    def forget(self, snapshot):
        self._run(["forget", snapshot])


REPO_PLURAL = "backuprepositories"


def _repository_object(cluster, bsl_name, namespace, identifier):
    """The BackupRepository Velero keeps per (volume namespace, BSL), Ready
    once the repository exists in the bucket."""
    store = cluster.store
    selector = (f"velero.io/volume-namespace={namespace},velero.io/storage-location={bsl_name},"
                f"velero.io/repository-type=restic")
    existing = store.list(kube.GROUP, REPO_PLURAL, kube.NAMESPACE, label_selector=selector)
    if existing:
        return existing[0]
    repo = {"apiVersion": kube.API_VERSION, "kind": "BackupRepository",
            "metadata": {"name": f"{namespace}-{bsl_name}-restic-{random_suffix()}",
                         "namespace": kube.NAMESPACE,
                         "labels": {"velero.io/volume-namespace": namespace,
                                    "velero.io/storage-location": bsl_name,
                                    "velero.io/repository-type": "restic"}},
            "spec": {"volumeNamespace": namespace, "backupStorageLocation": bsl_name,
                     "repositoryType": "restic", "resticIdentifier": identifier,
                     "maintenanceFrequency": "168h0m0s"}}
    try:
        return store.create(kube.GROUP, REPO_PLURAL, repo)
    except AlreadyExists:
        return store.get(kube.GROUP, REPO_PLURAL, kube.NAMESPACE, repo["metadata"]["name"])


def open_repository(cluster, bsl, namespace, storage, layout, create=True):
    """The restic repository of `namespace` in the BSL's bucket, initialised
    on first use (create=True) as Velero's repository ensurer does."""
    config = (bsl.get("spec") or {}).get("config") or {}
    identifier = layout.restic_repository(config.get("s3Url") or "https://s3.amazonaws.com",
                                          storage.bucket, namespace)
    access_key, secret_key = location_credentials(cluster.store, bsl)
    cache = Path(cluster.node_dir) / "velero" / "restic-cache"
    cache.mkdir(parents=True, exist_ok=True)
    repo = ResticRepository(identifier, repository_password(cluster.store), access_key, secret_key,
                            config.get("region") or "us-east-1", cache)
    if not create:
        return repo
    record = _repository_object(cluster, kube.name_of(bsl), namespace, identifier)
    if not storage.exists(layout.restic_config(namespace)):
        repo.init()
    if (record.get("status") or {}).get("phase") != "Ready":
        kube.set_status(cluster.store, REPO_PLURAL, record, phase="Ready",
                        lastMaintenanceTime=kube.stamp(cluster))
    return repo
