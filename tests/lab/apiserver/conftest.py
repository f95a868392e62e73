"""Fixtures: a lab ApiServer on 127.0.0.1 with its own store, registry and
a kubeconfig in a tmp dir, reached only through the official kubernetes
client (and kubectl)."""
import datetime
import json
from dataclasses import dataclass, field

import pytest
from kubernetes import client, config, dynamic

from lab.apiserver import ApiServer, ObjectStore, ResourceRegistry, write_kubeconfig
from lab.faults import Faults


class SteppedClock:
    """A virtual clock the test moves by hand."""

    def __init__(self):
        self.moment = datetime.datetime(2026, 1, 5, tzinfo=datetime.timezone.utc)

    def now(self):
        return self.moment

    def advance(self, seconds):
        self.moment += datetime.timedelta(seconds=seconds)


@dataclass
class Cluster:
    store: ObjectStore
    registry: ResourceRegistry
    server: ApiServer
    kubeconfig: str
    api: client.ApiClient
    clock: SteppedClock
    faults: Faults
    tmp: object
    exec_calls: list = field(default_factory=list)

    @property
    def core(self):
        return client.CoreV1Api(self.api)

    @property
    def apps(self):
        return client.AppsV1Api(self.api)

    @property
    def custom(self):
        return client.CustomObjectsApi(self.api)

    def dynamic(self):
        return dynamic.DynamicClient(self.api, cache_file=str(self.tmp / "discovery-cache.json"))

    def call(self, method, path, body=None, content_type=None, query=None):
        """A raw request through the client's ApiClient; (status, decoded body)."""
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        response = self.api.call_api(path, method, header_params=headers, body=body,
                                     query_params=query or [], _preload_content=False)
        return response.status, json.loads(response.data)


def fake_exec(calls):
    """An exec handler that records its calls; `exit N` in argv exits N."""
    def handler(namespace, pod, container, argv, stdin):
        calls.append((namespace, pod, container, list(argv)))
        code = int(argv[argv.index("exit") + 1]) if "exit" in argv else 0
        return code, f"out:{' '.join(argv)}\n".encode(), b"err-line\n" if code else b""
    return handler


@pytest.fixture
def stepped_clock():
    return SteppedClock()


@pytest.fixture
def make_cluster(tmp_path):
    """make_cluster(version="1.29.4") -> Cluster; all are stopped at teardown."""
    started = []

    def make(version="1.29.4", name="lab"):
        clock, faults, calls = SteppedClock(), Faults(), []
        store, registry = ObjectStore(clock), ResourceRegistry(version)
        server = ApiServer(name, store, registry, exec_handler=fake_exec(calls), faults=faults)
        url = server.start()
        directory = tmp_path / name
        directory.mkdir()
        kubeconfig = write_kubeconfig(str(directory / "kubeconfig"), url, name)
        api = config.new_client_from_config(config_file=kubeconfig)
        cluster = Cluster(store, registry, server, kubeconfig, api, clock, faults, directory, calls)
        started.append(cluster)
        cluster.core.create_namespace({"metadata": {"name": "default"}})
        return cluster

    yield make
    for cluster in started:
        cluster.api.close()
        cluster.server.stop()


@pytest.fixture
def cluster(make_cluster):
    return make_cluster()
