"""The DMaaS layer end to end on the lab: plans become Velero schedules
that run on the virtual clock, keep-last-N, backup kinds, discovery and
restore on a second cluster, restore-to-verify and promotion, data
movement, capacity and the monitor views (and `dmaas monitor`)."""
import json

import pytest

from runner import apps
from runner.apps.probes import DataProbe
from runner.dmaas import DMaaS, PlanSpec
from runner import monitor_cli
from runner.driver import Driver


@pytest.fixture(scope="module")
def lab_target(tmp_path_factory):
    from runner.targets import load_profile, open_target
    target = open_target(load_profile("lab"), tmp_path_factory.mktemp("lab") / "state")
    yield target
    target.stop()


@pytest.fixture
def driver(lab_target, request):
    driver = Driver(lab_target, run_id="tests", scenario=request.node.name)
    yield driver
    assert driver.cleanup() == []
    driver.close()


def install(driver, cluster, app, namespace, engine, replicas=None):
    probe = apps.install(driver, cluster, app, namespace, engine, replicas)
    probe.wait_ready(60)
    return probe


def test_an_fs_plan_runs_keeps_last_n_and_restores_elsewhere(driver, tmp_path):
    driver.ensure_cluster("src")
    driver.ensure_cluster("dst")
    dmaas = DMaaS(driver)
    dmaas.add_location("src", "minio", "minio", prefix="teams/dba")
    probe = install(driver, "src", "mysql", "db", "local-hp")
    probe.write(0)
    dmaas.create_plan(PlanSpec("hourly", "dba", "src", namespaces=["db"], every="1h", full_every=2, keep_last=2,
                               locations=["minio"], engine="local-hp"))
    recorded, seen = {}, set()
    for hour in range(1, 5):
        driver.clock.advance(3600)
        dmaas.reconcile()
        backups = dmaas.plan_backups("hourly")
        assert len(backups) == min(hour, 2)
        seen |= {b.name for b in backups}
        recorded[backups[-1].name] = probe.state()    # the data before this hour's write
        probe.write(hour)
    assert [b.kind for b in dmaas.plan_backups("hourly")] == ["full", "incremental"]
    assert len(seen) == 4 and all(b.phase == "Completed" for b in dmaas.plan_backups("hourly"))
    keys = [o.key for o in driver.bucket("minio").list(driver.scenario_root + "/")]
    assert keys and all(k.startswith(f"{driver.scenario_root}/teams/dba/") for k in keys)

    dmaas.add_location("dst", "minio", "minio", prefix="teams/dba")
    assert dmaas.discover("dst", "minio") == sorted(b.name for b in dmaas.plan_backups("hourly"))
    oldest = dmaas.plan_backups("hourly")[0].name
    result = dmaas.restore("dst", oldest, namespace_mapping={"db": "db-old"})
    assert result.phase == "Completed", result.messages
    restored = DataProbe(driver.cluster("dst"), "db-old", "mysql")
    restored.wait_ready(60)
    assert restored.state() == recorded[oldest]
    assert restored.consistency_problems() == []

    views = dmaas.monitor()
    plan_row = next(r for r in views["plans"] if r["plan"] == "hourly")
    last = dmaas.plan_backups("hourly")[-1].started
    assert plan_row["team"] == "dba" and plan_row["last_run"] == f"{last:%Y-%m-%dT%H:%M:%SZ}"
    assert plan_row["next_run"] == f"{last.replace(hour=last.hour + 1):%Y-%m-%dT%H:%M:%SZ}"
    usage = next(r for r in views["usage"] if r["team"] == "dba")
    assert usage["backups"] == 2 and usage["bytes"] == usage["backup_bytes"] + usage["volume_bytes"] > 0
    assert {(r["name"], r["status"]) for r in views["connectivity"]} >= {("src", "connected"), ("minio", "connected")}
    driver.cut_cluster("dst")
    try:
        cut = {r["name"]: r["status"] for r in dmaas.monitor()["connectivity"]}
        assert cut["dst"] == "unreachable" and cut["src"] == "connected"
    finally:
        driver.restore_cluster("dst")


def test_a_snapshot_plan_keeps_whole_chains_and_reads_kinds_from_its_own_marks(driver):
    """cStor, a full every 3 runs, 4 h of retention, 9 hours: F I I F I I F I I.
    The kinds come from the layer's chain mark (not from any log); Velero's
    TTL is a chain and a run beyond retention; the layer deletes the first
    chain only once its last incremental (hour 3) is past retention (hour 8),
    never its full alone, so the oldest backup (a full) still restores."""
    driver.ensure_cluster("chains")
    dmaas = DMaaS(driver)
    dmaas.add_location("chains", "minio", "minio")
    probe = install(driver, "chains", "mysql", "db", "cstor")
    probe.write(0)
    dmaas.create_plan(PlanSpec("hourly", "dba", "chains", namespaces=["db"], every="1h", full_every=3,
                               retention_ttl="4h", locations=["minio"], engine="cstor"))
    recorded, present = {}, []
    for hour in range(1, 10):
        driver.clock.advance(3600)
        dmaas.reconcile()
        backups = dmaas.plan_backups("hourly")
        recorded[backups[-1].name] = probe.state()
        present.append([b.kind[0].upper() for b in backups])
        probe.write(hour)
    assert present[6] == list("FIIFIIF")               # hour 7: b3 started 4 h ago, still retained
    assert present[7] == list("FIIFI") and present[8] == list("FIIFII")     # hour 8: the first chain went whole
    backups = dmaas.plan_backups("hourly")
    assert all((b.expires - b.started).total_seconds() == (4 + 3 + 1) * 3600 for b in backups)
    log = dmaas.bucket_backups.layout(dmaas.location("minio")).log(backups[1].name)
    assert "parent" not in log and "incremental" not in log
    result = dmaas.restore("chains", backups[1].name, namespace_mapping={"db": "db-i"})
    assert result.phase == "Completed", result.messages
    restored = DataProbe(driver.cluster("chains"), "db-i", "mysql")
    restored.wait_ready(60)
    assert restored.state() == recorded[backups[1].name]


def test_verify_then_promote_and_capacity(driver):
    driver.ensure_cluster("ops")
    driver.ensure_cluster("check")
    dmaas = DMaaS(driver)
    for cluster in ("ops", "check"):
        dmaas.add_location(cluster, "staging", "minio", prefix="staging")
    probe = install(driver, "ops", "cortex", "cortex", "jiva")
    probe.write(1)
    expected = probe.state()
    dmaas.backup_now("ops", "good", {"namespaces": ["cortex"]}, "staging")
    probe.write(2)
    refused = dmaas.verify_then_promote("good", "check", expected=probe.state(), target_bucket="aws")
    assert not refused.verified and not refused.uploaded and "differs" in refused.reason
    assert not driver.bucket("aws").list(f"{driver.scenario_root}/aws/")
    assert refused.verification.cleaned_up

    promoted = dmaas.verify_then_promote("good", "check", expected=expected, target_bucket="aws")
    assert promoted.verified and promoted.uploaded, promoted.reason
    assert promoted.uploaded_at >= promoted.verified_at
    assert promoted.verification.found["StatefulSet"] == ["cassandra", "cortex"]
    assert any(k.endswith("backups/good/velero-backup.json") for k in promoted.keys)
    assert any("/kopia/cortex/" in k for k in promoted.keys)
    assert all(k.startswith(f"{driver.scenario_root}/aws/") for k in promoted.keys)

    dmaas.set_capacity("aws", 64 * 1024)
    probe.write_bytes(256 * 1024)
    warning = dmaas.capacity_check("ops", ["cortex"], "aws")
    assert warning is not None and warning.needed_bytes > 256 * 1024
    dmaas.set_capacity("aws", 512 * 2**20)
    assert dmaas.capacity_check("ops", ["cortex"], "aws") is None
    dmaas.set_capacity("aws", None)


def test_data_only_backups_move_into_an_app_of_other_sizing(driver):
    driver.ensure_cluster("lob-a")
    driver.ensure_cluster("lob-b")
    dmaas = DMaaS(driver)
    for cluster in ("lob-a", "lob-b"):
        dmaas.add_location(cluster, "minio", "minio")
    source = install(driver, "lob-a", "percona", "sales", "cstor", replicas=3)
    target = install(driver, "lob-b", "percona", "sales", "cstor", replicas=1)
    source.write(1)
    dmaas.create_plan(PlanSpec("daily", "data", "lob-a", namespaces=["sales"], every="24h", locations=["minio"],
                               data_only=True, engine="cstor"))
    recorded = source.state()
    driver.clock.advance(24 * 3600)
    backup = dmaas.plan_backups("daily")[-1]
    contents = dmaas.bucket_backups.layout(dmaas.location("minio")).contents(backup.name)
    assert contents.kinds() <= {"persistentvolumeclaims", "persistentvolumes", "namespaces"}
    moved = dmaas.move_data(backup.name, "lob-b", "sales")
    assert moved.replicas == {"StatefulSet/percona": 1}
    target.wait_ready(60)
    assert target.replicas() == 1
    assert target.state().data_differences(recorded) == []


def test_dmaas_monitor_command_writes_the_views(driver, lab_target, tmp_path, capsys):
    driver.ensure_cluster("mon")
    dmaas = DMaaS(driver)
    dmaas.add_location("mon", "minio", "minio")
    dmaas.create_plan(PlanSpec("psp", "platform", "mon", include_resources=["configmaps"], every="1h",
                               locations=["minio"]))
    driver.clock.advance(3600)
    state = lab_target.handle.state_dir / "lab.json"
    assert monitor_cli.main(["--lab-state", str(state), "--report-dir", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "Continuity plans" in printed and "platform" in printed
    views = json.loads((tmp_path / "monitor.json").read_text())["views"]
    assert any(r["plan"] == "psp" and r["last_run"] for r in views["plans"])
    assert monitor_cli.main(["--lab-state", str(tmp_path / "nowhere.json")]) == 2
