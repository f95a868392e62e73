"""S3 endpoints of the lab: one moto server per profile plus a proxy in front.

Clients (boto3, minio, restic, the velero controllers) talk to the proxy; the
proxy checks the access key, applies faults (cut / slow, server-wide or per
bucket) and bucket quotas the way MinIO reports them, and forwards everything
else unchanged (path-style addressing, Host header kept) to moto.

Each moto server runs in its own child process (`python -m lab.s3 PROFILE`)
because moto keeps one global bucket namespace per process: MinIO and AWS are
different worlds, so the same bucket name must be creatable in both. The child
exits when its stdin closes, so it never outlives the lab process.
"""
import hashlib
import http.client
import http.server
import logging
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from urllib.parse import parse_qs, unquote, urlsplit

from lab.metrics import METRICS, s3_operation
from xml.sax.saxutils import escape

from lab.faults import Faults, RefuseWhenCut

REGION = "us-east-1"

# An S3 profile is any name the lab is configured with (the runner passes
# the bucket catalogue's names): one endpoint each, as a MinIO server or an
# AWS region would be one.
PROFILE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def profile_credentials(profile):
    """The lab's fixed credentials for a profile (not secrets: the lab is
    local and throw-away, and lab.json hands them to its clients), derived
    from the name so that a lab restarted with the same profiles takes the
    same keys. Each profile is also a moto account of its own, so their
    objects never mix."""
    digest = hashlib.sha256(profile.encode()).hexdigest()
    return {"access_key": f"lab-{profile}-access", "secret_key": f"lab-{profile}-secret-key-{digest[:8]}",
            "account": f"{int(digest[:12], 16) % 10 ** 12:012d}"}

BACKEND_START_TIMEOUT = 20.0
CORRUPT_SPAN = 16           # bytes flipped in the middle of a corrupted object
CORRUPT_EVERY = 512         # ... and one byte in every 512: a pack of many small contents (kopia, restic)
                            # is damaged in each of them, not only in the one at its middle
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "expect", "te",
               "proxy-connection", "upgrade"}
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")


class S3Error(Exception):
    """A lab-side S3 operation failed (bad bucket, missing object...)."""


class S3Endpoint:
    """One S3 profile: its moto child process and the proxy clients use."""

    def __init__(self, profile, host="127.0.0.1"):
        if not PROFILE_NAME.match(profile or ""):
            raise ValueError(f"bad S3 profile name {profile!r} (lower-case letters, digits and '-')")
        self.profile = profile
        self.host = host
        self.credentials = profile_credentials(profile)
        self.faults = Faults()
        self._quotas = {}           # bucket -> bytes
        self._parts = {}            # (bucket, upload id) -> {part number: bytes} of unfinished uploads
        self._quota_lock = threading.Lock()
        self._backend = None        # child process
        self.backend_port = None
        self._proxy = None
        self._proxy_thread = None
        self._client = None
        self._client_lock = threading.Lock()

    # lifecycle -------------------------------------------------------------
    def spawn(self):
        """Start the moto child (returns at once; `wait_ready` finishes)."""
        package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root,
                                                                        os.environ.get("PYTHONPATH")])))
        self._backend = subprocess.Popen(
            [sys.executable, "-m", "lab.s3", self.profile],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, env=env)

    def wait_ready(self):
        """Read the child's port, then start the proxy."""
        port_line = _readline_with_timeout(self._backend.stdout, BACKEND_START_TIMEOUT)
        if not port_line or not port_line.strip().isdigit():
            exited = self._backend.poll()
            self.stop()
            raise RuntimeError(f"S3 profile {self.profile}: moto server " + (
                f"exited with status {exited}" if exited is not None
                else f"did not report its port within {BACKEND_START_TIMEOUT:.0f}s"))
        self.backend_port = int(port_line)
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
            try:
                self._backend.stdin.close()
                self._backend.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._backend.kill()
                self._backend.wait()
            self._backend.stdout.close()
            self._backend = None

    @property
    def endpoint(self):
        return f"http://{self.host}:{self._proxy.server_address[1]}"

    def state(self):
        """This endpoint's lab.json entry."""
        return {"endpoint": self.endpoint, "region": REGION,
                "access_key": self.credentials["access_key"],
                "secret_key": self.credentials["secret_key"]}

    # quota -----------------------------------------------------------------
    def set_quota(self, bucket, limit):
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
            raise ValueError("bytes must be a non-negative integer or null")
        with self._quota_lock:
            if limit is None:
                self._quotas.pop(bucket, None)
            else:
                self._quotas[bucket] = limit

    def quota(self, bucket):
        with self._quota_lock:
            return self._quotas.get(bucket)

    def usage(self, bucket):
        """Sum of object sizes in `bucket`, read from moto."""
        client = self._backend_client()
        total = 0
        try:
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                total += sum(obj["Size"] for obj in page.get("Contents", []))
        except client.exceptions.NoSuchBucket:
            raise S3Error(f"bucket {bucket!r} does not exist on S3 profile {self.profile}")
        return total

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

    def buckets(self):
        return [b["Name"] for b in self._backend_client().list_buckets().get("Buckets", [])]

    # corruption ------------------------------------------------------------
    def corrupt(self, bucket, key):
        """Flip bytes in the middle of an object and one in every CORRUPT_EVERY,
        keeping key and metadata."""
        client = self._backend_client()
        try:
            obj = client.get_object(Bucket=bucket, Key=key)
        except (client.exceptions.NoSuchKey, client.exceptions.NoSuchBucket):
            raise S3Error(f"no object {key!r} in bucket {bucket!r} on S3 profile {self.profile}")
        data = bytearray(obj["Body"].read())
        if not data:
            raise S3Error(f"object {key!r} in bucket {bucket!r} is empty: nothing to corrupt")
        start = max(0, len(data) // 2 - CORRUPT_SPAN // 2)
        end = min(len(data), start + CORRUPT_SPAN)
        flipped = set(range(start, end)) | set(range(CORRUPT_EVERY // 2, len(data), CORRUPT_EVERY))
        for i in flipped:
            data[i] ^= 0xFF
        client.put_object(Bucket=bucket, Key=key, Body=bytes(data),
                          ContentType=obj.get("ContentType", "binary/octet-stream"),
                          Metadata=obj.get("Metadata", {}))
        return {"bucket": bucket, "key": key, "flipped": len(flipped)}

    def _backend_client(self):
        """boto3 client straight to moto (bypasses faults and quota)."""
        with self._client_lock:     # boto3's default session is not safe to share while creating
            if self._client is None:
                self._client = self._make_backend_client()
        return self._client

    def _make_backend_client(self):
        import boto3            # imported lazily: only quota/corrupt need it
        from botocore.config import Config
        client = boto3.client(
            "s3", endpoint_url=f"http://{self.host}:{self.backend_port}", region_name=REGION,
            aws_access_key_id=self.credentials["access_key"],
            aws_secret_access_key=self.credentials["secret_key"],
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}))
        account = self.credentials["account"]

        def _add_account(request, **_):
            request.headers["x-moto-account-id"] = account
        client.meta.events.register("before-sign.s3", _add_account)
        return client


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
        if self.command == "PUT" and bucket and key and "x-amz-copy-source" not in self.headers:
            if self._beyond_quota(endpoint, bucket, body):
                return self._send_error(400, "XMinioAdminBucketQuotaExceeded",
                                        "Bucket quota exceeded", bucket, key)
        status = self._forward(endpoint, body)
        if bucket and key:
            endpoint.track_upload(self.command, bucket, path.query,
                                  int(self.headers.get("x-amz-decoded-content-length") or len(body)), status)

    def _beyond_quota(self, endpoint, bucket, body):
        limit = endpoint.quota(bucket)
        if limit is None:
            return False
        size = int(self.headers.get("x-amz-decoded-content-length") or len(body))
        try:
            used = endpoint.usage(bucket)
        except S3Error:
            return False            # moto will answer NoSuchBucket itself
        return used + endpoint.pending_parts(bucket) + size > limit

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

    def _forward(self, endpoint, body):
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        if body or self.command in ("PUT", "POST"):
            headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
            headers["Content-Length"] = str(len(body))
        headers["x-moto-account-id"] = endpoint.credentials["account"]
        for attempt in (1, 2):
            try:
                if self._backend_conn is None:
                    self._backend_conn = http.client.HTTPConnection(
                        endpoint.host, endpoint.backend_port, timeout=120)
                self._backend_conn.request(self.command, self.path, body=body, headers=headers)
                response = self._backend_conn.getresponse()
                data = response.read()
                break
            except (ConnectionError, http.client.HTTPException, OSError):
                self._backend_conn = None
                if attempt == 2:
                    self._send_error(503, "ServiceUnavailable", "lab S3 backend unreachable", None, None)
                    return 503
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


def _readline_with_timeout(stream, timeout):
    result = []
    reader = threading.Thread(target=lambda: result.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return result[0] if result else None


def _serve_backend(profile):
    """Child process: run moto for one profile until stdin closes."""
    from moto.server import ThreadedMotoServer
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    print(server.get_host_and_port()[1], flush=True)
    sys.stdin.read()          # returns when the lab closes the pipe (or dies)
    os._exit(0)               # moto holds nothing worth a graceful shutdown


if __name__ == "__main__":
    _serve_backend(sys.argv[1])
