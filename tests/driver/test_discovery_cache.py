"""A cluster client made outside a driver (preflight's, a version
inspection's) keeps its discovery cache in a directory of its own that goes
with it: nothing accumulates in the machine's temp directory."""
import gc
import tempfile
import types

from runner.driver.clusters import ClusterClient

KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
"""


def test_a_client_of_its_own_leaves_no_discovery_cache_behind(tmp_path, monkeypatch):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    client = ClusterClient(types.SimpleNamespace(name="c", kubeconfig=str(kubeconfig), context=None))
    (own,) = temp.iterdir()
    assert own.name.startswith("dmaas-discovery-") and client._cache_dir == str(own)
    del client
    gc.collect()
    assert list(temp.iterdir()) == []


def test_a_drivers_client_caches_where_the_driver_says(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    client = ClusterClient(types.SimpleNamespace(name="c", kubeconfig=str(kubeconfig), context=None),
                           cache_dir=str(tmp_path / "work"))
    assert client._cache_dir == str(tmp_path / "work")
