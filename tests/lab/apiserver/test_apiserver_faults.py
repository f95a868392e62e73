"""Fault switches: a cut API server answers nothing, a slow one answers late."""
import socket
import time

import pytest
import urllib3


def test_cut_then_restore(cluster):
    cluster.core.list_namespace()  # leaves an open keep-alive connection in the pool
    cluster.faults.cut()
    with pytest.raises(urllib3.exceptions.HTTPError):
        cluster.core.list_namespace(_request_timeout=5)
    cluster.faults.restore()
    assert [n.metadata.name for n in cluster.core.list_namespace().items] == ["default"]


def test_slow(cluster):
    cluster.faults.slow(0.4)
    started = time.monotonic()
    cluster.core.read_namespace("default")
    assert time.monotonic() - started >= 0.4
    cluster.faults.restore()
    started = time.monotonic()
    cluster.core.read_namespace("default")
    assert time.monotonic() - started < 0.4


def test_stop_closes_the_port_and_open_connections(make_cluster):
    cluster = make_cluster(name="stopping")
    cluster.core.list_namespace()  # leaves an open keep-alive connection
    host, port = cluster.server.url.removeprefix("http://").split(":")
    cluster.server.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, int(port)), timeout=2)
    with pytest.raises(urllib3.exceptions.HTTPError):
        cluster.core.list_namespace(_request_timeout=2)
