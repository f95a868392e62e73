"""One lab process for the session (started through lab.process, as the
runner starts it), reached only over HTTP: the kubernetes client with each
cluster's kubeconfig, boto3 / minio / restic for S3, urllib for the control API."""
import re

import pytest
from kubernetes import client
from kubernetes import config as kube_config

from lab import process
from lab_http import control

LAB_CONFIG = {"lab": {"clusters": [{"name": "backup", "version": "1.29.4", "velero_version": "1.12.4"},
                                   {"name": "legacy", "version": "1.23.17", "velero_version": "1.9.7"}],
                      "s3": ["minio", "aws"], "start": "2026-01-05T00:00:00Z"}}


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    handle = process.start(LAB_CONFIG, tmp_path_factory.mktemp("lab") / "state")
    yield handle
    handle.stop()


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
