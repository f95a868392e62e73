"""Target profiles: validation errors are one line naming file and field;
credentials only ever come from the environment and never reach output."""
import subprocess
import sys
import textwrap

import pytest

from runner.targets import TargetError, Unsupported, load_profile
from runner.targets.lab_as_real import LabAsRealTarget
from runner.targets.real import RealTarget

SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


def write(tmp_path, text, name="t.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize("name", ["lab", "lab-as-real", "example-real"])
def test_shipped_profiles_are_valid(name):
    assert load_profile(name).kind in ("lab", "lab-as-real", "real")


@pytest.mark.parametrize("body, field", [
    ("kind: cloud\n", "kind"),
    ("kind: real\nclusters: {a: {context: x, version: 1.29}}\n", "clusters.a.version"),
    ("kind: real\nclusters: {a: {context: x}}\ntime_scale: 5\n", "time_scale"),
    ("kind: real\nclusters: {a: {context: x}}\nbuckets: {aws: {endpoint: 'http://x', bucket: b, "
     "access_key_env: A}}\n", "buckets.aws"),
    ("kind: lab\nclusters: {a: {context: x}}\n", "(top level)"),
    ("kind: real\n", "(top level)"),
    ("kind: real\nclusters: {a: {context: x}}\nclock: lab\n", "(top level)"),
    ("kind: real\nclusters: {a: {context: x, version: '1.29.x'}}\n", "clusters.a.version"),
    ("kind: real\nclusters: {a: {context: x}}\nlifecycle: {create: make}\n", "lifecycle"),
    ("kind: real\nclusters: {a: {context: x}}\nbuckets: {aws: {endpoint: 'http://x', bucket: bkt, "
     "access_key_env: A, secret_key_env: S, checksum_algorithm: MD5}}\n", "buckets.aws.checksum_algorithm"),
    ("kind: realstack\nlifecycle: {create: a, destroy: b}\n", "(top level)"),
    ("kind: real\nclusters: {a: [{context: x}, {context: y, version: bad}]}\n", "clusters.a[1].version"),
    ("kind: real\nclusters: {a: []}\n", "clusters.a"),
])
def test_validation_errors_name_file_and_field(tmp_path, body, field):
    path = write(tmp_path, body)
    with pytest.raises(TargetError) as error:
        load_profile(str(path))
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: {field}:"), message


def test_malformed_yaml_names_the_line(tmp_path):
    path = write(tmp_path, "kind: real\nclusters: [\n")
    with pytest.raises(TargetError, match=r"t.yaml:\d+:\d+: malformed YAML"):
        load_profile(str(path))


def test_unknown_profile_lists_the_known_ones():
    with pytest.raises(TargetError, match="known: .*example-real.*lab"):
        load_profile("nowhere")


def test_a_literal_secret_in_a_profile_is_rejected_without_echoing_it(tmp_path):
    path = write(tmp_path, f"""\
        kind: real
        clusters: {{a: {{context: x}}}}
        buckets:
          aws: {{endpoint: "https://s3", bucket: bkt, access_key_env: "{SECRET}", secret_key_env: S,
                 secret_key: "{SECRET}"}}
        """)
    with pytest.raises(TargetError) as error:
        load_profile(str(path))
    assert SECRET not in str(error.value)
    assert "buckets.aws" in str(error.value)


def test_a_secret_in_a_field_with_a_pattern_is_not_echoed(tmp_path):
    path = write(tmp_path, f"""\
        kind: real
        clusters: {{a: {{context: x}}}}
        buckets:
          aws: {{endpoint: "https://s3", bucket: bkt, access_key_env: "{SECRET}", secret_key_env: S}}
        """)
    with pytest.raises(TargetError) as error:
        load_profile(str(path))
    assert SECRET not in str(error.value)
    assert str(error.value).startswith(f"{path}: buckets.aws.access_key_env: must match ")


def real_target(tmp_path, monkeypatch, **env):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    path = write(tmp_path, """\
        kind: real
        clusters:
          backup: {kubeconfig: /nonexistent/kubeconfig, context: prod, version: "1.29.4"}
        buckets:
          aws: {client: boto3, endpoint: "https://s3.example", region: eu-west-1, bucket: bkt,
                access_key_env: T_ACCESS, secret_key_env: T_SECRET}
        time_scale: 0.0333
        """)
    return RealTarget(load_profile(str(path)))


def test_real_bucket_credentials_come_from_the_environment_and_stay_out_of_reprs(tmp_path, monkeypatch):
    target = real_target(tmp_path, monkeypatch, T_ACCESS="AKIAEXAMPLE", T_SECRET=SECRET)
    profile = target.bucket_profile("aws")
    assert (profile.access_key, profile.secret_key) == ("AKIAEXAMPLE", SECRET)
    assert SECRET not in repr(profile) and SECRET not in str(profile)
    from runner.driver.buckets import Bucket
    assert SECRET not in repr(Bucket(profile))


def test_a_missing_credential_variable_is_named_not_guessed(tmp_path, monkeypatch):
    monkeypatch.delenv("T_SECRET", raising=False)
    target = real_target(tmp_path, monkeypatch, T_ACCESS="AKIAEXAMPLE")
    with pytest.raises(TargetError, match=r"buckets.aws.secret_key_env: \$T_SECRET is not set"):
        target.bucket_profile("aws")


def test_real_target_lifecycle_faults_and_versions_are_unsupported_with_reasons(tmp_path, monkeypatch):
    target = real_target(tmp_path, monkeypatch, T_ACCESS="a", T_SECRET="b")
    with pytest.raises(Unsupported, match="has no cluster 'edge'.*backup"):
        target.ensure_cluster("edge")
    with pytest.raises(Unsupported, match="runs Kubernetes 1.29.4, the scenario needs Kubernetes 1.23.17"):
        target.ensure_cluster("backup", version="1.23.17")
    assert target.ensure_cluster("backup", version="1.29.4").context == "prod"
    for action in (lambda: target.destroy_cluster("backup"), lambda: target.create_cluster("new"),
                   lambda: target.cut_cluster("backup"), lambda: target.set_quota("aws", "bkt", 10),
                   lambda: target.corrupt("aws", "bkt", "k"), lambda: target.cut_bucket("aws")):
        with pytest.raises(Unsupported, match="target 't'"):
            action()
    with pytest.raises(Unsupported, match="no bucket profile 'minio'"):
        target.bucket_profile("minio")
    assert target.time_scale == pytest.approx(0.0333)


def test_real_clock_waits_scaled_time(tmp_path, monkeypatch):
    target = real_target(tmp_path, monkeypatch, T_ACCESS="a", T_SECRET="b")
    target.time_scale = 0.0001        # one hour -> 0.36 s
    before = target.now()
    after = target.advance(3600)
    assert 0.3 <= (after - before).total_seconds() < 3


def test_lab_as_real_exports_the_lab_keys_into_the_environment_and_reads_them_back(tmp_path, monkeypatch):
    import json
    def lab_cluster(name, version, velero):
        return {"server": "http://127.0.0.1:9", "kubeconfig": f"/k/{name}", "context": name,
                "version": version, "velero_version": velero}
    old, new = ("1.23.17", "1.10.3"), ("1.29.4", "1.12.4")
    clusters = {"governance": old, "producer": old, "producer-new": new, "consumer": new, "consumer-old": old}
    state = {"pid": 1, "control": "http://127.0.0.1:9",
             "clusters": {name: lab_cluster(name, *versions) for name, versions in clusters.items()},
             "s3": {"aws": {"endpoint": "http://127.0.0.1:10", "region": "us-east-1",
                            "access_key": "labkey", "secret_key": SECRET}}}
    (tmp_path / "lab.json").write_text(json.dumps(state))
    monkeypatch.setenv("DMAAS_LAB_STATE", str(tmp_path / "lab.json"))
    monkeypatch.delenv("DMAAS_AWS_SECRET_KEY", raising=False)
    target = LabAsRealTarget(load_profile("lab-as-real"))
    assert target.ensure_cluster("governance", version="1.23.17", velero_version="1.10.3").kubeconfig == "/k/governance"
    with pytest.raises(Unsupported, match="runs Kubernetes 1.23.17, the scenario needs Kubernetes 1.29.4"):
        target.ensure_cluster("governance", version="1.29.4")
    # one name, several clusters: the one running the versions asked for
    assert target.ensure_cluster("producer", "1.23.17", "1.10.3").context == "producer"
    assert target.ensure_cluster("producer", "1.29.4", "1.12.4").context == "producer-new"
    assert target.ensure_cluster("consumer", "1.23.17", "1.10.3").context == "consumer-old"
    assert target.ensure_cluster("producer").context == "producer"
    with pytest.raises(Unsupported, match="runs Kubernetes 1.23.17 with DMaaS \\(Velero\\) 1.10.3 / Kubernetes "
                                          "1.29.4 with DMaaS \\(Velero\\) 1.12.4, the scenario needs Kubernetes 1.24.17"):
        target.ensure_cluster("producer", "1.24.17", "1.12.4")
    import os
    assert os.environ["DMAAS_AWS_SECRET_KEY"] == SECRET
    assert target.bucket_profile("aws").secret_key == SECRET
    with pytest.raises(Unsupported):
        target.destroy_cluster("governance")


def test_cli_style_failure_is_one_line_without_traceback(tmp_path):
    path = write(tmp_path, "kind: real\nclusters: {a: {context: x, bogus: 1}}\n")
    code = ("import sys\nfrom runner.targets import load_profile, TargetError\n"
            f"try:\n    load_profile({str(path)!r})\nexcept TargetError as e:\n"
            "    print(e, file=sys.stderr); sys.exit(2)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(tmp_path.parent),
                          env={"PYTHONPATH": str(__import__('pathlib').Path(__file__).resolve().parents[2])})
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "clusters.a" in done.stderr and "bogus" in done.stderr


def test_a_passage_of_time_on_a_real_target_absorbs_the_work_between_its_steps(tmp_path, monkeypatch):
    """Three scenario hours in hourly steps with work between them end three
    scaled hours after the passage began, not three hours plus the work (a
    real cluster's hourly schedule would otherwise fire a fourth time)."""
    import time
    from runner.driver.clock import Clock
    target = real_target(tmp_path, monkeypatch, T_ACCESS="a", T_SECRET="b")
    target.time_scale = 1 / 60                 # one hour -> one minute
    now = [1000.0]                             # a monotonic clock that moves only by sleeping and working
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    monkeypatch.setattr(time, "sleep", lambda s: now.__setitem__(0, now[0] + s))
    passage = Clock(target).passage()
    for _ in range(3):
        passage.advance(3600)
        now[0] += 20                            # observing backups between the steps
    assert now[0] - 20 == pytest.approx(1000 + 180)
    now[0] += 100                               # a step late beyond its deadline waits nothing
    passage.advance(3600)
    assert now[0] == pytest.approx(1000 + 180 + 20 + 100)


def test_a_passage_of_time_on_a_real_target_shows_one_progress_line_a_step(tmp_path, monkeypatch, capsys):
    import time
    from runner.driver.clock import Clock
    target = real_target(tmp_path, monkeypatch, T_ACCESS="a", T_SECRET="b")
    target.time_scale = 1 / 60
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    monkeypatch.setattr(time, "sleep", lambda s: now.__setitem__(0, now[0] + s))
    passage = Clock(target).passage(3 * 3600)
    for _ in range(3):
        passage.advance(3600)
    assert capsys.readouterr().err.splitlines() == [
        "[clock] scenario time passing to 1 h of 3 h, 3 min of real waiting left",
        "[clock] scenario time passing to 2 h of 3 h, 2 min of real waiting left",
        "[clock] scenario time passing to 3 h of 3 h, 60 s of real waiting left"]


def test_velero_is_given_one_discovery_period_after_a_new_crd(tmp_path, monkeypatch):
    """A backup sees only the kinds of Velero's last discovery refresh (every
    5 minutes of the cluster's clock): after a CRD the driver waits until 310 s
    have passed since it was made, in real seconds whatever the time scale."""
    import datetime
    import types
    from runner.driver import Driver
    target = real_target(tmp_path, monkeypatch, T_ACCESS="a", T_SECRET="b")
    target.time_scale = 1 / 60
    made = datetime.datetime(2026, 12, 3, 6, 0, tzinfo=datetime.timezone.utc)
    wall = [made + datetime.timedelta(seconds=40)]            # app readiness took 40 s
    advanced = []
    monkeypatch.setattr(target, "now", lambda: wall[0])
    monkeypatch.setattr(target, "advance", lambda seconds, until=None: advanced.append(seconds))
    driver = Driver(target)
    driver._clusters["a"] = types.SimpleNamespace(newest_kind_created=made)
    driver.let_velero_discover("a")
    assert advanced == [pytest.approx(270 * 60)]              # 270 real s = 270 scaled minutes
    wall[0] = made + datetime.timedelta(seconds=400)
    driver.let_velero_discover("a")                            # already past: no wait
    driver._clusters["b"] = types.SimpleNamespace(newest_kind_created=None)
    driver.let_velero_discover("b")                            # no CRD: no wait
    assert len(advanced) == 1
