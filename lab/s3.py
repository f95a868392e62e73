"""S3 endpoints of the lab: one versitygw server per profile plus a proxy in front.

versitygw (github.com/versity/versitygw, Apache-2.0, built by
realstack/build.sh) is a production S3 gateway: SigV4, path-style,
ListObjectsV2, multipart, its POSIX backend storing each bucket as a
directory. One server per profile (its own data directory and root keys),
so MinIO and AWS are different worlds and the same bucket name can be
created in both. It listens on an abstract UNIX socket that only the proxy
uses; clients (boto3, minio, restic, kopia, the velero controllers, real
Velero's AWS plugin) talk to the proxy on 127.0.0.1, which checks the access
key (answering InvalidAccessKeyId as S3 and MinIO do; versitygw verifies the
signature), applies faults (cut / slow, server-wide or per bucket) and bucket
quotas the way MinIO reports them, and forwards everything else unchanged
(Host header kept) over one kept-open connection per client connection.

A quota is checked against a running count of the bucket's bytes, read from
the files once when the quota is set and then moved by the size of each
object a write changes (a stat before and after), never by listing.
"""
import ctypes
import http.client
import http.server
import os
import re
import secrets
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from lab import tools
from lab.faults import Faults, RefuseWhenCut
from lab.metrics import METRICS, s3_operation

REGION = "us-east-1"

# An S3 profile is any name the lab is configured with (the runner passes
# the bucket catalogue's names): one endpoint each, as a MinIO server or an
# AWS region would be one.
PROFILE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def profile_credentials(profile):
    """The lab's fixed credentials for a profile (not secrets: the lab is
    local and throw-away, and lab.json hands them to its clients), derived
    from the name so that a lab restarted with the same profiles takes the
    same keys."""
    import hashlib
    digest = hashlib.sha256(profile.encode()).hexdigest()
    return {"access_key": f"lab-{profile}-access", "secret_key": f"lab-{profile}-secret-key-{digest[:8]}"}


BACKEND_START_TIMEOUT = 20.0
CORRUPT_SPAN = 16           # bytes flipped in the middle of a corrupted object
CORRUPT_EVERY = 512         # ... and one byte in every 512: a pack of many small contents (kopia, restic)
                            # is damaged in each of them, not only in the one at its middle
SERVER_DIRS = {".sgwtmp"}   # versitygw's own (multipart parts, temporary files), not objects
REPOSITORY_FORMAT_BLOB = "kopia.repository"     # deleting it wipes a kopia repository
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "expect", "te",
               "proxy-connection", "upgrade"}
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
_PR_SET_PDEATHSIG = 1


class S3Error(Exception):
    """A lab-side S3 operation failed (bad bucket, missing object...)."""


class S3Endpoint:
    """One S3 profile: its versitygw server and the proxy clients use."""

    def __init__(self, profile, data_dir, host="127.0.0.1"):
        if not PROFILE_NAME.match(profile or ""):
            raise ValueError(f"bad S3 profile name {profile!r} (lower-case letters, digits and '-')")
        self.profile = profile
        self.host = host
        self.data_dir = Path(data_dir)
        self.credentials = profile_credentials(profile)
        self.faults = Faults()
        self.on_damage = None       # callable(bucket): a bucket was corrupted, cut or a repository wiped
        self._quotas = {}           # bucket -> [limit, bytes used]
        self._parts = {}            # (bucket, upload id) -> {part number: bytes} of unfinished uploads
        self._quota_lock = threading.RLock()
        self._socket_name = f"\0dmaas-lab-s3-{os.getpid()}-{profile}-{secrets.token_hex(4)}"
        self._backend = None        # the versitygw process
        self._backend_log = None
        self._proxy = None
        self._proxy_thread = None

    # lifecycle -------------------------------------------------------------
    def spawn(self):
        """Start versitygw (returns at once; `wait_ready` finishes)."""
        tools.require("versitygw")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._backend_log = open(self.data_dir.parent / f"{self.profile}.log", "ab")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "ROOT_ACCESS_KEY_ID": self.credentials["access_key"],
               "ROOT_SECRET_ACCESS_KEY": self.credentials["secret_key"]}
        self._backend = subprocess.Popen(
            [tools.binary("versitygw"), "--region", REGION, "--port", "@" + self._socket_name[1:],
             "--keep-alive", "--quiet", "posix", str(self.data_dir)],
            stdin=subprocess.DEVNULL, stdout=self._backend_log, stderr=self._backend_log, env=env,
            preexec_fn=_die_with_parent)

    def wait_ready(self):
        """Wait for versitygw to accept connections, then start the proxy."""
        deadline = time.monotonic() + BACKEND_START_TIMEOUT
        while True:
            try:
                _backend_socket(self._socket_name).close()
                break
            except OSError:
                exited = self._backend.poll()
                if exited is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"S3 profile {self.profile}: versitygw " + (
                        f"exited with status {exited}" if exited is not None
                        else f"did not accept connections within {BACKEND_START_TIMEOUT:.0f}s")
                        + f" (log: {self.data_dir.parent / (self.profile + '.log')})")
                time.sleep(0.02)
        self._proxy = _ProxyServer((self.host, 0), _ProxyHandler)
        self._proxy.endpoint = self
        self._proxy.faults = self.faults
        self._proxy_thread = threading.Thread(target=self._proxy.serve_forever, args=(0.05,),
                                              name=f"s3-proxy-{self.profile}", daemon=True)
        self._proxy_thread.start()

    def start(self):
        self.spawn()
        self.wait_ready()
        return self

    def stop(self):
        if self._proxy is not None:
            self._proxy.shutdown()
            self._proxy.server_close()
            self._proxy = None
        if self._backend is not None:
            self._backend.terminate()
            try:
                self._backend.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._backend.kill()
                self._backend.wait()
            self._backend = None
        if self._backend_log is not None:
            self._backend_log.close()
            self._backend_log = None

    @property
    def endpoint(self):
        return f"http://{self.host}:{self._proxy.server_address[1]}"

    def state(self):
        """This endpoint's lab.json entry."""
        return {"endpoint": self.endpoint, "region": REGION,
                "access_key": self.credentials["access_key"],
                "secret_key": self.credentials["secret_key"]}

    def connect_backend(self):
        return _BackendConnection(self._socket_name)

    # objects on disk (versitygw's POSIX layout: <data dir>/<bucket>/<key>) --
    def _bucket_dir(self, bucket):
        path = self.data_dir / bucket
        if not bucket or "/" in bucket or bucket.startswith(".") or not path.is_dir():
            raise S3Error(f"bucket {bucket!r} does not exist on S3 profile {self.profile}")
        return path

    def object_size(self, bucket, key):
        """Bytes of an object (0 when there is none)."""
        try:
            path = self.data_dir / bucket / key
            return path.stat().st_size if key and not key.endswith("/") and path.is_file() else 0
        except (OSError, ValueError):
            return 0

    def usage(self, bucket):
        """Sum of the object sizes in `bucket`, from its files."""
        total = 0
        for top, dirs, files in os.walk(self._bucket_dir(bucket)):
            if top == str(self.data_dir / bucket):
                dirs[:] = [d for d in dirs if d not in SERVER_DIRS]
            total += sum(os.path.getsize(os.path.join(top, f)) for f in files)
        return total

    def buckets(self):
        return sorted(p.name for p in self.data_dir.iterdir() if p.is_dir() and not p.name.startswith("."))

    # quota -----------------------------------------------------------------
    def set_quota(self, bucket, limit):
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
            raise ValueError("bytes must be a non-negative integer or null")
        with self._quota_lock:
            if limit is None:
                self._quotas.pop(bucket, None)
            else:
                used = self._quotas[bucket][1] if bucket in self._quotas else self.usage(bucket)
                self._quotas[bucket] = [limit, used]

    def quota(self, bucket):
        with self._quota_lock:
            entry = self._quotas.get(bucket)
            return entry[0] if entry else None

    def quota_lock(self, bucket):
        """The lock a write to a bucket with a quota holds (None: no quota)."""
        with self._quota_lock:
            return self._quota_lock if bucket in self._quotas else None

    def beyond_quota(self, bucket, replaced_key, size):
        """Would writing `size` bytes in place of `replaced_key` pass the quota?"""
        with self._quota_lock:
            entry = self._quotas.get(bucket)
            if entry is None:
                return False
            replaced = self.object_size(bucket, replaced_key) if replaced_key else 0
            return entry[1] - replaced + self.pending_parts(bucket) + size > entry[0]

    def count_written(self, bucket, delta):
        with self._quota_lock:
            if bucket in self._quotas:
                self._quotas[bucket][1] += delta

    def pending_parts(self, bucket):
        """Bytes of uploaded parts of multipart uploads not completed yet."""
        with self._quota_lock:
            return sum(sum(parts.values()) for (b, _), parts in self._parts.items() if b == bucket)

    def track_upload(self, method, bucket, query, size, status):
        """Follow multipart uploads so their parts count against the quota."""
        params = parse_qs(query)
        upload = (params.get("uploadId") or [None])[0]
        if upload is None or status >= 300:
            return
        with self._quota_lock:
            if method == "PUT" and "partNumber" in params:
                self._parts.setdefault((bucket, upload), {})[params["partNumber"][0]] = size
            elif method in ("POST", "DELETE"):          # completed or aborted
                self._parts.pop((bucket, upload), None)

    # faults ----------------------------------------------------------------
    def damaged(self, bucket, wiped=False):
        """Tell whoever keeps a bucket's repositories open that it changes
        under them (the lab's uploader drops them)."""
        if self.on_damage is not None:
            self.on_damage(bucket, wiped)

    def corrupt(self, bucket, key):
        """Flip bytes in the middle of an object and one in every
        CORRUPT_EVERY, on disk, as bit rot would: key, size, ETag and
        metadata stay."""
        path = self._bucket_dir(bucket) / key
        if not key or key.endswith("/") or not path.is_file():
            raise S3Error(f"no object {key!r} in bucket {bucket!r} on S3 profile {self.profile}")
        data = bytearray(path.read_bytes())
        if not data:
            raise S3Error(f"object {key!r} in bucket {bucket!r} is empty: nothing to corrupt")
        start = max(0, len(data) // 2 - CORRUPT_SPAN // 2)
        end = min(len(data), start + CORRUPT_SPAN)
        flipped = set(range(start, end)) | set(range(CORRUPT_EVERY // 2, len(data), CORRUPT_EVERY))
        for i in flipped:
            data[i] ^= 0xFF
        self.damaged(bucket)                    # before: nothing open writes on top of the damage
        with open(path, "r+b") as stored:        # in place: versitygw's xattrs (ETag...) stay
            stored.write(bytes(data))
        return {"bucket": bucket, "key": key, "flipped": len(flipped)}


def _die_with_parent():
    """In the child: get SIGTERM when the lab process dies."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _backend_socket(name, timeout=120):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(name)
    except OSError:
        sock.close()
        raise
    return sock


class _BackendConnection(http.client.HTTPConnection):
    """HTTP to versitygw over its abstract UNIX socket."""

    def __init__(self, name):
        super().__init__("localhost", timeout=120)
        self._name = name

    def connect(self):
        self.sock = _backend_socket(self._name, self.timeout)


class _ProxyServer(RefuseWhenCut, http.server.ThreadingHTTPServer):
    daemon_threads = True
    endpoint = None


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True     # headers and body are two writes: no 40 ms ACK wait
    _backend_conn = None

    def log_message(self, *args):        # request logs would drown the lab's output
        pass

    def do_GET(self):
        self._proxy()

    do_PUT = do_POST = do_DELETE = do_HEAD = do_GET

    def _proxy(self):
        started = time.perf_counter()
        path = urlsplit(self.path)
        parts = unquote(path.path).lstrip("/").split("/", 1)
        bucket = parts[0] or None
        key = parts[1] if len(parts) > 1 and parts[1] else None
        try:
            self._serve(path, bucket, key)
        finally:
            METRICS.add("s3", s3_operation(self.command, bucket, key, path.query),
                        time.perf_counter() - started)

    def _serve(self, path, bucket, key):
        endpoint = self.server.endpoint
        if endpoint.faults.is_cut(bucket):
            # A cut bucket behaves like an unreachable server: no answer.
            self.close_connection = True
            return
        endpoint.faults.wait(bucket)
        access_key = _access_key(self.headers, path.query)
        if access_key != endpoint.credentials["access_key"]:
            self._read_body()
            code = "AccessDenied" if access_key is None else "InvalidAccessKeyId"
            message = ("Access Denied." if access_key is None else
                       "The Access Key Id you provided does not exist in our records.")
            return self._send_error(403, code, message, bucket, key)
        body = self._read_body()
        lock = endpoint.quota_lock(bucket) if bucket and self.command in ("PUT", "POST", "DELETE") else None
        wipes = (self.command in ("DELETE", "POST") and bucket and any(
            k.rsplit("/", 1)[-1] == REPOSITORY_FORMAT_BLOB for k in self._changed_keys(key, path.query, body)))

        def before_reply(status):
            if wipes and status < 300:        # a repository wiped under whoever keeps it open:
                endpoint.damaged(bucket, wiped=True)      # done with it before the wiper goes on
        if lock is None:
            status = self._forward(endpoint, body, before_reply)
        else:
            with lock:                        # the running count moves with each write, one at a time
                status = self._write_within_quota(endpoint, bucket, key, path.query, body, before_reply)
        if bucket and key:
            endpoint.track_upload(self.command, bucket, path.query, self._size(body), status)

    def _size(self, body):
        return int(self.headers.get("x-amz-decoded-content-length") or len(body))

    def _changed_keys(self, key, query, body):
        """The objects a write may change: its key, or a multi-object delete's keys."""
        if self.command == "POST" and "delete" in parse_qs(query, keep_blank_values=True):
            try:
                return [e.text or "" for e in ElementTree.fromstring(body).iter() if e.tag.endswith("Key")]
            except ElementTree.ParseError:
                return []
        return [key] if key else []

    def _write_within_quota(self, endpoint, bucket, key, query, body, before_reply):
        is_object_put = (self.command == "PUT" and key and "x-amz-copy-source" not in self.headers)
        if is_object_put and endpoint.beyond_quota(bucket, None if "partNumber" in query else key,
                                                   self._size(body)):
            self._send_error(400, "XMinioAdminBucketQuotaExceeded", "Bucket quota exceeded", bucket, key)
            return 400
        keys = self._changed_keys(key, query, body)
        before = sum(endpoint.object_size(bucket, k) for k in keys)
        status = self._forward(endpoint, body, before_reply)
        if status < 300:
            endpoint.count_written(bucket, sum(endpoint.object_size(bucket, k) for k in keys) - before)
        return status

    def _read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _forward(self, endpoint, body, before_reply=None):
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        if body or self.command in ("PUT", "POST"):
            headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
            headers["Content-Length"] = str(len(body))
        for attempt in (1, 2):
            try:
                if self._backend_conn is None:
                    self._backend_conn = endpoint.connect_backend()
                self._backend_conn.request(self.command, self.path, body=body, headers=headers)
                response = self._backend_conn.getresponse()
                data = response.read()
                break
            except (ConnectionError, http.client.HTTPException, OSError):
                self._backend_conn = None
                if attempt == 2:
                    self._send_error(503, "ServiceUnavailable", "lab S3 backend unreachable", None, None)
                    return 503
        if before_reply is not None:
            before_reply(response.status)
        self.send_response_only(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() in _HOP_BY_HOP:
                continue
            if name.lower() == "content-length" and self.command != "HEAD":
                continue
            self.send_header(name, value)
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        return response.status

    def _send_error(self, status, code, message, bucket, key):
        resource = "/" + "/".join(p for p in (bucket, key) if p)
        request_id = uuid.uuid4().hex[:16].upper()
        xml = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error>'
               f"<Code>{code}</Code><Message>{escape(message)}</Message>"
               + (f"<Key>{escape(key)}</Key>" if key else "")
               + (f"<BucketName>{escape(bucket)}</BucketName>" if bucket else "")
               + f"<Resource>{escape(resource)}</Resource><Region>{REGION}</Region>"
               f"<RequestId>{request_id}</RequestId><HostId>lab</HostId></Error>").encode()
        self.send_response_only(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("x-amz-request-id", request_id)
        self.send_header("Content-Length", "0" if self.command == "HEAD" else str(len(xml)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(xml)


def _access_key(headers, query):
    """The access key id a request is signed with (header or presigned URL)."""
    match = _CREDENTIAL.search(headers.get("Authorization", ""))
    if match:
        return match.group(1)
    auth = headers.get("Authorization", "")
    if auth.startswith("AWS "):              # signature v2
        return auth[4:].split(":", 1)[0]
    match = re.search(r"X-Amz-Credential=([^&%/]+)", query)
    return unquote(match.group(1)) if match else None
