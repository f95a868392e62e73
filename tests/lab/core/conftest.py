"""One lab process for the session (started through lab.process, as the
runner starts it), reached only over HTTP: the kubernetes client with each
cluster's kubeconfig, boto3 / minio / restic for S3, urllib for the control API."""
import json
import re
import time
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config
from kubernetes import client
from kubernetes import config as kube_config

from lab import process

LAB_CONFIG = {"lab": {"clusters": [{"name": "backup", "version": "1.29.4", "velero_version": "1.12.4"},
                                   {"name": "legacy", "version": "1.23.17", "velero_version": "1.9.7"}],
                      "s3": ["minio", "aws"], "start": "2026-01-05T00:00:00Z"}}


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    handle = process.start(LAB_CONFIG, tmp_path_factory.mktemp("lab") / "state")
    yield handle
    handle.stop()


def control(lab, method, path, body=None):
    """(status, JSON) of a control API call; HTTP errors are returned, not raised."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(lab.control_url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def api_client(lab, cluster):
    """A kubernetes ApiClient for a lab cluster, from its kubeconfig only."""
    state = control(lab, "GET", "/state")[1]["clusters"][cluster]
    api = kube_config.new_client_from_config(state["kubeconfig"], context=state["context"])
    api.configuration.retries = 0        # a cut cluster must fail fast
    return api


@pytest.fixture(scope="session")
def kube(lab):
    return api_client(lab, "backup")


@pytest.fixture(scope="session")
def core(kube):
    return client.CoreV1Api(kube)


@pytest.fixture(scope="session")
def apps(kube):
    return client.AppsV1Api(kube)


def s3_client(lab, profile, **config):
    s3 = lab.state["s3"][profile]
    return boto3.client("s3", endpoint_url=s3["endpoint"], region_name=s3["region"],
                        aws_access_key_id=s3["access_key"], aws_secret_access_key=s3["secret_key"],
                        config=Config(s3={"addressing_style": "path"}, **config))


def wait_for(what, predicate, timeout=10.0):
    """Poll `predicate` (real time: the lab's controllers tick every 0.1 s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except client.ApiException as error:
            if error.status != 404:          # not there yet is "not yet"
                raise
            value = None
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def namespace(core, request):
    """A fresh namespace per test, deleted afterwards."""
    name = ("t-" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()))[:50].strip("-")
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    try:
        core.delete_namespace(name)
    except client.ApiException:
        pass
