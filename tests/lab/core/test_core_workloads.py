"""Workloads and storage engines through the kubernetes client."""
import os
from pathlib import Path

import pytest
from kubernetes import client

from lab_http import control, wait_for

ENGINES = {  # storage class -> (provisioner, how the PV points at its data)
    "openebs-cstor-csi": ("cstor.csi.openebs.io", "csi"),
    "openebs-jiva-csi": ("jiva.csi.openebs.io", "csi"),
    "openebs-device": ("openebs.io/local", "local"),
    "openebs-hostpath": ("openebs.io/local", "hostPath"),
}


def statefulset(name, replicas, storage_class="openebs-cstor-csi", size="2Gi"):
    return {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "serviceName": name,
                 "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "main", "image": "busybox",
                                                       "volumeMounts": [{"name": "data",
                                                                         "mountPath": "/var/lib/data"}]}]}},
                 "volumeClaimTemplates": [{"metadata": {"name": "data", "labels": {"tier": "db"}},
                                           "spec": {"accessModes": ["ReadWriteOnce"],
                                                    "storageClassName": storage_class,
                                                    "resources": {"requests": {"storage": size}}}}]}}


def node_dir(lab, cluster="backup"):
    return Path(control(lab, "GET", "/state")[1]["clusters"][cluster]["node_dir"])


def test_statefulset_gets_bound_claims_with_data_dirs(lab, core, apps, namespace):
    apps.create_namespaced_stateful_set(namespace, statefulset("db", 3))
    sts = wait_for("statefulset ready", lambda: (
        s := apps.read_namespaced_stateful_set("db", namespace)).status.ready_replicas == 3 and s)
    assert sts.status.replicas == 3 and sts.status.observed_generation == 1
    pvcs = core.list_namespaced_persistent_volume_claim(namespace).items
    assert sorted(p.metadata.name for p in pvcs) == ["data-db-0", "data-db-1", "data-db-2"]
    for pvc in pvcs:
        assert pvc.status.phase == "Bound"
        assert pvc.metadata.labels == {"tier": "db", "app": "db"}
        pv = core.read_persistent_volume(pvc.spec.volume_name)
        assert pv.metadata.name == f"pvc-{pvc.metadata.uid}"
        assert pv.spec.claim_ref.name == pvc.metadata.name and pv.spec.claim_ref.uid == pvc.metadata.uid
        assert pv.spec.capacity == {"storage": "2Gi"} and pv.status.phase == "Bound"
        assert (node_dir(lab) / "volumes" / pv.metadata.name).is_dir()
    pods = core.list_namespaced_pod(namespace, label_selector="app=db").items
    assert sorted(p.metadata.name for p in pods) == ["db-0", "db-1", "db-2"]
    for pod in pods:
        assert pod.status.phase == "Running"
        assert pod.metadata.owner_references[0].kind == "StatefulSet"
        claims = [v.persistent_volume_claim.claim_name for v in pod.spec.volumes if v.persistent_volume_claim]
        assert claims == [f"data-{pod.metadata.name}"]


def test_scaling_down_keeps_claims(core, apps, namespace):
    apps.create_namespaced_stateful_set(namespace, statefulset("kv", 3))
    wait_for("3 ready", lambda: apps.read_namespaced_stateful_set("kv", namespace).status.ready_replicas == 3)
    apps.patch_namespaced_stateful_set("kv", namespace, {"spec": {"replicas": 1}})
    wait_for("1 pod left", lambda: [p.metadata.name for p in core.list_namespaced_pod(namespace).items] == ["kv-0"])
    assert len(core.list_namespaced_persistent_volume_claim(namespace).items) == 3


def test_deployment_becomes_ready_through_a_replicaset(core, apps, namespace):
    apps.create_namespaced_deployment(namespace, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}}}})
    deploy = wait_for("deployment available", lambda: (
        d := apps.read_namespaced_deployment("web", namespace)).status.available_replicas == 2 and d)
    assert deploy.status.ready_replicas == 2 and deploy.status.observed_generation == 1
    assert {c.type: c.status for c in deploy.status.conditions} == {"Available": "True", "Progressing": "True"}
    replica_sets = apps.list_namespaced_replica_set(namespace).items
    assert len(replica_sets) == 1 and replica_sets[0].metadata.owner_references[0].name == "web"
    pods = core.list_namespaced_pod(namespace).items
    assert len(pods) == 2
    assert all(p.metadata.name.startswith(replica_sets[0].metadata.name + "-") for p in pods)
    assert all(p.metadata.owner_references[0].uid == replica_sets[0].metadata.uid for p in pods)
    apps.delete_namespaced_deployment("web", namespace)
    wait_for("pods collected", lambda: not core.list_namespaced_pod(namespace).items)


def test_namespace_delete_cascades(core, apps):
    name = "cascade"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    apps.create_namespaced_stateful_set(name, statefulset("db", 1, "openebs-jiva-csi"))
    core.create_namespaced_config_map(name, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="cm")))
    pvc = wait_for("claim bound", lambda: [p for p in core.list_namespaced_persistent_volume_claim(name).items
                                           if p.status.phase == "Bound"])[0]
    core.delete_namespace(name)
    wait_for("namespace gone", lambda: name not in [n.metadata.name for n in core.list_namespace().items])
    assert not core.list_namespaced_config_map(name).items
    assert not core.list_namespaced_pod(name).items
    assert pvc.spec.volume_name not in [pv.metadata.name for pv in core.list_persistent_volume().items]


@pytest.mark.parametrize("storage_class", sorted(ENGINES))
def test_engine_pv_shape(lab, core, apps, namespace, storage_class):
    provisioner, source = ENGINES[storage_class]
    apps.create_namespaced_stateful_set(namespace, statefulset("app", 1, storage_class, "5Gi"))
    pvc = wait_for("claim bound", lambda: (
        p := core.read_namespaced_persistent_volume_claim("data-app-0", namespace)).status.phase == "Bound" and p)
    pv = core.read_persistent_volume(pvc.spec.volume_name)
    assert pv.spec.storage_class_name == storage_class
    assert pv.metadata.annotations["pv.kubernetes.io/provisioned-by"] == provisioner
    data_dir = str(node_dir(lab) / "volumes" / pv.metadata.name)
    if source == "csi":
        assert pv.spec.csi.driver == provisioner and pv.spec.csi.volume_handle == pv.metadata.name
        assert pv.spec.local is None and pv.spec.host_path is None
    elif source == "local":
        assert pv.spec.local.path == data_dir and pv.spec.csi is None and pv.spec.host_path is None
    else:
        assert pv.spec.host_path.path == data_dir and pv.spec.csi is None and pv.spec.local is None
    assert os.path.isdir(data_dir)


def test_storage_classes_are_openebs_defaults(kube):
    classes = {sc.metadata.name: sc for sc in client.StorageV1Api(kube).list_storage_class().items}
    for name, (provisioner, _) in ENGINES.items():
        assert classes[name].provisioner == provisioner
    assert 'value: "device"' in classes["openebs-device"].metadata.annotations["cas.openebs.io/config"]
    assert 'value: "hostpath"' in classes["openebs-hostpath"].metadata.annotations["cas.openebs.io/config"]
    assert classes["openebs-hostpath"].volume_binding_mode == "WaitForFirstConsumer"


def test_deleting_a_claim_deletes_its_volume_and_data(lab, core, namespace):
    core.create_namespaced_persistent_volume_claim(namespace, {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "solo"},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "openebs-cstor-csi",
                 "resources": {"requests": {"storage": "1Gi"}}}})
    pvc = wait_for("bound", lambda: (
        p := core.read_namespaced_persistent_volume_claim("solo", namespace)).status.phase == "Bound" and p)
    data_dir = node_dir(lab) / "volumes" / pvc.spec.volume_name
    assert data_dir.is_dir()
    core.delete_namespaced_persistent_volume_claim("solo", namespace)
    wait_for("volume deleted", lambda: not data_dir.exists()
             and pvc.spec.volume_name not in [v.metadata.name for v in core.list_persistent_volume().items])


def test_unknown_provisioner_leaves_claim_pending_with_event(kube, core, namespace):
    client.StorageV1Api(kube).create_storage_class({
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": f"{namespace}-ebs"}, "provisioner": "ebs.csi.aws.com"})
    core.create_namespaced_persistent_volume_claim(namespace, {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "ebs"},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": f"{namespace}-ebs",
                 "resources": {"requests": {"storage": "1Gi"}}}})
    event = wait_for("provisioning event", lambda: [
        e for e in core.list_namespaced_event(namespace).items if e.involved_object.name == "ebs"])[0]
    assert event.reason == "ExternalProvisioning" and "ebs.csi.aws.com" in event.message
    assert core.read_namespaced_persistent_volume_claim("ebs", namespace).status.phase == "Pending"
    client.StorageV1Api(kube).delete_storage_class(f"{namespace}-ebs", _preload_content=False)


def test_local_claims_wait_for_their_first_consumer(core, namespace):
    core.create_namespaced_persistent_volume_claim(namespace, {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "local"},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "openebs-hostpath",
                 "resources": {"requests": {"storage": "1Gi"}}}})
    wait_for("waiting event", lambda: [e for e in core.list_namespaced_event(namespace).items
                                       if e.reason == "WaitForFirstConsumer"])
    assert core.read_namespaced_persistent_volume_claim("local", namespace).status.phase == "Pending"
    core.create_namespaced_pod(namespace, {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "user"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}],
                 "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "local"}}]}})
    wait_for("pod running", lambda: core.read_namespaced_pod("user", namespace).status.phase == "Running")
    claim = core.read_namespaced_persistent_volume_claim("local", namespace)
    assert claim.status.phase == "Bound"
    # kube-scheduler's volume binder names the consumer's node before the provisioner runs
    assert claim.metadata.annotations["volume.kubernetes.io/selected-node"] == \
        core.read_namespaced_pod("user", namespace).spec.node_name


def test_deployment_template_change_rolls_to_a_new_replicaset(core, apps, namespace):
    apps.create_namespaced_deployment(namespace, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "api"}},
                 "template": {"metadata": {"labels": {"app": "api"}},
                              "spec": {"containers": [{"name": "api", "image": "api:1"}]}}}})
    wait_for("v1 available", lambda: apps.read_namespaced_deployment("api", namespace).status.available_replicas == 1)
    apps.patch_namespaced_deployment("api", namespace, {"spec": {"template": {"spec": {
        "containers": [{"name": "api", "image": "api:2"}]}}}})

    def rolled():
        pods = core.list_namespaced_pod(namespace).items
        return len(pods) == 1 and pods[0].spec.containers[0].image == "api:2" and pods[0].status.phase == "Running"
    wait_for("pod of the new template", rolled)
    replica_sets = {rs.metadata.annotations["deployment.kubernetes.io/revision"]: rs.spec.replicas
                    for rs in apps.list_namespaced_replica_set(namespace).items}
    assert replica_sets == {"1": 0, "2": 1}
    deploy = apps.read_namespaced_deployment("api", namespace)
    assert deploy.status.observed_generation == 2 and deploy.status.updated_replicas == 1


def test_controllers_adopt_the_orphans_a_restore_leaves(core, apps, namespace):
    """Velero restores ReplicaSets and pods without ownerReferences, before
    their Deployment; kube-controller-manager adopts them by selector and
    makes nothing new (the ReplicaSet's name is another cluster's hash)."""
    template = {"metadata": {"labels": {"app": "kept"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    hashed = {"metadata": {"labels": {"app": "kept", "pod-template-hash": "6ddf8545b9"}},
              "spec": template["spec"]}
    core.create_namespaced_pod(namespace, {"metadata": {"name": "kept-6ddf8545b9-ghxwg", **hashed["metadata"]},
                                           "spec": template["spec"]})
    apps.create_namespaced_replica_set(namespace, {
        "metadata": {"name": "kept-6ddf8545b9", "labels": hashed["metadata"]["labels"]},
        "spec": {"replicas": 1, "template": hashed,
                 "selector": {"matchLabels": {"app": "kept", "pod-template-hash": "6ddf8545b9"}}}})
    apps.create_namespaced_deployment(namespace, {
        "metadata": {"name": "kept"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "kept"}}, "template": template}})
    wait_for("deployment available", lambda: apps.read_namespaced_deployment("kept", namespace).status.available_replicas == 1)
    [replica_set] = apps.list_namespaced_replica_set(namespace).items
    assert replica_set.metadata.name == "kept-6ddf8545b9"
    assert [(o.kind, o.name, o.controller) for o in replica_set.metadata.owner_references] == [("Deployment", "kept", True)]
    [pod] = core.list_namespaced_pod(namespace).items
    assert pod.metadata.name == "kept-6ddf8545b9-ghxwg" and pod.status.phase == "Running"
    assert [(o.kind, o.name) for o in pod.metadata.owner_references] == [("ReplicaSet", "kept-6ddf8545b9")]

    core.create_namespaced_pod(namespace, {"metadata": {"name": "db-0", "labels": {"app": "db"}},
                                           "spec": {"containers": [{"name": "main", "image": "busybox"}]}})
    apps.create_namespaced_stateful_set(namespace, statefulset("db", 1))
    wait_for("statefulset ready", lambda: apps.read_namespaced_stateful_set("db", namespace).status.ready_replicas == 1)
    pods = core.list_namespaced_pod(namespace, label_selector="app=db").items
    assert [(p.metadata.name, p.metadata.owner_references[0].kind) for p in pods] == [("db-0", "StatefulSet")]
