"""A `kind: real` profile on lab clusters, as a team's shared clusters:
names carry the scenario's prefix, an object of such a name the scenario did
not make is a clash (one line) and stays untouched, lifecycle hooks create
and destroy clusters, preflight says each missing piece in one line, and
what a run left is swept by its label after it."""
import json
import sys
import textwrap

import pytest

from runner import cli
from runner.driver import Driver
from runner.driver.isolation import RUN_LABEL, Clash
from runner.targets import load_profile
from runner.targets.real import RECORD, RealTarget
from runner_paths import ROOT

HOOK = (f'{sys.executable} -c "import os, lab.process as p; '
        "print(p.control_call(os.environ['LAB_CONTROL'], {method}, {path}, {body})[1].get('kubeconfig', ''))\"")
CREATE = HOOK.format(method="'POST'", path="'/clusters'", body="{'name': os.environ['DMAAS_CLUSTER']}")
DESTROY = HOOK.format(method="'DELETE'", path="'/clusters/' + os.environ['DMAAS_CLUSTER']", body="None")


@pytest.fixture(scope="module")
def shared(lab):
    """Two lab clusters: "team" (the profile's "prod" and "verify") and "other"."""
    for name in ("team", "other"):
        lab.ensure_cluster(name)
    return lab


def profile(tmp_path, monkeypatch, lab, extra=""):
    state = lab.state()
    s3 = state["s3"]["minio"]
    monkeypatch.setenv("T_ACCESS", s3["access_key"])
    monkeypatch.setenv("T_SECRET", s3["secret_key"])
    monkeypatch.setenv("LAB_CONTROL", state["control"])
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    team = state["clusters"]["team"]
    path = tmp_path / "shared.yaml"
    path.write_text(textwrap.dedent(f"""\
        kind: real
        name_prefix: qa-
        clusters:
          prod: {{kubeconfig: {team['kubeconfig']}, context: {team['context']}}}
          verify: {{kubeconfig: {team['kubeconfig']}, context: {team['context']}}}
        buckets:
          minio: {{client: minio, endpoint: "{s3['endpoint']}", bucket: dmaas-minio,
                   access_key_env: T_ACCESS, secret_key_env: T_SECRET}}
        time_scale: 0.001
        """) + textwrap.dedent(extra))
    return load_profile(str(path))


def test_names_carry_the_prefix_and_what_the_scenario_did_not_make_is_never_touched(shared, tmp_path, monkeypatch):
    target = RealTarget(profile(tmp_path, monkeypatch, shared))
    driver = Driver(target, run_id="run-1", scenario="isolation")
    ns = driver.own("orders")
    assert ns == f"qa-{driver.id}-orders"
    cluster = driver.ensure_cluster("prod")
    theirs = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "config", "namespace": ns},
              "data": {"owner": "another team"}}
    cluster.dynamic.resources.get(api_version="v1", kind="Namespace").create(
        body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    try:
        with pytest.raises(Clash, match=rf"^cluster prod: Namespace {ns} exists and is not this scenario's \(no label "
                                        rf"dmaas.openebs.io/scenario={driver.id}\); DMaaS never modifies"):
            cluster.ensure_namespace(ns)
        cluster.dynamic.resources.get(api_version="v1", kind="ConfigMap").create(body=theirs, namespace=ns)
        before = cluster.get("v1", "ConfigMap", "config", ns)
        with pytest.raises(Clash, match=f"ConfigMap {ns}/config exists"):
            cluster.apply(dict(theirs, data={"owner": "us"}))
        assert cluster.get("v1", "ConfigMap", "config", ns) == before
        assert driver.cleanup() == []                    # nothing of ours: theirs stays
        assert cluster.get("v1", "ConfigMap", "config", ns) == before
    finally:
        cluster.delete("v1", "Namespace", ns)
    mine = cluster.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "mine", "namespace": "default"},
                          "data": {"a": "1"}})
    assert mine["metadata"]["labels"] == {RUN_LABEL: "run-1", "dmaas.openebs.io/scenario": driver.id}
    assert cluster.apply(dict(mine, data={"a": "2"}))["data"] == {"a": "2"}    # its own: replaced
    cluster.velero.create("Schedule", driver.own("plan"), {"schedule": "0 * * * *", "template": {}})
    schedule = cluster.velero.get("Schedule", driver.own("plan"))
    assert schedule["spec"]["template"]["metadata"]["labels"][RUN_LABEL] == "run-1"   # its backups are the run's
    with pytest.raises(Clash, match=f"Schedule velero/{driver.own('plan')} exists already"):
        cluster.velero.create("Schedule", driver.own("plan"), {"schedule": "0 * * * *", "template": {}})
    assert driver.cleanup() == []
    assert cluster.get("v1", "ConfigMap", "mine", "default") is None
    assert cluster.velero.get("Schedule", driver.own("plan")) is None


def test_a_bsl_of_the_same_name_pointing_elsewhere_is_never_reused(shared, tmp_path, monkeypatch):
    from runner.dmaas import DMaaS
    target = RealTarget(profile(tmp_path, monkeypatch, shared))
    driver = Driver(target, run_id="run-2", scenario="bsl")
    cluster = driver.ensure_cluster("prod")
    name = driver.own("minio")
    body = {"apiVersion": "velero.io/v1", "kind": "BackupStorageLocation",
            "metadata": {"name": name, "namespace": "velero"},
            "spec": {"provider": "aws", "objectStorage": {"bucket": "someone-elses"}, "config": {"region": "x"}}}
    cluster.custom.create_namespaced_custom_object("velero.io", "v1", "velero", "backupstoragelocations", body)
    try:
        before = cluster.velero.get("BackupStorageLocation", name)["spec"]
        with pytest.raises(Clash, match=f"BackupStorageLocation {name} exists and is not this scenario's"):
            DMaaS(driver).add_location("prod", name, "minio")
        assert cluster.velero.get("BackupStorageLocation", name)["spec"] == before
        assert driver.cleanup() == []
        assert cluster.velero.get("BackupStorageLocation", name)["spec"] == before
    finally:
        cluster.velero.delete("BackupStorageLocation", name)
        cluster.delete("v1", "Secret", f"dmaas-{name}-credentials", "velero")


def test_lifecycle_hooks_create_install_and_destroy_clusters_by_name(shared, tmp_path, monkeypatch):
    installed = tmp_path / "installed"
    target = RealTarget(profile(tmp_path, monkeypatch, shared, f"""\
        lifecycle:
          create: {json.dumps(CREATE)}
          install: 'echo "$DMAAS_CLUSTER $DMAAS_CONTEXT $KUBECONFIG" > {installed}'
          destroy: {json.dumps(DESTROY)}
        """))
    driver = Driver(target, run_id="run-3", scenario="lifecycle")
    assert target.cannot("destroy_cluster", "prod").startswith(
        "cluster 'prod' of target 'shared' is one of its profile's shared clusters: a run destroys only clusters "
        "it creates itself")
    assert target.cannot("ensure_cluster", "rescue") is None and target.cannot("create_cluster", "rescue") is None
    rescue = driver.create_cluster("rescue")
    real = driver.own("rescue")
    assert real in shared.state()["clusters"]
    assert installed.read_text().split() == [real, real, rescue.info.kubeconfig]
    assert rescue.reachable()
    driver.destroy_cluster("rescue")
    assert real not in shared.state()["clusters"]
    driver.ensure_cluster("source")                  # not listed: made by the hooks, gone with the scenario
    assert driver.own("source") in shared.state()["clusters"]
    assert driver.cleanup() == []
    assert driver.own("source") not in shared.state()["clusters"]
    without = RealTarget(profile(tmp_path, monkeypatch, shared))
    assert without.cannot("create_cluster", "rescue") == (
        "target 'shared' cannot create cluster 'rescue': its profile has no lifecycle hooks "
        "(lifecycle.create / lifecycle.destroy)")


def test_a_failing_hook_is_one_line_naming_the_field(shared, tmp_path, monkeypatch):
    from runner.errors import TargetError
    target = RealTarget(profile(tmp_path, monkeypatch, shared, """\
        lifecycle: {create: 'echo "quota exceeded (token=abc123)" >&2; exit 3', destroy: 'true'}
        """))
    with pytest.raises(TargetError) as error:
        target.create_cluster("rescue")
    assert str(error.value) == (f"{target.path}: lifecycle.create: cluster rescue: exited with status 3: "
                                "quota exceeded (token=***)")


def test_what_a_run_left_is_swept_by_its_label_and_nothing_else(shared, tmp_path, monkeypatch):
    prof = profile(tmp_path, monkeypatch, shared)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    monkeypatch.setenv("DMAAS_REPORT_DIR", str(run_dir))
    target = RealTarget(prof)
    driver = Driver(target, run_id="20260105T000000Z-abcdef", scenario="killed")
    cluster = driver.ensure_cluster("prod")
    cluster.ensure_namespace(driver.own("orders"))                  # left behind: behave was killed
    cluster.velero.create("Schedule", driver.own("hourly"), {"schedule": "0 * * * *", "template": {}})
    bucket = driver.bucket("minio")
    bucket.put(f"{driver.scenario_root}/x", b"data")
    bucket.put("another-team/keep", b"theirs")
    cluster.dynamic.resources.get(api_version="v1", kind="Namespace").create(
        body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "another-team"}})
    try:
        assert {"cluster": "prod", "event": "reached"} in [json.loads(line) for line in
                                                            (run_dir / RECORD).read_text().splitlines()]
        assert RealTarget.after_run(prof, run_dir, "20260105T000000Z-abcdef") == []
        assert cluster.get("v1", "Namespace", driver.own("orders")) is None
        assert cluster.velero.get("Schedule", driver.own("hourly")) is None
        assert not bucket.list(driver.run_root + "/")
        assert bucket.get("another-team/keep") == b"theirs" and cluster.get("v1", "Namespace", "another-team")
    finally:
        bucket.delete("another-team/keep")
        cluster.delete("v1", "Namespace", "another-team")


def test_validate_target_says_each_missing_piece_in_one_line(shared, tmp_path, monkeypatch, capsys):
    """MYSQL (clusters prod and verify, local-hp volumes, the aws bucket) where
    verify has no node-agent and no StorageClass for the engine, and the
    profile has no aws bucket."""
    other = shared.state()["clusters"]["other"]
    prof = profile(tmp_path, monkeypatch, shared)
    text = prof.path.read_text()
    verify_line = next(line for line in text.splitlines() if line.strip().startswith("verify:"))
    prof.path.write_text(text.replace(verify_line, f"  verify: {{kubeconfig: {other['kubeconfig']}, context: other}}"))
    target = RealTarget(load_profile(str(prof.path)))
    verify = Driver(target, "run-4", "validate").ensure_cluster("verify")
    verify.apps.delete_namespaced_daemon_set("node-agent", "velero")
    verify.delete("storage.k8s.io/v1", "StorageClass", "openebs-hostpath")
    code = cli.main(["--root", str(ROOT), "validate", "--no-steps", "--target", str(prof.path), "--tags", "@mysql"])
    lines = capsys.readouterr().out.splitlines()
    where = f"{prof.path}: clusters.verify (context other, {other['server']})"
    assert lines == [
        f"{where}: no node-agent DaemonSet in namespace velero (file-system backup needs it: `velero install "
        f"--use-node-agent`; Velero's Helm chart leaves it off); needed for file-system backup of local-hp volumes",
        f"{where}: no StorageClass openebs-hostpath (engine local-hp: install LocalPV hostpath)",
        f"{prof.path}: buckets.aws: the selected scenarios use bucket profile aws, which this target does not give; "
        f"`dmaas run` skips them"], lines
    assert code == 1


def test_velero_gc_frequency_is_read_from_the_servers_arguments_else_the_profiles(shared, tmp_path, monkeypatch):
    target = RealTarget(profile(tmp_path, monkeypatch, shared, "velero_gc_period: 600\n"))
    assert target.velero_gc_period == 600                   # nothing read yet: the profile's
    cluster = Driver(target, "run-5", "gc").ensure_cluster("prod")
    deployment = cluster.apps.read_namespaced_deployment("velero", "velero")
    args = list(deployment.spec.template.spec.containers[0].args)
    try:
        cluster.apps.patch_namespaced_deployment("velero", "velero", {"spec": {"template": {"spec": {"containers": [
            {"name": "velero", "args": args + ["--garbage-collection-frequency=1m30s"]}]}}}})
        fresh = RealTarget(profile(tmp_path, monkeypatch, shared, "velero_gc_period: 600\n"))
        assert fresh.cannot("ensure_cluster", "prod") is None
        assert fresh.velero_gc_period == 90                 # the server's own, where its arguments show it
    finally:
        cluster.apps.patch_namespaced_deployment("velero", "velero", {"spec": {"template": {"spec": {"containers": [
            {"name": "velero", "args": args}]}}}})
