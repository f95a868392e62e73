"""File-system backup through the kopia CLI, built from the kopia fork that
Velero 1.16 links in (realstack/kopia), so a repository the lab writes is
one real Velero reads and the other way round.

Velero's node-agent runs kopia as a library (pkg/uploader/kopia): one
repository per (volume namespace, BSL) at `<prefix>/kopia/<namespace>/`,
opened as user `default` at host `default`, snapshots of the pod volume's
host path tagged with the PodVolumeBackup's tags plus
`snapshot-requester`/`snapshot-uploader`, described "Kopia Uploader" and
pinned `velero-pin`, under a policy that never expires or compresses
anything. The lab does the same through the CLI: `repository create|connect
s3` once per repository (the connection is a config file under the node
dir), then one `snapshot create` per volume, `snapshot restore` and
`snapshot delete`. The repository password and the S3 keys travel in the
environment (kopia keeps the keys in its config file, which stays in the
lab's state dir); nothing logs them."""
import hashlib
import json
import os
import subprocess
import urllib.parse
from pathlib import Path

from lab.velero import uploader

USER_AT_HOST = "default@default"            # udmrepo.GetRepoUser() @ GetRepoDomain()
DESCRIPTION = "Kopia Uploader"
PIN = "velero-pin"
REQUESTER_TAGS = {"snapshot-requester": "pod-volume-backup-restore", "snapshot-uploader": "kopia"}
# Velero's getDefaultPolicy: keep everything, compress nothing.
KEEP_ALL = ("--keep-latest", "2147483647", "--keep-hourly", "2147483647", "--keep-daily", "2147483647",
            "--keep-weekly", "2147483647", "--keep-monthly", "2147483647", "--keep-annual", "2147483647")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S UTC"       # the CLI's --start-time/--end-time format


class KopiaError(Exception):
    """A kopia command failed; str() is a one-line reason (no secrets)."""


def kopia_binary():
    """The kopia CLI: $DMAAS_KOPIA, else the real stack's build of it."""
    explicit = os.environ.get("DMAAS_KOPIA")
    if explicit:
        return explicit
    built = Path(__file__).resolve().parents[2] / "realstack" / "build.sh"
    try:
        out = subprocess.run(["bash", str(built), "--print-dir"], capture_output=True, text=True,
                             timeout=30, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        out = ""
    return str(Path(out) / "bin" / "kopia") if out else "kopia"


_BINARY = None


def binary():
    global _BINARY
    if _BINARY is None:
        _BINARY = kopia_binary()
    return _BINARY


def require_binary():
    """Refuse to start a lab whose clusters could not back a volume up."""
    path = binary()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise KopiaError(f"no kopia CLI at {path}: build it with `dmaas realstack build kopia` "
                         f"(scripts/setup.sh does), or set DMAAS_KOPIA to one")


class KopiaRepository:
    """One kopia repository in a bucket, reached as Velero's node-agent
    reaches it. `identifier` names it in messages: s3:<endpoint>/<bucket>/<prefix>."""

    def __init__(self, endpoint, bucket, prefix, region, password, access_key, secret_key, state_dir):
        self.endpoint, self.bucket, self.prefix, self.region = endpoint, bucket, prefix.strip("/") + "/", region
        self.identifier = f"s3:{endpoint.rstrip('/')}/{bucket}/{self.prefix}"
        digest = hashlib.sha256(self.identifier.encode()).hexdigest()[:16]
        self.dir = Path(state_dir) / digest
        self.config = self.dir / "repository.config"
        self._env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.dir),
            "KOPIA_PASSWORD": password,
            "AWS_ACCESS_KEY_ID": access_key,
            "AWS_SECRET_ACCESS_KEY": secret_key,
            "KOPIA_CHECK_FOR_UPDATES": "false",
            "TZ": "UTC",
        }

    def _run(self, args, what):
        command = [binary(), "--config-file", str(self.config), "--log-dir", str(self.dir / "logs"),
                   "--file-log-level", "error", "--log-level", "error", "--no-persist-credentials",
                   "--no-auto-maintenance", "--no-progress", *args]
        return uploader.run(command, self._env, f"kopia {what}", self.identifier, KopiaError)

    def _storage_flags(self):
        url = urllib.parse.urlsplit(self.endpoint if "://" in self.endpoint else f"https://{self.endpoint}")
        flags = ["--bucket", self.bucket, "--prefix", self.prefix, "--endpoint", url.netloc,
                 "--region", self.region]
        if url.scheme == "http":
            flags.append("--disable-tls")
        return flags

    def connect(self, exists):
        """Connects this lab node to the repository once (a config file),
        creating the repository first when the bucket has none (`exists`
        False), as Velero's repository ensurer does."""
        if self.config.exists():
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        identity = ["--override-username", "default", "--override-hostname", "default",
                    "--cache-directory", str(self.dir / "cache")]
        if exists:
            self._run(["repository", "connect", "s3", *self._storage_flags(), *identity], "repository connect")
            return
        self._run(["repository", "create", "s3", *self._storage_flags(), *identity], "repository create")
        self._run(["policy", "set", "--global", *KEEP_ALL, "--compression", "none"], "policy set")

    def backup(self, directory, source, tags, when):
        """Snapshot `directory` as `source` (the pod volume's host path);
        kopia bases it on the latest snapshot of the same source, as
        Velero's uploader does. Returns (snapshot id, bytes in the snapshot)."""
        stamp = when.strftime(TIME_FORMAT)
        args = ["snapshot", "create", str(directory), "--json", "--override-source",
                f"{USER_AT_HOST}:{source}", "--description", DESCRIPTION, "--pin", PIN,
                "--start-time", stamp, "--end-time", stamp]
        for key, value in sorted({**tags, **REQUESTER_TAGS}.items()):
            args += ["--tags", f"{key}:{value}"]
        try:
            manifest = json.loads(self._run(args, "snapshot create"))
        except ValueError:
            raise KopiaError(f"kopia snapshot create gave no manifest (repository {self.identifier})") from None
        summary = (manifest.get("rootEntry") or {}).get("summ") or {}
        return manifest["id"], int(summary.get("size") or 0)

    def restore(self, snapshot, directory):
        self._run(["snapshot", "restore", snapshot, str(directory), "--skip-owners"], "snapshot restore")

    def forget(self, snapshot):
        self._run(["snapshot", "delete", snapshot, "--delete"], "snapshot delete")
