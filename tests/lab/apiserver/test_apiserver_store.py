"""The ObjectStore contract the lab's controllers use directly."""
import threading

import pytest

from lab.apiserver import AlreadyExists, Conflict, NotFound, ObjectStore


@pytest.fixture
def store(stepped_clock):
    store = ObjectStore(stepped_clock)
    store.create("", "namespaces", {"metadata": {"name": "ns"}})
    return store


def cm(name, **meta):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": dict(name=name, namespace="ns", **meta),
            "data": {"k": "v"}}


def test_returns_deep_copies(store):
    created = store.create("", "configmaps", cm("a"))
    created["data"]["k"] = "changed"
    got = store.get("", "configmaps", "ns", "a")
    got["data"]["k"] = "changed too"
    assert store.get("", "configmaps", "ns", "a")["data"] == {"k": "v"}


def test_listeners_see_each_change_outside_the_lock(store):
    events = []

    def listener(event, group, plural, obj):
        events.append((event, plural, obj["metadata"]["name"]))
        if event == "ADDED" and plural == "configmaps":  # writing from a listener must not deadlock
            store.create("", "secrets", {"metadata": {"name": obj["metadata"]["name"], "namespace": "ns"}})

    store.add_listener(listener)
    store.create("", "configmaps", cm("a"))
    current = store.get("", "configmaps", "ns", "a")
    current["data"] = {"k": "w"}
    store.update("", "configmaps", current)
    store.delete("", "configmaps", "ns", "a")
    assert events == [("ADDED", "configmaps", "a"), ("ADDED", "secrets", "a"),
                      ("MODIFIED", "configmaps", "a"), ("DELETED", "configmaps", "a")]


def test_no_op_update_changes_nothing(store):
    created = store.create("", "configmaps", cm("a"))
    again = store.update("", "configmaps", created)
    assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_errors(store):
    store.create("", "configmaps", cm("a"))
    with pytest.raises(AlreadyExists):
        store.create("", "configmaps", cm("a"))
    with pytest.raises(NotFound):
        store.delete("", "configmaps", "ns", "b")
    stale = store.get("", "configmaps", "ns", "a")
    store.update("", "configmaps", dict(stale, data={"k": "1"}))
    with pytest.raises(Conflict):
        store.update("", "configmaps", dict(stale, data={"k": "2"}))
    forced = store.update("", "configmaps", dict(stale, data={"k": "2"}), check_version=False)
    assert forced["data"] == {"k": "2"}


def test_update_status_changes_only_status(store):
    store.create("apps", "deployments", {"metadata": {"name": "d", "namespace": "ns"}, "spec": {"replicas": 1}})
    current = store.get("apps", "deployments", "ns", "d")
    result = store.update_status("apps", "deployments",
                                 dict(current, spec={"replicas": 5}, status={"readyReplicas": 1}))
    assert result["spec"] == {"replicas": 1} and result["status"] == {"readyReplicas": 1}
    assert result["metadata"]["generation"] == 1


def test_namespace_finalized_by_controller_update(store):
    store.delete("", "namespaces", None, "ns")
    ns = store.get("", "namespaces", None, "ns")
    assert ns["status"]["phase"] == "Terminating"
    ns["spec"]["finalizers"] = []
    store.update("", "namespaces", ns)
    assert store.get("", "namespaces", None, "ns") is None


def test_label_selector_object_form(store):
    store.create("", "configmaps", cm("a", labels={"app": "x", "tier": "t"}))
    store.create("", "configmaps", cm("b", labels={"app": "y"}))
    selector = {"matchLabels": {"app": "x"}, "matchExpressions": [{"key": "tier", "operator": "Exists"}]}
    assert [o["metadata"]["name"] for o in store.list("", "configmaps", "ns", label_selector=selector)] == ["a"]


def test_concurrent_creates_get_distinct_resource_versions(store):
    def create_many(prefix):
        for i in range(50):
            store.create("", "configmaps", cm(f"{prefix}-{i}"))

    threads = [threading.Thread(target=create_many, args=(p,)) for p in "abcd"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    versions = [o["metadata"]["resourceVersion"] for o in store.list("", "configmaps")]
    assert len(versions) == 200 and len(set(versions)) == 200


def test_failing_listener_does_not_fail_the_write(store):
    store.add_listener(lambda *event: 1 / 0)
    seen = []
    store.add_listener(lambda event, group, plural, obj: seen.append(event))
    created = store.create("", "configmaps", cm("a"))
    assert created["metadata"]["name"] == "a" and seen == ["ADDED"]
