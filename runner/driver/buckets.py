"""One S3 bucket through the client its profile names: boto3 (AWS) or minio (MinIO).

    Bucket(profile: BucketProfile)                    # driver.bucket("aws")
    .profile (name), .name (bucket name), .client_kind ("boto3" | "minio")
    .list(prefix="") -> [ObjectInfo(key, size, last_modified)]   # recursive, sorted by key
    .dirs(prefix) -> [str]                           # common prefixes right under prefix ("a/b/"), sorted
    .get(key) -> bytes
    .get_if_present(key) -> bytes | None             # None when the key is gone (deleted since it was listed)
    .put(key, data: bytes)
    .delete(key)
    .delete_prefix(prefix) -> int                    # objects deleted
    .usage(prefix="") -> int                         # bytes under prefix, summed from the listing
    .exists(key) -> bool
    .reachable(timeout=3) -> bool                    # can we list the bucket right now
    .ensure()                                        # create the bucket if missing

    s3_client(profile, connect_timeout=5, read_timeout=60, attempts=2) -> a boto3 S3 client

A profile's options (runner.targets.base.BucketOptions: the endpoint's CA
bundle, insecure TLS, path-style addressing, checksum algorithm) reach both
clients as they reach the BSL (runner/dmaas/locations.py): boto3 verifies
with the CA bundle (or not at all), addresses path- or virtual-style, and
computes no checksums when the algorithm is "" (as the AWS plugin's
checksumAlgorithm "" turns them off) or sends that algorithm's; the minio
client verifies with the CA bundle (or not at all) and addresses
virtual-style when path_style is off (it sends no checksum headers).
Credentials stay inside the client objects; nothing here prints them.
"""
import collections
import io
import urllib.parse
import warnings

import boto3
import botocore.config
import botocore.exceptions
import minio
import minio.error
import urllib3

ObjectInfo = collections.namedtuple("ObjectInfo", "key size last_modified")


def Bucket(profile):
    """The Bucket for a profile, by its client."""
    if profile.client == "minio":
        return MinioBucket(profile)
    if profile.client == "boto3":
        return Boto3Bucket(profile)
    raise ValueError(f"bucket profile '{profile.name}': unknown client {profile.client!r} (boto3 | minio)")


class _BucketBase:
    client_kind = None

    def __init__(self, profile):
        self.profile = profile.name
        self.name = profile.bucket
        self.endpoint = profile.endpoint

    def __repr__(self):
        return f"<bucket {self.profile}: {self.client_kind} {self.endpoint}/{self.name}>"

    def usage(self, prefix=""):
        return sum(info.size for info in self.list(prefix))

    def delete_prefix(self, prefix):
        if not prefix.strip("/"):
            raise ValueError(f"bucket {self.profile}: refusing to delete everything (empty prefix)")
        keys = [info.key for info in self.list(prefix)]
        self._delete_many(keys)
        return len(keys)


def _quiet_if_insecure(options):
    """Unverified TLS is what the profile asked for: said once in it, not on every request."""
    if options.insecure_skip_tls_verify:
        warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)


def s3_client(profile, connect_timeout=5, read_timeout=60, attempts=2):
    """boto3's S3 client for a bucket profile, its options applied."""
    options = profile.options
    _quiet_if_insecure(options)
    checksums = {}
    if options.checksum_algorithm == "":
        checksums = {"request_checksum_calculation": "when_required", "response_checksum_validation": "when_required"}
    config = botocore.config.Config(connect_timeout=connect_timeout, read_timeout=read_timeout,
                                    retries={"max_attempts": attempts},
                                    s3={"addressing_style": "path" if options.path_style else "virtual"}, **checksums)
    verify = False if options.insecure_skip_tls_verify else (options.ca_bundle or None)
    return boto3.session.Session().client("s3", endpoint_url=profile.endpoint, region_name=profile.region or "us-east-1",
                                          aws_access_key_id=profile.access_key,
                                          aws_secret_access_key=profile.secret_key, config=config, verify=verify)


class Boto3Bucket(_BucketBase):
    client_kind = "boto3"

    def __init__(self, profile):
        super().__init__(profile)
        self._s3 = s3_client(profile)
        self._probe = s3_client(profile, connect_timeout=2, read_timeout=3, attempts=1)
        self._put_checksum = ({"ChecksumAlgorithm": profile.options.checksum_algorithm}
                              if profile.options.checksum_algorithm else {})

    def list(self, prefix=""):
        found = []
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix):
            for item in page.get("Contents", []):
                found.append(ObjectInfo(item["Key"], item["Size"], item["LastModified"]))
        return sorted(found)

    def dirs(self, prefix):
        found = []
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix,
                                                                          Delimiter="/"):
            found += [entry["Prefix"] for entry in page.get("CommonPrefixes", [])]
        return sorted(found)

    def _delete_many(self, keys):
        for start in range(0, len(keys), 1000):     # DeleteObjects takes 1,000 keys a call
            answer = self._s3.delete_objects(Bucket=self.name, Delete={
                "Objects": [{"Key": key} for key in keys[start:start + 1000]], "Quiet": True})
            if answer.get("Errors"):
                error = answer["Errors"][0]
                raise RuntimeError(f"bucket {self.profile}: deleting {error.get('Key')}: {error.get('Code')}")

    def get(self, key):
        return self._s3.get_object(Bucket=self.name, Key=key)["Body"].read()

    def get_if_present(self, key):
        try:
            return self.get(key)
        except botocore.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def put(self, key, data):
        self._s3.put_object(Bucket=self.name, Key=key, Body=data, **self._put_checksum)

    def delete(self, key):
        self._s3.delete_object(Bucket=self.name, Key=key)

    def exists(self, key):
        try:
            self._s3.head_object(Bucket=self.name, Key=key)
            return True
        except botocore.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    def reachable(self, timeout=3):
        try:
            self._probe.list_objects_v2(Bucket=self.name, MaxKeys=1)
            return True
        except Exception:   # refused, reset, timeout, 5xx: all mean "not reachable"
            return False

    def ensure(self):
        try:
            self._s3.head_bucket(Bucket=self.name)
        except botocore.exceptions.ClientError:
            kwargs = {}
            if self._s3.meta.region_name not in (None, "us-east-1"):
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self._s3.meta.region_name}
            self._s3.create_bucket(Bucket=self.name, **kwargs)


class MinioBucket(_BucketBase):
    client_kind = "minio"

    def __init__(self, profile):
        super().__init__(profile)
        options = profile.options
        _quiet_if_insecure(options)
        url = urllib.parse.urlparse(profile.endpoint)
        common = dict(access_key=profile.access_key, secret_key=profile.secret_key,
                      secure=url.scheme == "https", region=profile.region or "us-east-1",
                      cert_check=not options.insecure_skip_tls_verify)
        tls = {"cert_reqs": "CERT_NONE"} if options.insecure_skip_tls_verify else \
            ({"cert_reqs": "CERT_REQUIRED", "ca_certs": options.ca_bundle} if options.ca_bundle else {})
        http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=5, read=60),
                                   retries=urllib3.Retry(total=2, backoff_factor=0.2), **tls)
        quick = urllib3.PoolManager(timeout=urllib3.Timeout(connect=2, read=3), retries=False, **tls)
        self._client = minio.Minio(url.netloc, http_client=http, **common)
        self._probe = minio.Minio(url.netloc, http_client=quick, **common)
        if not options.path_style:
            for client in (self._client, self._probe):
                client.enable_virtual_style_endpoint()

    def list(self, prefix=""):
        return sorted(ObjectInfo(o.object_name, o.size, o.last_modified)
                      for o in self._client.list_objects(self.name, prefix=prefix or None, recursive=True))

    def dirs(self, prefix):
        return sorted(o.object_name for o in self._client.list_objects(self.name, prefix=prefix, recursive=False)
                      if o.is_dir)

    def _delete_many(self, keys):
        from minio.deleteobjects import DeleteObject
        for error in self._client.remove_objects(self.name, (DeleteObject(key) for key in keys)):
            raise RuntimeError(f"bucket {self.profile}: deleting {error.name}: {error.code}")

    def get(self, key):
        response = self._client.get_object(self.name, key)
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def get_if_present(self, key):
        try:
            return self.get(key)
        except minio.error.S3Error as error:
            if error.code in ("NoSuchKey", "NoSuchObject", "ResourceNotFound"):
                return None
            raise

    def put(self, key, data):
        self._client.put_object(self.name, key, io.BytesIO(data), len(data))

    def delete(self, key):
        self._client.remove_object(self.name, key)

    def exists(self, key):
        try:
            self._client.stat_object(self.name, key)
            return True
        except minio.error.S3Error as error:
            if error.code in ("NoSuchKey", "NoSuchObject", "ResourceNotFound"):
                return False
            raise

    def reachable(self, timeout=3):
        try:
            next(iter(self._probe.list_objects(self.name)), None)
            return True
        except Exception:   # refused, reset, timeout, 5xx: all mean "not reachable"
            return False

    def ensure(self):
        if not self._client.bucket_exists(self.name):
            self._client.make_bucket(self.name)
