"""Label and field selectors on list, as kube-apiserver evaluates them."""
import json

import pytest
from kubernetes.client.rest import ApiException

LABELS = {"a": {"app": "web", "tier": "front"},
          "b": {"app": "web", "tier": "back"},
          "c": {"app": "db"},
          "d": {}}


@pytest.fixture
def labelled(cluster):
    for name, labels in LABELS.items():
        cluster.core.create_namespaced_config_map(
            "default", {"metadata": {"name": name, "labels": labels}, "data": {}})
    return cluster


def names(cluster, **kwargs):
    return [c.metadata.name for c in cluster.core.list_namespaced_config_map("default", **kwargs).items]


@pytest.mark.parametrize("selector, expected", [
    ("app=web", ["a", "b"]),
    ("app==web", ["a", "b"]),
    ("app!=web", ["c", "d"]),                 # != also matches objects without the key
    ("app=web,tier=back", ["b"]),             # comma is AND
    ("tier in (front, back)", ["a", "b"]),
    ("tier notin (front)", ["b", "c", "d"]),  # notin also matches objects without the key
    ("tier", ["a", "b"]),
    ("!tier", ["c", "d"]),
    ("app in (web,db),!tier", ["c"]),
    ("", ["a", "b", "c", "d"]),
])
def test_label_selectors(labelled, selector, expected):
    assert names(labelled, label_selector=selector) == expected


@pytest.mark.parametrize("selector, expected", [
    ("metadata.name=c", ["c"]),
    ("metadata.name==c", ["c"]),
    ("metadata.name!=c", ["a", "b", "d"]),
    ("metadata.namespace=default,metadata.name!=a", ["b", "c", "d"]),
    ("metadata.namespace=other", []),
])
def test_field_selectors(labelled, selector, expected):
    assert names(labelled, field_selector=selector) == expected


def test_selectors_combine(labelled):
    assert names(labelled, label_selector="app=web", field_selector="metadata.name!=a") == ["b"]


@pytest.mark.parametrize("kwargs", [
    {"label_selector": "app in (web"},
    {"label_selector": "app===web"},
    {"label_selector": "app in web"},
    {"label_selector": "Bad Key=1"},
    {"field_selector": "spec.unknown=1"},
    {"field_selector": "metadata.name"},
])
def test_malformed_selectors_are_400(labelled, kwargs):
    with pytest.raises(ApiException) as caught:
        labelled.core.list_namespaced_config_map("default", **kwargs)
    assert caught.value.status == 400
    assert json.loads(caught.value.body)["reason"] == "BadRequest"


def test_resource_specific_field_selector(cluster):
    for name, phase in (("p1", "Running"), ("p2", "Pending")):
        cluster.core.create_namespaced_pod("default", {"metadata": {"name": name},
                                                       "spec": {"containers": [{"name": "c", "image": "i"}]}})
        cluster.core.patch_namespaced_pod_status(name, "default", {"status": {"phase": phase}})
    running = cluster.core.list_pod_for_all_namespaces(field_selector="status.phase=Running").items
    assert [p.metadata.name for p in running] == ["p1"]
