"""Reaching a running lab from outside, as a user would: its control API
over urllib, its S3 endpoints with boto3, and polling in real time (the
lab's controllers tick every 0.1 s). Shared by the core and Velero
contract tests; `pythonpath = tests/lab` in setup.cfg makes it importable."""
import json
import time
import urllib.error
import urllib.request

import boto3
from botocore.config import Config
from kubernetes import client


def control(lab, method, path, body=None, timeout=300):
    """(status, JSON) of a control API call; HTTP errors are returned, not raised."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(lab.control_url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def s3_client(lab, profile, **config):
    """boto3 for one lab S3 profile, path-style as the lab's endpoints need."""
    s3 = lab.state["s3"][profile]
    return boto3.client("s3", endpoint_url=s3["endpoint"], region_name=s3["region"],
                        aws_access_key_id=s3["access_key"], aws_secret_access_key=s3["secret_key"],
                        config=Config(s3={"addressing_style": "path"}, **config))


def wait_for(what, predicate, timeout=30.0):
    """The first truthy value of `predicate`; a 404 from the API means "not yet"."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except client.ApiException as error:
            if error.status != 404:
                raise
            value = None
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
