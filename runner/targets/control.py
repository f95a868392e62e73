"""The lab's control API (HACKING.md, "Control API"), the one client of it in
the runner: the lab's clock, clusters and faults, and the bucket faults of
the real stack, whose S3 is the lab's. Calls go through lab.process, the one
lab module the runner may import; a failed call is a TargetError of one line.

    ControlClient(url).call(method, path, body=None, timeout=60) -> JSON
    BucketFaults: cut / restore / quota / corrupt through `self.control`
"""
from __future__ import annotations

import lab.process

from runner.errors import TargetError

CONTROL_TIMEOUT = 300          # a clock advance runs every due controller; days of schedules


class ControlClient:
    def __init__(self, url):
        self.url = url.rstrip("/")

    def call(self, method, path, body=None, timeout=60):
        try:
            return lab.process.control_call(self.url, method, path, body, timeout)[1]
        except lab.process.LabProcessError as error:
            raise TargetError(str(error)) from None


def dropnone(body):
    return {k: v for k, v in body.items() if v is not None}


class BucketFaults:
    """Bucket faults through the lab's control API (`self.control`): the lab's
    S3 and the real stack's (which is the lab's) sit behind the same proxy."""

    bucket_faults = True

    def cut_bucket(self, profile, bucket=None):
        self.control.call("POST", f"/faults/s3/{profile}", dropnone({"action": "cut", "bucket": bucket}))

    def restore_bucket(self, profile, bucket=None):
        self.control.call("POST", f"/faults/s3/{profile}", dropnone({"action": "restore", "bucket": bucket}))

    def set_quota(self, profile, bucket, limit):
        self.control.call("PUT", f"/s3/{profile}/quota", {"bucket": bucket, "bytes": limit})

    def corrupt(self, profile, bucket, key):
        self.control.call("POST", f"/faults/s3/{profile}/corrupt", {"bucket": bucket, "key": key})
