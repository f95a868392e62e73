"""S3 endpoints through boto3, minio and restic: quota, faults, corruption, isolation."""
import io
import os
import subprocess
import time

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config
from minio import Minio
from minio.error import S3Error

from lab_http import control, s3_client

# What boto3 raises when a server closes the connection without answering.
UNREACHABLE = (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)


def minio_client(lab, profile="minio"):
    s3 = lab.state["s3"][profile]
    return Minio(s3["endpoint"].split("://", 1)[1], access_key=s3["access_key"], secret_key=s3["secret_key"],
                 secure=False, region=s3["region"])


@pytest.fixture
def bucket(lab, request):
    name = "b-" + request.node.name.replace("_", "-").lower()[:40]
    s3 = s3_client(lab, "minio")
    s3.create_bucket(Bucket=name)
    yield name
    control(lab, "PUT", "/s3/minio/quota", {"bucket": name, "bytes": None})
    control(lab, "POST", "/faults/s3/minio", {"action": "restore", "bucket": name})
    for obj in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=obj["Key"])
    s3.delete_bucket(Bucket=name)


def test_profiles_are_separate_worlds(lab):
    minio, aws = s3_client(lab, "minio"), s3_client(lab, "aws")
    minio.create_bucket(Bucket="shared-name")
    aws.create_bucket(Bucket="shared-name")          # same name, other endpoint: no clash
    minio.put_object(Bucket="shared-name", Key="only-in-minio", Body=b"x")
    assert aws.list_objects_v2(Bucket="shared-name").get("KeyCount") == 0
    aws_keys = lab.state["s3"]["aws"]
    aws_keys_on_minio = boto3.client(
        "s3", endpoint_url=lab.state["s3"]["minio"]["endpoint"], region_name="us-east-1",
        aws_access_key_id=aws_keys["access_key"], aws_secret_access_key=aws_keys["secret_key"],
        config=Config(s3={"addressing_style": "path"}))
    with pytest.raises(botocore.exceptions.ClientError) as denied:
        aws_keys_on_minio.list_buckets()
    assert denied.value.response["Error"]["Code"] == "InvalidAccessKeyId"


def test_quota_exceeded_through_boto3_and_minio(lab, bucket):
    s3 = s3_client(lab, "minio")
    s3.put_object(Bucket=bucket, Key="first", Body=b"a" * 600)
    status, body = control(lab, "PUT", "/s3/minio/quota", {"bucket": bucket, "bytes": 1000})
    assert status == 200 and body["bytes"] == 1000
    s3.put_object(Bucket=bucket, Key="fits", Body=b"b" * 400)        # exactly at the quota
    with pytest.raises(botocore.exceptions.ClientError) as exceeded:
        s3.put_object(Bucket=bucket, Key="too-much", Body=b"c")
    assert exceeded.value.response["Error"]["Code"] == "XMinioAdminBucketQuotaExceeded"
    assert exceeded.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert exceeded.value.response["Error"]["Message"] == "Bucket quota exceeded"
    with pytest.raises(S3Error) as minio_exceeded:
        minio_client(lab).put_object(bucket, "too-much", io.BytesIO(b"d" * 10), 10)
    assert minio_exceeded.value.code == "XMinioAdminBucketQuotaExceeded"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["first", "fits"]
    control(lab, "PUT", "/s3/minio/quota", {"bucket": bucket, "bytes": None})
    s3.put_object(Bucket=bucket, Key="too-much", Body=b"c")


def test_cut_restore_and_slow_a_bucket_and_an_endpoint(lab, bucket):
    s3 = s3_client(lab, "minio", retries={"max_attempts": 1})
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    control(lab, "POST", "/faults/s3/minio", {"action": "cut", "bucket": bucket})
    with pytest.raises(UNREACHABLE):
        s3.get_object(Bucket=bucket, Key="k")
    s3.list_buckets()                      # the endpoint itself still answers
    control(lab, "POST", "/faults/s3/minio", {"action": "restore", "bucket": bucket})
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
    control(lab, "POST", "/faults/s3/minio", {"action": "cut"})
    try:
        with pytest.raises(UNREACHABLE):
            s3.list_buckets()
        s3_client(lab, "aws").list_buckets()   # another profile is untouched
    finally:
        control(lab, "POST", "/faults/s3/minio", {"action": "restore"})
    control(lab, "POST", "/faults/s3/minio", {"action": "slow", "bucket": bucket, "delay": 0.3})
    started = time.monotonic()
    s3.get_object(Bucket=bucket, Key="k")
    assert time.monotonic() - started >= 0.3
    control(lab, "POST", "/faults/s3/minio", {"action": "restore", "bucket": bucket})
    started = time.monotonic()
    s3.get_object(Bucket=bucket, Key="k")
    assert time.monotonic() - started < 0.3


def test_corrupt_flips_bytes_in_place(lab, bucket):
    s3 = s3_client(lab, "minio")
    original = bytes(range(256)) * 4
    s3.put_object(Bucket=bucket, Key="backups/b1/b1.tar.gz", Body=original)
    status, body = control(lab, "POST", "/faults/s3/minio/corrupt", {"bucket": bucket, "key": "backups/b1/b1.tar.gz"})
    assert status == 200 and body["flipped"] > 0
    # boto3 checks the CRC32 it stored with the object and refuses the rotten bytes ...
    with pytest.raises(botocore.exceptions.FlexibleChecksumError):
        s3.get_object(Bucket=bucket, Key="backups/b1/b1.tar.gz")["Body"].read()
    # ... which a client that does not check (kopia's, restic's) reads as they are
    unchecked = s3_client(lab, "minio", response_checksum_validation="when_required")
    corrupted = unchecked.get_object(Bucket=bucket, Key="backups/b1/b1.tar.gz")["Body"].read()
    assert len(corrupted) == len(original) and corrupted != original
    assert sum(a != b for a, b in zip(original, corrupted)) == body["flipped"]
    status, body = control(lab, "POST", "/faults/s3/minio/corrupt", {"bucket": bucket, "key": "missing"})
    assert status == 400 and "missing" in body["error"]


def test_restic_repository_through_the_proxy(lab, bucket, tmp_path):
    s3 = lab.state["s3"]["minio"]
    source = tmp_path / "src"
    source.mkdir()
    (source / "data.bin").write_bytes(os.urandom(200_000))
    env = dict(os.environ, AWS_ACCESS_KEY_ID=s3["access_key"], AWS_SECRET_ACCESS_KEY=s3["secret_key"],
               AWS_DEFAULT_REGION=s3["region"], RESTIC_PASSWORD="static-passw0rd",
               RESTIC_CACHE_DIR=str(tmp_path / "cache"))
    repo = f"s3:{s3['endpoint']}/{bucket}/restic/ns1"
    for args in (["init"], ["backup", str(source)], ["restore", "latest", "--target", str(tmp_path / "out")]):
        done = subprocess.run(["restic", "-r", repo, *args], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / source.relative_to("/") / "data.bin").read_bytes() == (source / "data.bin").read_bytes()
    keys = [o["Key"] for o in s3_client(lab, "minio").list_objects_v2(Bucket=bucket)["Contents"]]
    assert "restic/ns1/config" in keys


def test_quota_and_fault_requests_validate_input(lab):
    assert control(lab, "PUT", "/s3/minio/quota", {"bucket": "x", "bytes": -1})[0] == 400
    assert control(lab, "PUT", "/s3/minio/quota", {"bytes": 5})[0] == 400
    assert control(lab, "PUT", "/s3/nowhere/quota", {"bucket": "x", "bytes": 5})[0] == 404
    assert control(lab, "POST", "/faults/s3/minio", {"action": "slow"})[0] == 400


def test_quota_counts_parts_of_unfinished_multipart_uploads(lab, bucket):
    s3 = s3_client(lab, "minio")
    control(lab, "PUT", "/s3/minio/quota", {"bucket": bucket, "bytes": 6 * 2**20})
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="big", UploadId=upload, PartNumber=1, Body=b"p" * 5 * 2**20)
    with pytest.raises(botocore.exceptions.ClientError) as exceeded:
        s3.upload_part(Bucket=bucket, Key="big", UploadId=upload, PartNumber=2, Body=b"q" * 2 * 2**20)
    assert exceeded.value.response["Error"]["Code"] == "XMinioAdminBucketQuotaExceeded"
    s3.abort_multipart_upload(Bucket=bucket, Key="big", UploadId=upload)
    s3.put_object(Bucket=bucket, Key="small", Body=b"s" * 2**20)      # the aborted parts no longer count
