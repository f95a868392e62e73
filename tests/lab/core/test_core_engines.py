"""Storage engines come from the lab's config, not from code: a lab given
engines no constant knows installs their StorageClasses and provisions their
claims as each entry's `volume` says (CSI with the entry's provisioner as
driver, local, hostPath); it serves exactly the engines it is given."""
from pathlib import Path

import pytest
from kubernetes import client

from lab import process
from lab.config import DEFAULT_ENGINES, ConfigError, parse_config
from lab_http import wait_for

ENGINES = {
    "zfs-local": {"storage_class": "openebs-zfspv", "provisioner": "zfs.csi.openebs.io",
                  "parameters": {"poolname": "zfspv-pool", "fstype": "zfs"}, "volume": "csi", "backup": "snapshot"},
    "local-path": {"storage_class": "local-path", "provisioner": "rancher.io/local-path",
                   "volume": "hostpath", "backup": "fs"},
    "local-dev": DEFAULT_ENGINES["local-dev"],
    "local-hp": DEFAULT_ENGINES["local-hp"],
}


@pytest.fixture(scope="module")
def engines_lab(tmp_path_factory):
    handle = process.start({"lab": {"clusters": [{"name": "engines"}], "s3": [], "engines": ENGINES}},
                           tmp_path_factory.mktemp("engines-lab") / "state")
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def kube(engines_lab):
    from kubernetes import config as kube_config
    state = engines_lab.state["clusters"]["engines"]
    return kube_config.new_client_from_config(state["kubeconfig"], context=state["context"])


@pytest.fixture
def namespace(kube, request):
    core = client.CoreV1Api(kube)
    name = f"t-{request.node.name.lower().replace('_', '-')}"[:50].strip("-")
    core.create_namespace({"metadata": {"name": name}})
    yield name
    core.delete_namespace(name)


def claim_used_by_a_pod(core, namespace, storage_class):
    """A claim on `storage_class` and a pod mounting it (node-local classes wait
    for their first consumer); the claim once Bound."""
    core.create_namespaced_persistent_volume_claim(namespace, {
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": storage_class,
                 "resources": {"requests": {"storage": "1Gi"}}}})
    core.create_namespaced_pod(namespace, {
        "metadata": {"name": "user"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}],
                 "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "data"}}]}})
    return wait_for("claim bound", lambda: (
        p := core.read_namespaced_persistent_volume_claim("data", namespace)).status.phase == "Bound" and p)


def test_the_lab_installs_a_class_per_engine_it_is_given_and_no_other(engines_lab, kube):
    classes = {sc.metadata.name: sc for sc in client.StorageV1Api(kube).list_storage_class().items}
    assert set(classes) == {entry["storage_class"] for entry in ENGINES.values()}
    zfs = classes["openebs-zfspv"]
    assert zfs.provisioner == "zfs.csi.openebs.io" and zfs.parameters == {"poolname": "zfspv-pool", "fstype": "zfs"}
    assert zfs.volume_binding_mode == "Immediate" and zfs.allow_volume_expansion
    local_path = classes["local-path"]
    assert local_path.provisioner == "rancher.io/local-path" and local_path.volume_binding_mode == "WaitForFirstConsumer"
    assert classes["openebs-device"].metadata.annotations == DEFAULT_ENGINES["local-dev"]["annotations"]
    assert set(engines_lab.state["engines"]) == set(ENGINES)
    assert engines_lab.state["engines"]["zfs-local"]["backup"] == "snapshot"


@pytest.mark.parametrize("storage_class, provisioner, source", [
    ("openebs-zfspv", "zfs.csi.openebs.io", "csi"),
    ("local-path", "rancher.io/local-path", "hostPath"),
    ("openebs-device", "openebs.io/local", "local"),
])
def test_a_new_engines_volume_is_shaped_as_its_entry_says(engines_lab, kube, namespace, storage_class,
                                                          provisioner, source):
    core = client.CoreV1Api(kube)
    pvc = claim_used_by_a_pod(core, namespace, storage_class)
    pv = core.read_persistent_volume(pvc.spec.volume_name)
    data_dir = Path(engines_lab.state["clusters"]["engines"]["node_dir"]) / "volumes" / pv.metadata.name
    assert pv.metadata.annotations["pv.kubernetes.io/provisioned-by"] == provisioner
    assert pv.spec.storage_class_name == storage_class and data_dir.is_dir()
    if source == "csi":
        assert pv.spec.csi.driver == provisioner and pv.spec.csi.volume_handle == pv.metadata.name
        assert pv.spec.local is None and pv.spec.host_path is None and pv.spec.node_affinity is None
    elif source == "local":
        assert pv.spec.local.path == str(data_dir) and pv.spec.csi is None and pv.spec.host_path is None
    else:
        assert pv.spec.host_path.path == str(data_dir) and pv.spec.csi is None and pv.spec.local is None
    wait_for("pod running", lambda: core.read_namespaced_pod("user", namespace).status.phase == "Running")


def test_a_class_of_a_shared_provisioner_is_told_apart_by_its_entry_or_left_pending(kube, namespace):
    """openebs.io/local makes local and hostPath volumes: a class of that
    provisioner gets the kind of the entry whose annotations it carries; with
    none, its claim stays Pending and says why."""
    storage, core = client.StorageV1Api(kube), client.CoreV1Api(kube)
    device_like = f"{namespace}-device"
    storage.create_storage_class({"metadata": {"name": device_like,
                                               "annotations": DEFAULT_ENGINES["local-dev"]["annotations"]},
                                  "provisioner": "openebs.io/local", "volumeBindingMode": "Immediate"})
    bare = f"{namespace}-bare"
    storage.create_storage_class({"metadata": {"name": bare}, "provisioner": "openebs.io/local",
                                  "volumeBindingMode": "Immediate"})
    try:
        for name, storage_class in (("device", device_like), ("bare", bare)):
            core.create_namespaced_persistent_volume_claim(namespace, {
                "metadata": {"name": name},
                "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": storage_class,
                         "resources": {"requests": {"storage": "1Gi"}}}})
        pvc = wait_for("device-like claim bound", lambda: (
            p := core.read_namespaced_persistent_volume_claim("device", namespace)).status.phase == "Bound" and p)
        assert core.read_persistent_volume(pvc.spec.volume_name).spec.local is not None
        event = wait_for("provisioning event", lambda: [
            e for e in core.list_namespaced_event(namespace).items if e.involved_object.name == "bare"])[0]
        assert event.reason == "ProvisioningFailed"
        assert "openebs-device, openebs-hostpath" in event.message and bare in event.message
        assert core.read_namespaced_persistent_volume_claim("bare", namespace).status.phase == "Pending"
    finally:
        for name in (device_like, bare):
            storage.delete_storage_class(name, _preload_content=False)


@pytest.mark.parametrize("engines, message", [
    ({"x": {**ENGINES["local-path"], "volume": "nfs"}}, "lab.engines.x.volume: 'nfs' is not one of csi, local, hostpath"),
    ({"x": {**ENGINES["local-path"], "backup": "snapshot"}}, "lab.engines.x.backup: snapshot needs volume: csi"),
    ({"x": ENGINES["local-path"], "y": ENGINES["local-path"]}, "lab.engines.y.storage_class: 'local-path' is also"),
    ({"x": {**ENGINES["zfs-local"], "title": "ZFS"}}, "lab.engines.x.title: unknown field"),
    ({"x": ENGINES["zfs-local"], "y": {**ENGINES["zfs-local"], "storage_class": "b", "backup": "fs"}},
     "lab.engines.x.backup: snapshot, but engine 'y' with the same provisioner 'zfs.csi.openebs.io' says fs"),
    ({"Bad": ENGINES["zfs-local"]}, "lab.engines: bad engine name 'Bad'"),
])
def test_a_bad_engine_entry_is_one_line_naming_its_field(engines, message):
    with pytest.raises(ConfigError) as error:
        parse_config({"lab": {"engines": engines}}, "lab.yaml")
    assert str(error.value).startswith("lab.yaml: ") and message in str(error.value)
    assert "\n" not in str(error.value)


def test_without_engines_a_lab_serves_openebs_four():
    assert sorted(parse_config(None).engines) == ["cstor", "jiva", "local-dev", "local-hp"]
    assert parse_config({"lab": {"engines": {}}}).engines == {}
