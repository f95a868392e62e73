"""PATCH: JSON merge patch, strategic merge (applied as merge), JSON patch
with its test operation, and the error codes kube-apiserver gives."""
import json

import pytest
from kubernetes.client.rest import ApiException

MERGE, STRATEGIC, JSON_PATCH = ("application/merge-patch+json", "application/strategic-merge-patch+json",
                                "application/json-patch+json")


@pytest.fixture
def cm(cluster):
    cluster.core.create_namespaced_config_map("default", {
        "metadata": {"name": "cm", "labels": {"keep": "1", "drop": "1"}},
        "data": {"a": "1", "b": "2"}})
    return cluster


def patch(cluster, body, content_type):
    return cluster.call("PATCH", "/api/v1/namespaces/default/configmaps/cm", body, content_type)[1]


def failure(cluster, body, content_type, path="/api/v1/namespaces/default/configmaps/cm"):
    with pytest.raises(ApiException) as caught:
        cluster.call("PATCH", path, body, content_type)
    return caught.value.status, json.loads(caught.value.body)


def test_merge_patch_adds_replaces_and_removes_with_null(cm):
    result = patch(cm, {"metadata": {"labels": {"drop": None, "new": "x"}}, "data": {"a": "9", "b": None}},
                   MERGE)
    assert result["metadata"]["labels"] == {"keep": "1", "new": "x"}
    assert result["data"] == {"a": "9"}


def test_strategic_merge_patch_on_builtin(cm):
    result = cm.core.patch_namespaced_config_map("cm", "default", {"data": {"c": "3"}})  # client sends strategic
    assert result.data == {"a": "1", "b": "2", "c": "3"}


def test_json_patch_operations(cm):
    result = patch(cm, [
        {"op": "test", "path": "/data/a", "value": "1"},
        {"op": "replace", "path": "/data/a", "value": "10"},
        {"op": "add", "path": "/data/c", "value": "3"},
        {"op": "remove", "path": "/data/b"},
        {"op": "copy", "from": "/data/c", "path": "/data/d"},
        {"op": "move", "from": "/metadata/labels/drop", "path": "/metadata/labels/moved"},
        {"op": "add", "path": "/metadata/finalizers", "value": []},
        {"op": "add", "path": "/metadata/finalizers/-", "value": "x.io/f"},
        {"op": "add", "path": "/metadata/finalizers/0", "value": "x.io/e"},
    ], JSON_PATCH)
    assert result["data"] == {"a": "10", "c": "3", "d": "3"}
    assert result["metadata"]["labels"] == {"keep": "1", "moved": "1"}
    assert result["metadata"]["finalizers"] == ["x.io/e", "x.io/f"]


def test_json_patch_escaped_pointer(cm):
    result = patch(cm, [{"op": "add", "path": "/metadata/labels/example.com~1team", "value": "t"}], JSON_PATCH)
    assert result["metadata"]["labels"]["example.com/team"] == "t"


def test_json_patch_failed_test_is_422_and_changes_nothing(cm):
    before = cm.core.read_namespaced_config_map("cm", "default")
    code, status = failure(cm, [{"op": "replace", "path": "/data/a", "value": "changed"},
                                {"op": "test", "path": "/data/b", "value": "wrong"}], JSON_PATCH)
    assert (code, status["reason"]) == (422, "Invalid")
    after = cm.core.read_namespaced_config_map("cm", "default")
    assert after.data == before.data and after.metadata.resource_version == before.metadata.resource_version


def test_json_patch_remove_missing_path_is_422(cm):
    code, _ = failure(cm, [{"op": "remove", "path": "/data/zzz"}], JSON_PATCH)
    assert code == 422


def test_json_patch_that_does_not_decode_is_400(cm):
    code, status = failure(cm, ["not an operation"], JSON_PATCH)
    assert (code, status["reason"]) == (400, "BadRequest")
    code, _ = failure(cm, [{"op": "frobnicate", "path": "/x"}], JSON_PATCH)
    assert code == 400


def test_unsupported_patch_content_type_is_415(cm):
    code, status = failure(cm, {"data": {"a": "2"}}, "application/json")
    assert (code, status["reason"]) == (415, "UnsupportedMediaType")


def test_patch_missing_object_is_404(cm):
    code, _ = failure(cm, {"data": {}}, MERGE, path="/api/v1/namespaces/default/configmaps/ghost")
    assert code == 404


def test_patch_with_stale_resource_version_is_409(cm):
    current = cm.core.read_namespaced_config_map("cm", "default")
    patch(cm, {"data": {"a": "2"}}, MERGE)
    code, status = failure(cm, {"metadata": {"resourceVersion": current.metadata.resource_version},
                                "data": {"a": "3"}}, MERGE)
    assert (code, status["reason"]) == (409, "Conflict")


@pytest.fixture
def deployment(cluster):
    cluster.apps.create_namespaced_deployment("default", {
        "metadata": {"name": "web", "finalizers": ["a.io/one"]},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
                     {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}]},
                     {"name": "sidecar", "image": "side:1"}]}}}})
    return cluster


def containers(result):
    return [(c["name"], c["image"]) for c in result["spec"]["template"]["spec"]["containers"]]


def patch_deployment(cluster, body):
    return cluster.call("PATCH", "/apis/apps/v1/namespaces/default/deployments/web", body, STRATEGIC)[1]


def test_strategic_merge_merges_lists_by_merge_key(deployment):
    result = patch_deployment(deployment, {"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": "app:2", "env": [{"name": "B", "value": "2"}]}]}}}})
    assert containers(result) == [("app", "app:2"), ("sidecar", "side:1")]
    assert result["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "A", "value": "1"},
                                                                        {"name": "B", "value": "2"}]
    merge_result = deployment.call("PATCH", "/apis/apps/v1/namespaces/default/deployments/web",
                                   {"spec": {"template": {"spec": {"containers": [{"name": "only",
                                                                                   "image": "x"}]}}}},
                                   MERGE)[1]
    assert containers(merge_result) == [("only", "x")]  # a JSON merge patch replaces lists


def test_strategic_merge_directives(deployment):
    result = patch_deployment(deployment, {
        "metadata": {"finalizers": ["a.io/two"]},
        "spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}],
            "containers": [{"name": "sidecar", "image": "side:2"}]}}}})
    assert containers(result) == [("sidecar", "side:2"), ("app", "app:1")]
    assert result["metadata"]["finalizers"] == ["a.io/one", "a.io/two"]  # scalar merge lists add
    result = patch_deployment(deployment, {
        "metadata": {"$deleteFromPrimitiveList/finalizers": ["a.io/one"]},
        "spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}})
    assert containers(result) == [("app", "app:1")] and result["metadata"]["finalizers"] == ["a.io/two"]
    result = patch_deployment(deployment, {"spec": {"selector": {"$patch": "replace", "matchLabels": {"x": "y"}}}})
    assert result["spec"]["selector"] == {"matchLabels": {"x": "y"}}
