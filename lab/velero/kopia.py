"""File-system backup with kopia as Velero's node-agent runs it: through
Velero's own uploader (pkg/uploader/kopia over pkg/repository/udmrepo),
linked into one small long-lived program per lab, `velero-uploader`
(realstack/velero/uploader), that keeps each repository open.

Velero's layout and identity: one repository per (volume namespace, BSL) at
`<prefix>/kopia/<namespace>/`, opened as user `default` at host `default`,
created when the bucket holds none (the repository ensurer); snapshots of
the pod volume's host path (`/host_pods/<pod uid>/volumes/...`), based on
the snapshot of the PVC's most recent completed PodVolumeBackup, tagged with
the PodVolumeBackup's tags plus `snapshot-requester`/`snapshot-uploader`,
described "Kopia Uploader" and pinned `velero-pin` (kopia.Backup does that),
restored with kopia.Restore, forgotten with DeleteManifest. Snapshot times
are the lab's virtual clock. The password and keys travel in the request on
a pipe; nothing logs them.

Node-agent opens the repository for every volume; this program keeps it
open, so the lab drops a bucket's repositories whenever it corrupts, cuts or
wipes that bucket (`Uploader.drop`): the next use opens it afresh and fails
as a node-agent's would."""
import json
import os
import selectors
import subprocess
import threading
import time
import urllib.parse
from pathlib import Path

from lab import tools
from lab.metrics import METRICS

DESCRIPTION = "Kopia Uploader"
REQUESTER_TAGS = {"snapshot-requester": "pod-volume-backup-restore", "snapshot-uploader": "kopia"}
TIMEOUT_SECONDS = 600


class KopiaError(Exception):
    """A kopia operation failed; str() is a one-line reason (no secrets)."""


class Uploader:
    """The lab's velero-uploader child process: one request at a time, JSON
    lines both ways; started on first use, restarted after it died or hung."""

    def __init__(self, work_dir):
        self.work_dir = Path(work_dir)
        self._process = None
        self._lock = threading.Lock()
        self._next_id = 0
        self._buffer = b""

    def _start(self):
        home = self.work_dir / "home"          # kopia's caches: $HOME/.cache/kopia
        home.mkdir(parents=True, exist_ok=True)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "TZ": "UTC",
               "KOPIA_CHECK_FOR_UPDATES": "false"}
        log = open(self.work_dir / "uploader.log", "ab")
        try:
            self._process = subprocess.Popen([tools.binary("velero-uploader"), str(self.work_dir / "repos")],
                                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env)
        except OSError as error:
            raise KopiaError(f"cannot start velero-uploader: {error}") from None
        finally:
            log.close()
        self._buffer = b""

    def call(self, op, what, repository, **fields):
        """The answer to one request; KopiaError naming `repository` when it fails."""
        with self._lock:
            started = time.perf_counter()
            try:
                if self._process is None or self._process.poll() is not None:
                    self._start()
                self._next_id += 1
                request = {"id": self._next_id, "op": op, **fields}
                try:
                    self._process.stdin.write(json.dumps(request).encode() + b"\n")
                    self._process.stdin.flush()
                    answer = json.loads(self._read_line(time.monotonic() + TIMEOUT_SECONDS))
                except (OSError, ValueError, TimeoutError) as error:
                    self._kill()
                    reason = (f"timed out after {TIMEOUT_SECONDS}s" if isinstance(error, TimeoutError)
                              else "velero-uploader stopped answering")
                    raise KopiaError(f"{what} {reason} (repository {repository})") from None
            finally:
                METRICS.add("uploader", what, time.perf_counter() - started)
        if answer.get("error"):
            raise KopiaError(answer["error"])
        return answer

    def _read_line(self, deadline):
        while b"\n" not in self._buffer:
            with selectors.DefaultSelector() as selector:
                selector.register(self._process.stdout, selectors.EVENT_READ)
                if not selector.select(max(0.0, deadline - time.monotonic())):
                    raise TimeoutError
            chunk = os.read(self._process.stdout.fileno(), 65536)
            if not chunk:
                raise OSError("velero-uploader exited")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    def drop(self, bucket=None, wiped=False):
        """Close the repositories in `bucket` (every one when None); `wiped`:
        their storage was emptied, so what closing them writes goes too."""
        with self._lock:
            alive = self._process is not None and self._process.poll() is None
        if alive:
            try:
                self.call("drop", "kopia drop", bucket or "every bucket", bucket=bucket or "", wiped=wiped)
            except KopiaError:
                self.stop()            # a fresh process has nothing open

    def _kill(self):
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process.stdin.close()
            self._process.stdout.close()
            self._process = None

    def stop(self):
        with self._lock:
            if self._process is None:
                return
            self._process.stdin.close()       # EOF: it closes its repositories and exits
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process.stdout.close()
            self._process = None


class KopiaRepository:
    """One kopia repository in a bucket, reached as Velero's node-agent
    reaches it. `identifier` names it in messages: s3:<endpoint>/<bucket>/<prefix>."""

    def __init__(self, uploader, endpoint, bucket, prefix, region, password, access_key, secret_key, create):
        self.uploader = uploader
        self.identifier = f"s3:{endpoint.rstrip('/')}/{bucket}/{prefix.strip('/')}/"
        url = endpoint if "://" in endpoint else f"https://{endpoint}"
        self._spec = {"endpoint": urllib.parse.urlunsplit(urllib.parse.urlsplit(url)[:2] + ("", "", "")),
                      "bucket": bucket, "prefix": prefix.strip("/") + "/", "region": region,
                      "accessKey": access_key, "secretKey": secret_key, "password": password,
                      "create": create}

    def _call(self, op, what, **fields):
        return self.uploader.call(op, what, self.identifier, repo=self._spec, **fields)

    def backup(self, directory, source, tags, when, parent=None):
        """Snapshot `directory` as `source` (the pod volume's host path) on
        `parent`, as node-agent does. Returns (snapshot id, bytes in it)."""
        answer = self._call("backup", "kopia backup", path=str(directory), realSource=source, parent=parent or "",
                            tags={**tags, **REQUESTER_TAGS}, time=when.isoformat().replace("+00:00", "Z"))
        return answer["snapshot"], int(answer.get("size") or 0)

    def restore(self, snapshot, directory):
        self._call("restore", "kopia restore", snapshot=snapshot, path=str(directory))

    def forget(self, snapshot):
        self._call("forget", "kopia forget", snapshot=snapshot)
