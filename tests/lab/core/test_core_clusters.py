"""Cluster lifecycle, versions and faults through the control API and the kubernetes client."""
import time
from pathlib import Path

import pytest
import urllib3
from kubernetes import client, dynamic

from conftest import api_client
from lab_http import control


def test_create_and_delete_cluster(lab):
    status, entry = control(lab, "POST", "/clusters", {"name": "extra", "version": "1.27.3"})
    assert status == 201 and entry["version"] == "1.27.3" and entry["context"] == "extra"
    assert control(lab, "POST", "/clusters", {"name": "extra"})[0] == 409
    assert "extra" in control(lab, "GET", "/state")[1]["clusters"]
    version = client.VersionApi(api_client(lab, "extra")).get_code()
    assert version.git_version == "v1.27.3"
    assert Path(entry["node_dir"]).is_dir() and Path(entry["kubeconfig"]).is_file()
    status, _ = control(lab, "DELETE", "/clusters/extra")
    assert status == 200
    assert not Path(entry["node_dir"]).exists() and not Path(entry["kubeconfig"]).exists()
    assert "extra" not in control(lab, "GET", "/state")[1]["clusters"]
    with pytest.raises(urllib3.exceptions.HTTPError):
        urllib3.PoolManager(retries=False).request("GET", entry["server"] + "/version", timeout=2)
    assert control(lab, "DELETE", "/clusters/extra")[0] == 404


def test_bad_cluster_requests_get_one_line_errors(lab):
    status, body = control(lab, "POST", "/clusters", {"name": "Bad_Name"})
    assert status == 400 and "name" in body["error"] and "\n" not in body["error"]
    status, body = control(lab, "POST", "/clusters", {"name": "ok", "version": "one"})
    assert status == 400 and "version" in body["error"]
    assert control(lab, "GET", "/no/such/thing")[0] == 404


def test_api_groups_follow_the_cluster_version(lab, tmp_path):
    def groups(cluster):
        return {g.name: [v.version for v in g.versions]
                for g in client.ApisApi(api_client(lab, cluster)).get_api_versions().groups}
    legacy, modern = groups("legacy"), groups("backup")
    assert "v1beta1" in legacy["policy"] and "v1beta1" not in modern["policy"]
    psp = {"apiVersion": "policy/v1beta1", "kind": "PodSecurityPolicy", "metadata": {"name": "restricted"},
           "spec": {"privileged": False, "seLinux": {"rule": "RunAsAny"}, "runAsUser": {"rule": "RunAsAny"},
                    "supplementalGroups": {"rule": "RunAsAny"}, "fsGroup": {"rule": "RunAsAny"}}}
    # a discovery cache of its own: the default one in /tmp is keyed by host:port, which
    # another lab's cluster of another version may have had
    legacy_psps = dynamic.DynamicClient(api_client(lab, "legacy"), cache_file=str(tmp_path / "legacy.json")
                                        ).resources.get(api_version="policy/v1beta1", kind="PodSecurityPolicy")
    assert legacy_psps.create(body=psp).metadata.name == "restricted"
    assert [p.metadata.name for p in legacy_psps.get().items] == ["restricted"]
    with pytest.raises(dynamic.exceptions.ResourceNotFoundError):
        dynamic.DynamicClient(api_client(lab, "backup"), cache_file=str(tmp_path / "backup.json")).resources.get(
            api_version="policy/v1beta1", kind="PodSecurityPolicy")


def test_velero_is_installed_in_each_cluster(lab):
    for name in ("backup", "legacy"):
        api = api_client(lab, name)
        crds = {c.metadata.name for c in
                client.ApiextensionsV1Api(api).list_custom_resource_definition().items}
        for plural in ("backups", "backupstoragelocations", "volumesnapshotlocations", "schedules", "restores",
                       "deletebackuprequests", "podvolumebackups", "podvolumerestores", "backuprepositories",
                       "downloadrequests"):
            assert f"{plural}.velero.io" in crds
        deploy = client.AppsV1Api(api).read_namespaced_deployment("velero", "velero")
        assert deploy.status.ready_replicas == 1
        assert deploy.spec.template.spec.containers[0].image.startswith("velero/velero:v")
        assert client.CustomObjectsApi(api).list_namespaced_custom_object(
            "velero.io", "v1", "velero", "backups")["items"] is not None


def test_cut_restore_and_slow_a_cluster(lab):
    core = client.CoreV1Api(api_client(lab, "backup"))
    try:
        assert control(lab, "POST", "/faults/clusters/backup", {"action": "cut"})[0] == 200
        with pytest.raises(urllib3.exceptions.HTTPError):
            core.list_namespace(_request_timeout=2)
        # the other cluster is untouched
        client.CoreV1Api(api_client(lab, "legacy")).list_namespace(_request_timeout=2)
        control(lab, "POST", "/faults/clusters/backup", {"action": "restore"})
        core.list_namespace(_request_timeout=2)
        control(lab, "POST", "/faults/clusters/backup", {"action": "slow", "delay": 0.4})
        started = time.monotonic()
        core.list_namespace(_request_timeout=5)
        assert time.monotonic() - started >= 0.4
    finally:
        control(lab, "POST", "/faults/clusters/backup", {"action": "restore"})
    started = time.monotonic()
    core.list_namespace(_request_timeout=5)
    assert time.monotonic() - started < 0.4
    status, body = control(lab, "POST", "/faults/clusters/backup", {"action": "explode"})
    assert status == 400 and "action" in body["error"]
    assert control(lab, "POST", "/faults/clusters/nowhere", {"action": "cut"})[0] == 404
