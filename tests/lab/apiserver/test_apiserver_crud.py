"""CRUD of built-in resources through the kubernetes client, and the
Kubernetes errors for bad requests."""
import json

import pytest
from kubernetes.client.rest import ApiException


def configmap(name, data=None, labels=None, namespace="default"):
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
            "data": data or {"k": "v"}}


def error_of(call, *args, **kwargs):
    """(HTTP status, Status body) of a call that must fail."""
    with pytest.raises(ApiException) as caught:
        call(*args, **kwargs)
    return caught.value.status, json.loads(caught.value.body)


def test_create_get_list_delete_configmap(cluster):
    created = cluster.core.create_namespaced_config_map("default", configmap("one", {"a": "1"}))
    assert created.metadata.uid and created.metadata.resource_version
    assert created.metadata.creation_timestamp.isoformat() == "2026-01-05T00:00:00+00:00"
    got = cluster.core.read_namespaced_config_map("one", "default")
    assert got.data == {"a": "1"} and got.metadata.uid == created.metadata.uid
    listed = cluster.core.list_namespaced_config_map("default")
    assert [c.metadata.name for c in listed.items] == ["one"]
    assert listed.kind == "ConfigMapList" and listed.api_version == "v1"
    assert int(listed.metadata.resource_version) >= int(created.metadata.resource_version)
    status = cluster.core.delete_namespaced_config_map("one", "default")
    assert status.status == "Success" and status.details.name == "one"
    assert cluster.core.list_namespaced_config_map("default").items == []


def test_create_answers_201_with_the_object(cluster):
    code, body = cluster.call("POST", "/api/v1/namespaces/default/configmaps", configmap("made"))
    assert code == 201 and body["kind"] == "ConfigMap" and body["apiVersion"] == "v1"
    # a ConfigMap keeps no generation (its registry strategy sets none); a Deployment does, below
    assert body["metadata"]["namespace"] == "default" and "generation" not in body["metadata"]


def test_invalid_json_body_is_400(cluster):
    import urllib.request
    request = urllib.request.Request(cluster.server.url + "/api/v1/namespaces/default/configmaps",
                                     data=b"{not json", method="POST", headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    assert caught.value.code == 400 and json.loads(caught.value.read())["reason"] == "BadRequest"


def test_creation_timestamp_follows_virtual_clock(cluster):
    cluster.clock.advance(3600 * 30)
    created = cluster.core.create_namespaced_config_map("default", configmap("later"))
    assert created.metadata.creation_timestamp.isoformat() == "2026-01-06T06:00:00+00:00"


def test_resource_versions_increase_across_objects(cluster):
    versions = [int(cluster.core.create_namespaced_config_map("default", configmap(f"c{i}"))
                    .metadata.resource_version) for i in range(3)]
    assert versions == sorted(versions) and len(set(versions)) == 3


def test_list_across_all_namespaces(cluster):
    cluster.core.create_namespace({"metadata": {"name": "other"}})
    cluster.core.create_namespaced_config_map("default", configmap("a"))
    cluster.core.create_namespaced_config_map("other", configmap("b", namespace="other"))
    found = {(c.metadata.namespace, c.metadata.name)
             for c in cluster.core.list_config_map_for_all_namespaces().items}
    assert found == {("default", "a"), ("other", "b")}
    assert [c.metadata.name for c in cluster.core.list_namespaced_config_map("other").items] == ["b"]


def test_get_missing_is_404_status(cluster):
    code, body = error_of(cluster.core.read_namespaced_config_map, "nope", "default")
    assert code == 404
    assert body["kind"] == "Status" and body["apiVersion"] == "v1" and body["status"] == "Failure"
    assert body["reason"] == "NotFound" and body["code"] == 404
    assert body["message"] == 'configmaps "nope" not found'
    assert body["details"] == {"name": "nope", "kind": "configmaps"}


def test_create_twice_is_409_already_exists(cluster):
    cluster.core.create_namespaced_config_map("default", configmap("dup"))
    code, body = error_of(cluster.core.create_namespaced_config_map, "default", configmap("dup"))
    assert (code, body["reason"]) == (409, "AlreadyExists")


def test_create_without_name_is_422(cluster):
    body = configmap("x")
    del body["metadata"]["name"]
    code, status = error_of(cluster.core.create_namespaced_config_map, "default", body)
    assert (code, status["reason"]) == (422, "Invalid")
    assert "metadata.name: Required value" in status["message"]


def test_create_with_invalid_name_is_422(cluster):
    code, status = error_of(cluster.core.create_namespaced_config_map, "default", configmap("Bad_Name"))
    assert (code, status["reason"]) == (422, "Invalid")


def test_generate_name(cluster):
    body = configmap("x")
    body["metadata"] = {"generateName": "gen-"}
    created = cluster.core.create_namespaced_config_map("default", body)
    assert created.metadata.name.startswith("gen-") and len(created.metadata.name) == len("gen-") + 5


def test_kind_mismatch_and_non_object_body_are_rejected(cluster):
    code, status = error_of(cluster.call, "POST", "/api/v1/namespaces/default/configmaps",
                            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}})
    assert code == 400 and "cannot be handled as a ConfigMap" in status["message"]
    code, status = error_of(cluster.call, "POST", "/api/v1/namespaces/default/configmaps", ["not", "an", "object"])
    assert code == 400 and status["reason"] == "BadRequest"


def test_namespace_in_body_must_match_url(cluster):
    code, status = error_of(cluster.core.create_namespaced_config_map, "default",
                            configmap("x", namespace="elsewhere"))
    assert code == 400 and "does not match the namespace" in status["message"]


def test_replace_and_stale_resource_version(cluster):
    created = cluster.core.create_namespaced_config_map("default", configmap("r", {"a": "1"}))
    body = configmap("r", {"a": "2"})
    body["metadata"]["resourceVersion"] = created.metadata.resource_version
    replaced = cluster.core.replace_namespaced_config_map("r", "default", body)
    assert replaced.data == {"a": "2"}
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)
    assert replaced.metadata.uid == created.metadata.uid
    body["data"] = {"a": "3"}  # still carries the old resourceVersion
    code, status = error_of(cluster.core.replace_namespaced_config_map, "r", "default", body)
    assert (code, status["reason"]) == (409, "Conflict")
    assert "the object has been modified" in status["message"]
    assert cluster.core.read_namespaced_config_map("r", "default").data == {"a": "2"}


def test_replace_missing_is_404_and_name_mismatch_400(cluster):
    code, _ = error_of(cluster.core.replace_namespaced_config_map, "ghost", "default", configmap("ghost"))
    assert code == 404
    cluster.core.create_namespaced_config_map("default", configmap("real"))
    code, status = error_of(cluster.core.replace_namespaced_config_map, "real", "default", configmap("other"))
    assert code == 400 and "does not match the name on the URL" in status["message"]


def test_generation_bumps_on_spec_change_only(cluster):
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": "web", "namespace": "default"},
                  "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                           "template": {"metadata": {"labels": {"app": "web"}},
                                        "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
    created = cluster.apps.create_namespaced_deployment("default", deployment)
    assert created.metadata.generation == 1
    labelled = cluster.apps.patch_namespaced_deployment(
        "web", "default", {"metadata": {"labels": {"x": "y"}}}, _content_type="application/merge-patch+json")
    assert labelled.metadata.generation == 1
    scaled = cluster.apps.patch_namespaced_deployment(
        "web", "default", {"spec": {"replicas": 3}}, _content_type="application/strategic-merge-patch+json")
    assert scaled.metadata.generation == 2 and scaled.spec.replicas == 3


def test_typed_deletes_get_the_type_kubernetes_answers_with(cluster):
    from kubernetes import client
    storage = client.StorageV1Api(cluster.api)
    storage.create_storage_class({"metadata": {"name": "fast"}, "provisioner": "openebs.io/local"})
    deleted = storage.delete_storage_class("fast")  # the client requires a StorageClass back
    assert deleted.metadata.name == "fast" and deleted.provisioner == "openebs.io/local"
    cluster.core.create_persistent_volume({"metadata": {"name": "pv"}, "spec": {"capacity": {"storage": "1Gi"}}})
    assert cluster.core.delete_persistent_volume("pv").metadata.name == "pv"
    cluster.core.create_namespaced_service_account("default", {"metadata": {"name": "sa"}})
    assert cluster.core.delete_namespaced_service_account("sa", "default").metadata.name == "sa"


def test_delete_missing_is_404_and_pod_delete_returns_object(cluster):
    code, _ = error_of(cluster.core.delete_namespaced_config_map, "ghost", "default")
    assert code == 404
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    cluster.core.create_namespaced_pod("default", pod)
    status, body = cluster.call("DELETE", "/api/v1/namespaces/default/pods/p")
    assert status == 200 and body["kind"] == "Pod" and body["metadata"]["name"] == "p"


def test_finalizers_hold_deletion_until_removed(cluster):
    body = configmap("held")
    body["metadata"]["finalizers"] = ["example.com/hold"]
    cluster.core.create_namespaced_config_map("default", body)
    status, marked = cluster.call("DELETE", "/api/v1/namespaces/default/configmaps/held")
    assert status == 200 and marked["metadata"]["deletionTimestamp"] == "2026-01-05T00:00:00Z"
    still = cluster.core.read_namespaced_config_map("held", "default")
    assert still.metadata.deletion_timestamp is not None
    cluster.core.patch_namespaced_config_map("held", "default", {"metadata": {"finalizers": None}},
                                             _content_type="application/merge-patch+json")
    code, _ = error_of(cluster.core.read_namespaced_config_map, "held", "default")
    assert code == 404


def test_delete_collection_with_selector(cluster):
    for name, tier in (("a", "web"), ("b", "web"), ("c", "db")):
        cluster.core.create_namespaced_config_map("default", configmap(name, labels={"tier": tier}))
    cluster.core.delete_collection_namespaced_config_map("default", label_selector="tier=web")
    assert [c.metadata.name for c in cluster.core.list_namespaced_config_map("default").items] == ["c"]


def test_status_subresource(cluster):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c", "image": "busybox"}]},
           "status": {"phase": "Running"}}
    created = cluster.core.create_namespaced_pod("default", pod)
    assert created.status.phase == "Pending"  # create ignores the status, as the pod strategy does
    running = cluster.core.patch_namespaced_pod_status("p", "default", {"status": {"phase": "Running"}},
                                                       _content_type="application/merge-patch+json")
    assert running.status.phase == "Running"
    # the main resource ignores status changes, the status subresource ignores everything else
    relabel = cluster.core.patch_namespaced_pod(
        "p", "default", {"metadata": {"labels": {"a": "b"}}, "status": {"phase": "Failed"}},
        _content_type="application/merge-patch+json")
    assert relabel.status.phase == "Running" and relabel.metadata.labels == {"a": "b"}
    current = cluster.core.read_namespaced_pod_status("p", "default")
    current.status.phase = "Succeeded"
    current.metadata.labels = {"changed": "no"}
    replaced = cluster.core.replace_namespaced_pod_status("p", "default", current)
    assert replaced.status.phase == "Succeeded" and replaced.metadata.labels == {"a": "b"}
    current.status.phase = "Failed"  # stale resourceVersion now
    code, status = error_of(cluster.core.replace_namespaced_pod_status, "p", "default", current)
    assert (code, status["reason"]) == (409, "Conflict")


def test_cluster_scoped_resources(cluster):
    pv = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv1"},
          "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                   "hostPath": {"path": "/tmp/x"}}}
    created = cluster.core.create_persistent_volume(pv)
    assert created.metadata.namespace is None and created.status.phase == "Pending"
    assert [p.metadata.name for p in cluster.core.list_persistent_volume().items] == ["pv1"]
    code, _ = error_of(cluster.call, "GET", "/api/v1/namespaces/default/persistentvolumes/pv1")
    assert code == 404


def test_watch_is_refused_clearly(cluster):
    code, status = error_of(cluster.call, "GET", "/api/v1/namespaces/default/configmaps",
                            query=[("watch", "true")])
    assert code == 405 and "watch is not supported" in status["message"]


def test_unknown_resource_is_404(cluster):
    code, status = error_of(cluster.call, "GET", "/api/v1/namespaces/default/widgets")
    assert code == 404 and status["reason"] == "NotFound"
    code, _ = error_of(cluster.call, "GET", "/apis/example.com/v1/widgets")
    assert code == 404


def test_concurrent_patches_through_http_all_land(cluster):
    """Merge patches without a resourceVersion from many threads: the server
    retries lost races as kube-apiserver does, so every key lands."""
    from concurrent.futures import ThreadPoolExecutor
    cluster.core.create_namespaced_config_map("default", configmap("shared", {"seed": "s"}))

    def write(i):
        cluster.core.patch_namespaced_config_map("shared", "default", {"data": {f"k{i}": str(i)}},
                                                 _content_type="application/merge-patch+json")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(40)))
    data = cluster.core.read_namespaced_config_map("shared", "default").data
    assert data == dict({f"k{i}": str(i) for i in range(40)}, seed="s")


def test_healthz(cluster):
    response = cluster.api.call_api("/healthz", "GET", _preload_content=False)
    assert (response.status, response.data) == (200, b"ok")


def test_dry_run_is_refused_rather_than_written(cluster):
    code, status = error_of(cluster.core.create_namespaced_config_map, "default", configmap("dry"), dry_run="All")
    assert code == 400 and "dryRun is not supported" in status["message"]
    assert cluster.core.list_namespaced_config_map("default").items == []


def test_what_the_registry_strategies_do_on_write(cluster):
    """As kube-apiserver (seen on the real stack): a Secret's stringData goes
    into data, base64, with type Opaque; empty labels and annotations are not
    kept; a List's items of a built-in kind carry no apiVersion or kind."""
    code, body = cluster.call("POST", "/api/v1/namespaces/default/secrets", {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "labels": {}, "annotations": {}},
        "stringData": {"token": "plain"}, "data": {"other": "b3RoZXI="}})
    assert code == 201, body
    assert body["data"] == {"other": "b3RoZXI=", "token": "cGxhaW4="} and body["type"] == "Opaque"
    assert "stringData" not in body and "labels" not in body["metadata"] and "annotations" not in body["metadata"]
    code, listed = cluster.call("GET", "/api/v1/namespaces/default/secrets")
    assert code == 200 and listed["kind"] == "SecretList"
    assert all("kind" not in item and "apiVersion" not in item for item in listed["items"])
