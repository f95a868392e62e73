"""File-system backup through the restic CLI, invoked the way Velero's
node-agent invokes it (pkg/restic/command_factory.go): `restic backup .`
run inside the volume directory with tags, `restic restore <id> --target .`
inside the new volume directory, `restic forget <id>` when a backup goes.
Credentials travel in the environment only; nothing logs them."""
import json
import os
from pathlib import Path

from lab.clock import format_time
from lab.velero import uploader

RESTIC = "restic"


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
        return uploader.run(command, self._env, f"restic {args[0]}", self.identifier, ResticError, cwd=cwd)

    def init(self):
        self._run(["init"])

    def backup(self, directory, tags, when, parent=None):
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
