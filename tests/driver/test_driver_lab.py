"""Driver round trips against a started lab: clusters (apply/get/list/exec),
buckets (list/usage/delete), the clock, faults, cleanup and diagnostics."""
import gzip

import pytest
import yaml

from runner.driver import Driver
from runner.driver.waits import WaitTimeout


@pytest.fixture
def driver(lab_target):
    driver = Driver(lab_target, run_id="tests", scenario="driver round trip")
    yield driver
    driver.cleanup()
    driver.close()


def deployment(namespace):
    labels = {"app": "shell"}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "shell", "namespace": namespace},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "sh", "image": "busybox"}]}}}}


def running_pod(cluster, namespace):
    def find():
        pods = cluster.core.list_namespaced_pod(namespace, label_selector="app=shell").items
        return next((p.metadata.name for p in pods if p.status.phase == "Running"), None)
    return cluster.wait_for(f"a running shell pod in {namespace}", find, timeout=30)


def test_cluster_round_trip(driver, lab_target):
    cluster = driver.ensure_cluster("drv-a", version="1.23.17")
    assert cluster.version() == "1.23.17"
    assert cluster.serves("policy/v1beta1", "PodSecurityPolicy")
    cluster.ensure_namespace("work")
    cluster.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "work"},
                   "data": {"k": "1"}})
    cluster.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "work"},
                   "data": {"k": "2"}})
    assert cluster.get("v1", "ConfigMap", "cm", "work")["data"] == {"k": "2"}
    # kube-root-ca.crt: what Kubernetes' root-CA publisher puts in every namespace
    assert sorted(c["metadata"]["name"] for c in cluster.list("v1", "ConfigMap", "work")) == ["cm", "kube-root-ca.crt"]
    cluster.apply(deployment("work"))
    pod = running_pod(cluster, "work")
    rc, out, err = cluster.exec("work", pod, ["sh", "-c", "echo hello; echo oops >&2; exit 3"])
    assert (rc, out, err) == (3, "hello\n", "oops\n")
    assert cluster.delete("v1", "ConfigMap", "cm", "work") is True
    assert cluster.get("v1", "ConfigMap", "cm", "work") is None
    assert cluster.delete("v1", "ConfigMap", "cm", "work") is False
    with pytest.raises(WaitTimeout, match="never on cluster drv-a"):
        cluster.wait_for("never", lambda: False, timeout=0.3)

    assert driver.cleanup() == []
    assert "drv-a" not in lab_target.state()["clusters"]


def test_buckets_and_clock(driver):
    for profile, client in (("minio", "minio"), ("aws", "boto3")):
        bucket = driver.bucket(profile)
        assert bucket.client_kind == client
        bucket.put(f"{driver.scenario_root}/a/one", b"12345")
        bucket.put(f"{driver.scenario_root}/a/two", b"123")
        assert [i.key[len(driver.scenario_root):] for i in bucket.list(driver.scenario_root)] == ["/a/one", "/a/two"]
        assert bucket.usage(driver.scenario_root + "/a/") == 8
        assert bucket.get(f"{driver.scenario_root}/a/two") == b"123"
        assert bucket.exists(f"{driver.scenario_root}/a/one") and not bucket.exists(f"{driver.scenario_root}/x")
        assert bucket.get_if_present(f"{driver.scenario_root}/a/two") == b"123"
        assert bucket.get_if_present(f"{driver.scenario_root}/x") is None
        assert bucket.reachable()
    before = driver.clock.now()
    after = driver.clock.advance(25 * 3600)
    assert (after - before).total_seconds() == 25 * 3600
    assert driver.clock.time_scale == 1.0
    assert driver.cleanup() == []
    assert driver.bucket("minio").list(driver.scenario_root) == []


def test_faults_are_seen_by_the_clients_and_undone_by_cleanup(driver):
    cluster = driver.ensure_cluster("drv-b")
    bucket = driver.bucket("aws")
    driver.cut_cluster("drv-b")
    driver.cut_bucket("aws")
    assert not cluster.reachable() and not bucket.reachable()
    driver.set_quota("aws", 4)
    driver.restore_bucket("aws")
    with pytest.raises(Exception, match="Quota|quota"):
        bucket.put(f"{driver.scenario_root}/big", b"0123456789")
    assert driver.cleanup() == []
    assert bucket.reachable()
    bucket.put(f"{driver.scenario_root}/big", b"0123456789")   # quota removed
    bucket.delete_prefix(driver.scenario_root + "/")


def test_diagnostics_dump_the_scenario_and_redact_secrets(driver, tmp_path):
    cluster = driver.ensure_cluster("drv-c")
    cluster.ensure_namespace("shop")
    cluster.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "shop"},
                   "stringData": {"password": "hunter2-very-secret"}})
    driver.bucket("minio").put(f"{driver.scenario_root}/backups/b1/velero-backup.json", b"{}")
    driver.bucket("minio").put(f"{driver.scenario_root}/backups/b1/b1-logs.gz", gzip.compress(
        b'level=info msg="Backing up item" backup=velero/b1\nlevel=error msg="bad" password=hunter2-very-secret\n'))
    written = driver.diagnostics(tmp_path / "diag")
    names = {p.name for p in written}
    assert {"objects-shop.yaml", "velero.yaml", "events.yaml", "buckets.txt"} <= names
    dump = (tmp_path / "diag" / "drv-c" / "objects-shop.yaml").read_text()
    assert "kind: Secret" in dump and "'***'" in dump
    everything = "".join(p.read_text() for p in written)
    assert "hunter2-very-secret" not in everything and "aHVudGVyMi" not in everything
    assert "backups/b1/velero-backup.json" in (tmp_path / "diag" / "buckets.txt").read_text()
    log = (tmp_path / "diag" / "velero-logs" / "minio" / "backups" / "b1" / "b1-logs").read_text()
    assert 'msg="Backing up item"' in log and "hunter2" not in log
    assert driver.cleanup() == []


def test_restored_namespaces_and_cluster_objects_are_cleaned_by_label(driver):
    cluster = driver.ensure_cluster("drv-d")
    label = {"velero.io/restore-name": "r1"}
    driver.track("Restore", "drv-d", "velero", "r1", api_version="velero.io/v1")
    # what a Velero restore leaves: a labelled namespace (created here without tracking it)
    cluster.dynamic.resources.get(api_version="v1", kind="Namespace").create(
        body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "restored", "labels": label}})
    assert driver.scenario_namespaces("drv-d") == ["restored"]
    driver._clean_cluster(cluster)   # what cleanup does on a real target's clusters (lab ones are destroyed)
    assert cluster.get("v1", "Namespace", "restored") is None


def test_the_lab_serves_every_engine_of_engines_yaml_as_its_entry_says(driver, lab_target):
    from runner import catalogues
    from runner.errors import TargetError
    catalogue = catalogues.engines()
    served = lab_target.state()["engines"]
    assert served == {name: {key: getattr(entry, key) for key in
                             ("storage_class", "provisioner", "parameters", "annotations", "volume", "backup")}
                      for name, entry in catalogue.items()}
    driver.ensure_cluster("drv-engines")
    for name in catalogue:
        engine = driver.engine(name)
        assert driver.storage_class("drv-engines", engine)["provisioner"] == engine.provisioner
    with pytest.raises(TargetError, match=r"^engine 'zfs': not served by this lab \(lab engines: cstor, jiva, "):
        driver.engine("zfs")


def test_diagnostics_list_the_scenarios_velero_objects_not_another_teams(driver, tmp_path):
    """On a shared cluster the velero namespace holds other teams' objects:
    the dump keeps the scenario's own and what Velero made for them."""
    cluster = driver.ensure_cluster("drv-v")
    cluster.velero.create("Schedule", "ours", {"schedule": "@every 24h", "paused": True,
                                               "template": {"includedNamespaces": ["shop"]}})
    custom = cluster.custom
    for name, labels in (("theirs", {}), ("made-by-ours", {"velero.io/schedule-name": "ours"}),
                         ("made-by-theirs", {"velero.io/schedule-name": "theirs"})):
        custom.create_namespaced_custom_object("velero.io", "v1", "velero", "backups", {
            "apiVersion": "velero.io/v1", "kind": "Backup",
            "metadata": {"name": name, "namespace": "velero", "labels": labels},
            "spec": {"includedNamespaces": ["other"]}})
    try:
        driver.diagnostics(tmp_path / "diag")
        dumped = {o["metadata"]["name"] for o in yaml.safe_load_all(
            (tmp_path / "diag" / "drv-v" / "velero.yaml").read_text())}
        assert {"ours", "made-by-ours"} <= dumped and not dumped & {"theirs", "made-by-theirs"}, dumped
    finally:
        for name in ("theirs", "made-by-ours", "made-by-theirs"):
            custom.delete_namespaced_custom_object("velero.io", "v1", "velero", "backups", name)
    assert driver.cleanup() == []
