"""Namespace lifecycle as kube-apiserver runs it: the `kubernetes`
finalizer, Terminating on delete, no new content while terminating."""
import json

import pytest
from kubernetes.client.rest import ApiException


def failure(call, *args):
    with pytest.raises(ApiException) as caught:
        call(*args)
    return caught.value.status, json.loads(caught.value.body)


def cm(name):
    return {"metadata": {"name": name}, "data": {}}


def test_new_namespace_is_active_with_kubernetes_finalizer(cluster):
    ns = cluster.core.create_namespace({"metadata": {"name": "team"}})
    assert ns.status.phase == "Active" and ns.spec.finalizers == ["kubernetes"]
    assert ns.metadata.labels == {"kubernetes.io/metadata.name": "team"}


def test_delete_marks_terminating_and_blocks_new_content(cluster):
    cluster.core.create_namespace({"metadata": {"name": "team"}})
    cluster.core.create_namespaced_config_map("team", cm("before"))
    cluster.clock.advance(60)
    code, deleted = cluster.call("DELETE", "/api/v1/namespaces/team")
    assert code == 200 and deleted["kind"] == "Namespace" and deleted["status"]["phase"] == "Terminating"
    ns = cluster.core.read_namespace("team")
    assert ns.status.phase == "Terminating" and ns.spec.finalizers == ["kubernetes"]
    assert ns.metadata.deletion_timestamp.isoformat() == "2026-01-05T00:01:00+00:00"
    code, status = failure(cluster.core.create_namespaced_config_map, "team", cm("after"))
    assert (code, status["reason"]) == (403, "Forbidden")
    assert "because it is being terminated" in status["message"]
    assert status["details"]["causes"][0]["reason"] == "NamespaceTerminating"
    code, status = failure(cluster.core.delete_namespace, "team")
    assert (code, status["reason"]) == (409, "Conflict")
    # existing content stays until the namespace controller removes it
    assert [c.metadata.name for c in cluster.core.list_namespaced_config_map("team").items] == ["before"]


def test_finalize_removes_the_namespace(cluster):
    cluster.core.create_namespace({"metadata": {"name": "team"}})
    cluster.core.delete_namespace("team")
    ns = cluster.core.read_namespace("team")
    ns.spec.finalizers = []
    cluster.core.replace_namespace_finalize("team", ns)
    code, _ = failure(cluster.core.read_namespace, "team")
    assert code == 404


def test_namespace_update_keeps_spec_finalizers(cluster):
    cluster.core.create_namespace({"metadata": {"name": "team"}})
    updated = cluster.core.patch_namespace("team", {"metadata": {"labels": {"x": "y"}}, "spec": {"finalizers": []}})
    assert updated.spec.finalizers == ["kubernetes"] and updated.metadata.labels["x"] == "y"


def test_create_in_missing_namespace_is_404(cluster):
    code, status = failure(cluster.core.create_namespaced_config_map, "nowhere", cm("x"))
    assert code == 404 and status["message"] == 'namespaces "nowhere" not found'
    assert status["details"] == {"name": "nowhere", "kind": "namespaces"}


def test_invalid_namespace_name_is_422(cluster):
    code, status = failure(cluster.core.create_namespace, {"metadata": {"name": "Not.A.Label"}})
    assert (code, status["reason"]) == (422, "Invalid")
