"""S3 access for one bucket, as Velero's AWS object-store plugin does it:
boto3 against `s3Url` with the location's region and path style. Every
failure becomes a StorageError with a one-line reason."""
import collections
import functools
import threading

import boto3
import botocore.config
import botocore.exceptions

# Fail fast: a cut endpoint must turn into a phase, not a hung tick loop.
# Stored CRCs are not checked on reads: what reads the data checks it (gzip,
# kopia's hashes, the snapshot chains' checksums), as the plugins' older SDKs
# and gocloud leave it to them, so a corrupted object fails with their reason.
_CLIENT_CONFIG = dict(connect_timeout=3, read_timeout=30, retries={"max_attempts": 1, "mode": "standard"},
                      response_checksum_validation="when_required")


CACHE_BYTES = 64 << 20     # bodies kept by ETag across every bucket the lab reads


class _BodyCache:
    """Object bodies by (endpoint, bucket, key, ETag). An ETag names one
    content (versitygw's is the MD5 of the body), so a body found here is what a
    GET would return for a listing that shows that ETag: a changed or
    corrupted object has another ETag and is read again. Used only where a
    fresh listing supplies the ETags."""

    def __init__(self, limit):
        self.limit, self.size = limit, 0
        self._bodies = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            body = self._bodies.get(key)
            if body is not None:
                self._bodies.move_to_end(key)
            return body

    def forget(self, bucket):
        """Drop every body of `bucket` (the lab damaged it: ETags may no longer name the content)."""
        with self._lock:
            for key in [k for k in self._bodies if k[1] == bucket or bucket is None]:
                self.size -= len(self._bodies.pop(key))

    def put(self, key, body):
        if not key[-1] or len(body) > self.limit // 8:
            return
        with self._lock:
            old = self._bodies.pop(key, None)
            self.size += len(body) - (len(old) if old is not None else 0)
            self._bodies[key] = body
            while self.size > self.limit:
                self.size -= len(self._bodies.popitem(last=False)[1])


_BODIES = _BodyCache(CACHE_BYTES)


def forget_bodies(bucket=None):
    """After the lab corrupted, cut or wiped a bucket (every bucket: None)."""
    _BODIES.forget(bucket)


class StorageError(Exception):
    """An S3 call failed; str() is the one-line reason."""


def describe_error(exc):
    if isinstance(exc, botocore.exceptions.ClientError):
        err = exc.response.get("Error", {})
        code = err.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return f"{code}: {err.get('Message') or exc}"
    if isinstance(exc, botocore.exceptions.EndpointConnectionError):
        return f"could not connect to the endpoint {exc.kwargs.get('endpoint_url', '')}".strip()
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


@functools.lru_cache(maxsize=64)
def _client(endpoint, region, access_key, secret_key, path_style):
    config = botocore.config.Config(
        s3={"addressing_style": "path" if path_style else "auto"}, **_CLIENT_CONFIG)
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint or None, region_name=region,
        aws_access_key_id=access_key, aws_secret_access_key=secret_key, config=config)


def _calls(method):
    """Wrap boto3/botocore failures of a method into StorageError."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise StorageError(f"{method.__name__} on bucket {self.bucket}: {describe_error(exc)}") from None
    return wrapper


class ObjectStorage:
    def __init__(self, bucket, endpoint, region, access_key, secret_key, path_style=True):
        self.bucket = bucket
        self.endpoint = endpoint
        self.region = region
        self.client = _client(endpoint, region, access_key, secret_key, bool(path_style))

    @_calls
    def check(self, prefix=""):
        """Raise StorageError unless the bucket is reachable and listable:
        one delimited listing under the prefix, as the AWS plugin's IsValid
        (ListCommonPrefixes) does; a missing bucket answers NoSuchBucket."""
        self.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix, Delimiter="/", MaxKeys=1)

    def _cache_key(self, key, etag):
        return (self.endpoint, self.bucket, key, (etag or "").strip('"'))

    @_calls
    def put(self, key, data):
        answer = self.client.put_object(Bucket=self.bucket, Key=key, Body=data)
        _BODIES.put(self._cache_key(key, answer.get("ETag")), bytes(data))

    @_calls
    def get(self, key, etag=None):
        """The object's body; with the ETag a listing just gave for it, a
        body already read or written under that ETag is not fetched again."""
        if etag:
            cached = _BODIES.get(self._cache_key(key, etag))
            if cached is not None:
                return cached
        answer = self.client.get_object(Bucket=self.bucket, Key=key)
        body = answer["Body"].read()
        _BODIES.put(self._cache_key(key, answer.get("ETag")), body)
        return body

    @_calls
    def exists(self, key):
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
            return True
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                return False
            raise

    def list_keys(self, prefix):
        return sorted(self.list_etags(prefix))

    @_calls
    def list_etags(self, prefix):
        """{key: ETag} of every object under prefix."""
        etags = {}
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            etags.update((entry["Key"], entry.get("ETag", "")) for entry in page.get("Contents", []))
        return etags

    @_calls
    def list_dirs(self, prefix):
        """Common prefixes ("directories") directly under prefix."""
        dirs = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/"):
            dirs += [entry["Prefix"] for entry in page.get("CommonPrefixes", [])]
        return dirs

    @_calls
    def delete_keys(self, keys):
        keys = list(keys)
        for start in range(0, len(keys), 1000):
            chunk = [{"Key": key} for key in keys[start:start + 1000]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": chunk, "Quiet": True})

    def delete_prefix(self, prefix):
        self.delete_keys(self.list_keys(prefix))
