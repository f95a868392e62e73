"""CustomResourceDefinitions: their resources are served as soon as the CRD
is created, discovered by DynamicClient, and unserved when it is deleted."""
import json

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.dynamic.exceptions import ResourceNotFoundError


def crd(group="example.com", plural="widgets", kind="Widget", scope="Namespaced", versions=("v1",),
        storage="v1", status=True):
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}"},
            "spec": {"group": group, "scope": scope,
                     "names": {"plural": plural, "singular": kind.lower(), "kind": kind, "shortNames": ["wd"]},
                     "versions": [{"name": v, "served": True, "storage": v == storage,
                                   "schema": {"openAPIV3Schema": {"type": "object",
                                                                  "x-kubernetes-preserve-unknown-fields": True}},
                                   **({"subresources": {"status": {}}} if status else {})}
                                  for v in versions]}}


def widget(name, size=1, version="v1"):
    return {"apiVersion": f"example.com/{version}", "kind": "Widget", "metadata": {"name": name},
            "spec": {"size": size}}


def extensions(cluster):
    return client.ApiextensionsV1Api(cluster.api)


def test_crd_makes_custom_resources_served(cluster):
    with pytest.raises(ApiException) as caught:
        cluster.custom.list_namespaced_custom_object("example.com", "v1", "default", "widgets")
    assert caught.value.status == 404
    created = extensions(cluster).create_custom_resource_definition(crd())
    assert created.metadata.name == "widgets.example.com"
    established = extensions(cluster).read_custom_resource_definition("widgets.example.com")
    assert {c.type: c.status for c in established.status.conditions}["Established"] == "True"
    assert established.status.accepted_names.kind == "Widget"
    obj = cluster.custom.create_namespaced_custom_object("example.com", "v1", "default", "widgets", widget("w1"))
    assert obj["metadata"]["uid"] and obj["kind"] == "Widget"
    listed = cluster.custom.list_namespaced_custom_object("example.com", "v1", "default", "widgets")
    assert listed["kind"] == "WidgetList" and [i["metadata"]["name"] for i in listed["items"]] == ["w1"]
    groups = {g.name for g in client.ApisApi(cluster.api).get_api_versions().groups}
    assert "example.com" in groups


def test_dynamic_client_discovers_new_crd(cluster):
    dyn = cluster.dynamic()  # discovery cached before the CRD exists
    with pytest.raises(ResourceNotFoundError):
        dyn.resources.get(api_version="example.com/v1", kind="Widget")
    extensions(cluster).create_custom_resource_definition(crd())
    widgets = dyn.resources.get(api_version="example.com/v1", kind="Widget")
    assert (widgets.name, widgets.namespaced, widgets.short_names) == ("widgets", True, ["wd"])
    widgets.create(body=widget("w1", 2), namespace="default")
    assert widgets.get(name="w1", namespace="default").spec.size == 2
    widgets.patch(name="w1", namespace="default", body={"spec": {"size": 5}},
                  content_type="application/merge-patch+json")
    assert widgets.get(name="w1", namespace="default").spec.size == 5


def test_strategic_merge_patch_is_refused_for_custom_resources(cluster):
    extensions(cluster).create_custom_resource_definition(crd())
    cluster.custom.create_namespaced_custom_object("example.com", "v1", "default", "widgets", widget("w1"))
    with pytest.raises(ApiException) as caught:
        cluster.call("PATCH", "/apis/example.com/v1/namespaces/default/widgets/w1", {"spec": {"size": 2}},
                     "application/strategic-merge-patch+json")
    assert caught.value.status == 415


def test_custom_resource_status_subresource(cluster):
    extensions(cluster).create_custom_resource_definition(crd())
    cluster.custom.create_namespaced_custom_object("example.com", "v1", "default", "widgets", widget("w1"))
    patched = cluster.custom.patch_namespaced_custom_object_status(
        "example.com", "v1", "default", "widgets", "w1", {"status": {"ready": True}, "spec": {"size": 9}})
    assert patched["status"] == {"ready": True} and patched["spec"]["size"] == 1
    replaced = cluster.custom.replace_namespaced_custom_object(
        "example.com", "v1", "default", "widgets", "w1", dict(patched, status={"ready": False}, spec={"size": 3}))
    assert replaced["status"] == {"ready": True} and replaced["spec"]["size"] == 3
    assert replaced["metadata"]["generation"] == 2
    read = cluster.custom.get_namespaced_custom_object_status("example.com", "v1", "default", "widgets", "w1")
    assert read["status"] == {"ready": True}


def test_custom_resource_without_status_subresource_stores_status_as_data(cluster):
    extensions(cluster).create_custom_resource_definition(crd(status=False))
    obj = dict(widget("w1"), status={"phase": "x"})
    cluster.custom.create_namespaced_custom_object("example.com", "v1", "default", "widgets", obj)
    assert cluster.custom.get_namespaced_custom_object(
        "example.com", "v1", "default", "widgets", "w1")["status"] == {"phase": "x"}
    with pytest.raises(ApiException) as caught:
        cluster.call("GET", "/apis/example.com/v1/namespaces/default/widgets/w1/status")
    assert caught.value.status == 404


def test_all_served_versions_and_preferred_version(cluster):
    extensions(cluster).create_custom_resource_definition(crd(versions=("v1alpha1", "v1beta1", "v1"),
                                                              storage="v1beta1"))
    group = client.ApisApi(cluster.api).get_api_versions().groups
    example = next(g for g in group if g.name == "example.com")
    assert [v.version for v in example.versions] == ["v1", "v1beta1", "v1alpha1"]
    assert example.preferred_version.version == "v1"
    cluster.custom.create_namespaced_custom_object("example.com", "v1beta1", "default", "widgets",
                                                   widget("w1", version="v1beta1"))
    as_alpha = cluster.custom.get_namespaced_custom_object("example.com", "v1alpha1", "default", "widgets", "w1")
    assert as_alpha["apiVersion"] == "example.com/v1alpha1"


def test_cluster_scoped_crd(cluster):
    extensions(cluster).create_custom_resource_definition(crd(plural="gadgets", kind="Gadget", scope="Cluster"))
    cluster.custom.create_cluster_custom_object("example.com", "v1", "gadgets",
                                                {"apiVersion": "example.com/v1", "kind": "Gadget",
                                                 "metadata": {"name": "g"}})
    assert [g["metadata"]["name"] for g in
            cluster.custom.list_cluster_custom_object("example.com", "v1", "gadgets")["items"]] == ["g"]
    with pytest.raises(ApiException) as caught:
        cluster.call("GET", "/apis/example.com/v1/namespaces/default/gadgets")
    assert caught.value.status == 404


def test_deleting_crd_unserves_and_removes_its_resources(cluster):
    extensions(cluster).create_custom_resource_definition(crd())
    cluster.custom.create_namespaced_custom_object("example.com", "v1", "default", "widgets", widget("w1"))
    extensions(cluster).delete_custom_resource_definition("widgets.example.com")
    with pytest.raises(ApiException) as caught:
        cluster.custom.list_namespaced_custom_object("example.com", "v1", "default", "widgets")
    assert caught.value.status == 404
    assert "example.com" not in {g.name for g in client.ApisApi(cluster.api).get_api_versions().groups}
    extensions(cluster).create_custom_resource_definition(crd())  # the old objects did not survive
    assert cluster.custom.list_namespaced_custom_object("example.com", "v1", "default", "widgets")["items"] == []


@pytest.mark.parametrize("breakage, field", [
    (lambda c: c["spec"].pop("group"), "spec.group"),
    (lambda c: c["metadata"].update(name="wrong.example.com"), "metadata.name"),
    (lambda c: c["spec"]["versions"][0].update(storage=False), "spec.versions"),
])
def test_invalid_crd_is_422(cluster, breakage, field):
    body = crd()
    breakage(body)
    with pytest.raises(ApiException) as caught:
        extensions(cluster).create_custom_resource_definition(body)
    status = json.loads(caught.value.body)
    assert caught.value.status == 422 and status["details"]["causes"][0]["field"] == field
