"""`dmaas run` end to end on a small project: behave as a subprocess, progress
lines, reports, exit codes; with the lab target the lab is started, its
state exported to behave, and stopped afterwards."""
from __future__ import annotations

import json
import os
import shutil
import select
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from runner_paths import ROOT

from runner import cli

STEPS = '''
import json, os
from pathlib import Path
from behave import given, then

@given("a passing step")
def step_pass(context):
    import sys
    print("[probe] a long step's progress", file=sys.stderr, flush=True)

@then("it fails with {message}")
def step_fail(context, message):
    assert False, message

@given("the scenario needs {what}")
def step_skip(context, what):
    context.scenario.skip(f"this target has no {what}")

@given("the step waits until it is interrupted")
def step_wait(context):
    import time
    Path(os.environ["DMAAS_REPORT_DIR"], "waiting").touch()
    deadline = time.monotonic() + 60     # the test interrupts long before
    while time.monotonic() < deadline:
        time.sleep(0.05)


@then("the lab state is exported to behave")
def step_lab(context):
    state = json.loads(Path(os.environ["DMAAS_LAB_STATE"]).read_text())
    assert state["control"].startswith("http://127.0.0.1:"), state
    assert os.environ["DMAAS_TARGET"] == "lab"
    assert context.config.userdata["target"] == "lab"
    Path(os.environ["DMAAS_REPORT_DIR"], "monitor.json").write_text(json.dumps(
        {"views": {"connectivity": [{"name": "minio", "connected": True, "secret_key": "LABSECRET"}]}}))
'''

FEATURE = '''@probe @{tag} @{tcid}
Feature: {tcid}
  A probe.

  Scenario: {tcid} {title}
{steps}
'''


@pytest.fixture
def small_project(tmp_path: Path) -> Path:
    """The real scenarios/schemas/templates/strategy with probe features instead of the real ones."""
    root = tmp_path / "small"
    for name in ("scenarios", "schemas", "docs", "features/templates"):
        shutil.copytree(ROOT / name, root / name)
    (root / "behave.ini").write_text("[behave]\npaths = features\nlogging_level = ERROR\n")
    (root / "features/steps").mkdir()
    (root / "features/steps/steps.py").write_text(STEPS)
    probes = {
        "mysql": ("TCID-DIR-DMAAS-MYSQL", "passes", "    Given a passing step"),
        "cortex": ("TCID-DIR-DMAAS-CORTEX", "fails", "    Given a passing step\n    Then it fails with no backup (password=hunter2)"),
        "psp": ("TCID-DIR-DMAAS-PSP", "is skipped", "    Given the scenario needs PodSecurityPolicy"),
        "labprobe": ("TCID-DIR-DMAAS-SOURCE-CLUSTER-GONE", "sees the lab", "    Then the lab state is exported to behave"),
        "slow": ("TCID-DIR-DMAAS-PORTAL", "waits", "    Given the step waits until it is interrupted"),
    }
    for tag, (tcid, title, steps) in probes.items():
        (root / f"features/{tag}.feature").write_text(FEATURE.format(tag=tag, tcid=tcid, title=title, steps=steps))
    return root


def run(root: Path, *args: str) -> int:
    return cli.main(["--root", str(root), "run", "--report-dir", str(root / "reports"), *args])


def run_dir(root: Path) -> Path:
    (only,) = list((root / "reports").iterdir())
    return only


def test_failures_give_exit_1_progress_lines_and_all_reports(small_project, capfd):
    code = run(small_project, "--target", "example-real", "--tags", "@mysql or @cortex or @psp")
    out = capfd.readouterr().out
    assert code == 1
    assert any(l.startswith("PASSED") and "TCID-DIR-DMAAS-MYSQL" in l for l in out.splitlines())
    assert any(l.startswith("FAILED") and "TCID-DIR-DMAAS-CORTEX" in l and "no backup" in l for l in out.splitlines())
    assert "TCID-DIR-DMAAS-PSP: this target has no PodSecurityPolicy" in out
    assert "hunter2" not in out
    reports = run_dir(small_project)
    for name in ("junit.xml", "report.json", "report.html", "dmaas-test-strategy.md"):
        assert (reports / name).is_file(), name
        assert "hunter2" not in (reports / name).read_text()
    assert "hunter2" not in (reports / "behave.json").read_text()
    suites = ET.parse(reports / "junit.xml").getroot()
    assert (suites.get("tests"), suites.get("failures"), suites.get("skipped")) == ("3", "1", "1")
    # the generated features were expanded into the project but not selected
    assert len(list((small_project / "features/generated").glob("*.feature"))) == 14


def test_all_selected_passing_gives_exit_0(small_project, capfd):
    assert run(small_project, "--target", "example-real", "--tags", "@mysql") == 0
    # a passing step's progress (the driver's [clock] and [realstack] lines) is shown as it comes
    assert "[probe] a long step's progress" in capfd.readouterr().err
    report = json.loads((run_dir(small_project) / "report.json").read_text())
    assert report["counts"]["passed"] == 1 and report["target"] == "example-real"


def test_only_skipped_is_not_a_pass(small_project, capfd):
    assert run(small_project, "--target", "example-real", "--tags", "@psp") == 1
    assert "no selected scenario ran" in capfd.readouterr().err


def test_tags_selecting_nothing_is_bad_input(small_project, capfd):
    assert run(small_project, "--target", "example-real", "--tags", "@no-such-tag") == 2
    assert "no scenario matches the tags @no-such-tag" in capfd.readouterr().err


def test_lab_target_is_started_exported_and_stopped(small_project, capfd):
    code = run(small_project, "--tags", "@labprobe")
    out = capfd.readouterr().out
    assert code == 0, out
    reports = run_dir(small_project)
    assert not (reports / "lab").exists()          # the lab removed its state dir on shutdown
    html = (reports / "report.html").read_text()
    assert 'id="monitor"' in html and "LABSECRET" not in html


def _wait_for_the_slow_step(proc, reports: Path) -> None:
    deadline = time.monotonic() + 60
    while not list(reports.glob("*/waiting")):
        assert time.monotonic() < deadline, "the slow step never started"
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)


def _wait_for_progress(proc, *words: str) -> str:
    """Reads the run's output until a line holds every word; what was read.
    Straight from the pipe (os.read), not through proc.stdout's buffer: a
    line already in that buffer would not wake select()."""
    deadline, seen = time.monotonic() + 60, ""
    fd = proc.stdout.fileno()
    while True:
        assert time.monotonic() < deadline, f"no progress line with {words}: {seen!r}"
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            chunk = os.read(fd, 65536).decode()
            assert chunk, f"the run ended before a progress line with {words}: {seen!r}"
            seen += chunk
            if any(all(word in line for word in words) for line in seen.splitlines()):
                return seen


@pytest.mark.parametrize("signum, to_group", [(signal.SIGINT, True), (signal.SIGTERM, False), (signal.SIGHUP, True)],
                         ids=["ctrl-c-to-the-group", "sigterm-to-dmaas-alone", "sighup-to-the-group"])
def test_ctrl_c_sigterm_and_sighup_stop_behave_and_the_lab_and_still_report(small_project, signum, to_group):
    """Ctrl-C in a terminal (SIGINT to the whole group), SIGTERM as `timeout`
    or a CI cancel sends it (to dmaas alone: behave learns of it from dmaas),
    SIGHUP as a closed terminal sends it (to the group): the lab stopped, the
    reports of what ran written, 128 + the signal, no traceback."""
    reports = small_project / "reports"
    proc = subprocess.Popen([sys.executable, "-m", "runner.cli", "--root", str(small_project), "run",
                             "--report-dir", str(reports), "--tags", "@slow"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _wait_for_the_slow_step(proc, reports)
        (lab_dir,) = [d / "lab" for d in reports.iterdir()]
        assert (lab_dir / "lab.json").is_file()
        if to_group:
            os.killpg(proc.pid, signum)
        else:
            proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 128 + signum, (out, err)
    assert f"interrupted ({signal.Signals(signum).name})" in err
    assert "Traceback" not in err and "Error" not in err, err
    assert not lab_dir.exists()
    run_dir_ = lab_dir.parent
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(run_dir_) not in ps, "behave or the lab is still running"
    assert (run_dir_ / "report.html").is_file() and (run_dir_ / "junit.xml").is_file()
    report = json.loads((run_dir_ / "report.json").read_text())
    (scenario,) = [s for f in report["features"] for s in f["scenarios"]]
    assert scenario["tcid"] == "TCID-DIR-DMAAS-PORTAL" and scenario["status"] != "passed"


@pytest.mark.parametrize("tags, message", [
    ("@shlow", "no scenario matches the tags @shlow; nearest known tags: @slow, @soak, @schd"),
    ("@mysql and @psp", "no scenario matches the tags @mysql and @psp; each tag is known, "
                        "but no scenario carries that combination"),
    ("@zzqqxx", "no scenario matches the tags @zzqqxx; no feature has @zzqqxx (`dmaas list` shows the tags)"),
    ("@mysql and", "--tags @mysql and: Syntax error. Expected operand after and"),
])
def test_a_selection_of_nothing_fails_before_the_target_starts(small_project, capfd, tags, message):
    assert run(small_project, "--tags", tags) == 2
    err = capfd.readouterr().err
    assert err == f"error: {message}\n"
    assert not (small_project / "reports").exists()      # no run dir, no lab, no report files


PROBE_PROFILE = """kind: real
clusters:
  source: {kubeconfig_env: PROBE_KUBECONFIG, context: %(context)s}
buckets:
  minio: {client: minio, endpoint: "%(endpoint)s", region: us-east-1, bucket: probe,
          access_key_env: PROBE_ACCESS, secret_key_env: PROBE_SECRET}
"""

KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:9", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t0ken}}]
contexts: [{name: there, context: {cluster: c, user: u}}]
current-context: there
"""


@pytest.mark.parametrize("context, endpoint, expected", [
    ("elsewhere", "http://127.0.0.1:9", [
        'scenarios/targets/probe.yaml: clusters.source: no context "elsewhere" in $PROBE_KUBECONFIG',
        "scenarios/targets/probe.yaml: buckets.minio (http://127.0.0.1:9, bucket probe): connection refused"]),
    ("there", "http://127.0.0.1:9", [
        "scenarios/targets/probe.yaml: clusters.source (context there, https://127.0.0.1:9): connection refused",
        "scenarios/targets/probe.yaml: buckets.minio (http://127.0.0.1:9, bucket probe): connection refused"]),
], ids=["missing-context", "api-refused"])
def test_preflight_names_each_unreachable_part_before_any_scenario(small_project, capfd, monkeypatch, tmp_path,
                                                                    context, endpoint, expected):
    (small_project / "scenarios/targets/probe.yaml").write_text(PROBE_PROFILE % {"context": context,
                                                                                  "endpoint": endpoint})
    (small_project / "features/preflight.feature").write_text(FEATURE.format(
        tag="preflight", tcid="TCID-DIR-DMAAS-MYSQL", title="needs source",
        steps='    Given a passing step\n    # cluster "source" and "minio" are named below\n'
              '    Then it fails with cluster "source" on "minio"'))
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    monkeypatch.setenv("PROBE_KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("PROBE_ACCESS", "probe-access")
    monkeypatch.setenv("PROBE_SECRET", "probe-secret-value")
    assert run(small_project, "--target", "probe", "--tags", "@preflight") == 2
    err = capfd.readouterr().err
    assert err.splitlines() == [f"error: {line}" for line in expected]
    assert "probe-secret-value" not in err and "t0ken" not in err
    assert not (small_project / "reports").exists()


def test_a_lab_that_does_not_serve_a_bucket_profile_the_scenarios_use_is_bad_input(small_project, capfd):
    (small_project / "scenarios/targets/onlyminio.yaml").write_text("kind: lab\nlab: {clusters: [], s3: [minio]}\n")
    (small_project / "features/aws.feature").write_text(FEATURE.format(
        tag="awsprobe", tcid="TCID-DIR-DMAAS-MYSQL", title="needs aws", steps='    Then it fails with "aws"'))
    assert run(small_project, "--target", "onlyminio", "--tags", "@awsprobe") == 2
    assert capfd.readouterr().err == (
        "error: scenarios/targets/onlyminio.yaml: lab.s3: the selected scenarios use bucket profile(s) aws, "
        "which this lab does not serve (it serves: minio; leave s3 out to serve every profile of "
        "scenarios/buckets.yaml)\n")
    assert not (small_project / "reports").exists()


def test_rerun_failed_runs_what_failed_in_the_last_or_a_given_run(small_project, capfd):
    assert run(small_project, "--rerun-failed") == 2
    assert "--rerun-failed: no earlier run with a report.json in" in capfd.readouterr().err
    assert run(small_project, "--target", "example-real", "--tags", "@mysql or @cortex or @psp") == 1
    (first,) = list((small_project / "reports").iterdir())
    capfd.readouterr()
    assert run(small_project, "--target", "example-real", "--rerun-failed") == 1
    out = capfd.readouterr().out
    assert f"the 1 failed scenario(s) of run {first.name}" in out
    assert [l.split()[:2] for l in out.splitlines() if l.startswith(("PASSED", "FAILED", "SKIPPED"))] == \
        [["FAILED", "TCID-DIR-DMAAS-CORTEX"]]
    # Run ids sort by the second they started in, then by a random suffix: both runs may share a second.
    (second,) = [d for d in (small_project / "reports").iterdir() if d != first]
    assert json.loads((second / "run.json").read_text())["rerun_of"] == first.name
    assert run(small_project, "--target", "example-real", "--rerun-failed", first.name) == 1
    assert run(small_project, "--target", "example-real", "--tags", "@mysql") == 0
    capfd.readouterr()
    assert run(small_project, "--target", "example-real", "--rerun-failed") == 2
    assert "has no failed scenario" in capfd.readouterr().err
    assert run(small_project, "--rerun-failed", "--tags", "@mysql") == 2
    assert "--rerun-failed selects the scenarios itself: drop --tags" in capfd.readouterr().err


def _content(report_dir: Path) -> dict:
    """report.json without what differs from run to run (ids, times, durations)."""
    report = json.loads((report_dir / "report.json").read_text())
    for key in ("run_id", "started", "finished", "duration"):
        report.pop(key, None)
    for feature in report["features"]:
        for scenario in feature["scenarios"]:
            scenario.pop("duration", None)
            for step in scenario["steps"]:
                step.pop("duration", None)
    for verdict in report["verdicts"].values():
        for one in [verdict, *verdict["targets"].values()]:
            one.pop("seconds")
            one["text"] = _timeless(one["text"])
    return report


def _timeless(text: str) -> str:
    """Text without run ids, timestamps and durations."""
    import re
    text = re.sub(r"\d{8}T\d{6}Z-[0-9a-f]{6}", "RUN", text)
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "TIME", text)
    return re.sub(r"\d+(\.\d+)? ?s\b", "Ns", text)


def _junit_cases(report_dir: Path) -> list[tuple]:
    root = ET.parse(report_dir / "junit.xml").getroot()
    return [(case.get("classname"), case.get("name"), tuple(child.tag for child in case))
            for case in root.iter("testcase")]


def test_jobs_write_the_report_a_serial_run_writes(small_project, capfd):
    tags = "@mysql or @cortex or @psp or @labprobe"
    assert run(small_project, "--tags", tags, "--jobs", "1") == 1
    (serial,) = list((small_project / "reports").iterdir())
    assert run(small_project, "--tags", tags, "--jobs", "3") == 1
    (parallel,) = [d for d in (small_project / "reports").iterdir() if d != serial]
    out = capfd.readouterr().out
    assert "3 workers" in out
    assert sum(1 for line in out.splitlines() if line.startswith(("PASSED", "FAILED", "SKIPPED"))) == 8
    assert _content(parallel) == _content(serial)
    assert _junit_cases(parallel) == _junit_cases(serial)
    assert _timeless((parallel / "dmaas-test-strategy.md").read_text()) == \
        _timeless((serial / "dmaas-test-strategy.md").read_text())
    assert not (parallel / "workers").exists() and not list(parallel.glob("**/lab.json"))


def test_ctrl_c_stops_every_worker_and_its_lab(small_project):
    reports = small_project / "reports"
    proc = subprocess.Popen([sys.executable, "-m", "runner.cli", "--root", str(small_project), "run",
                             "--report-dir", str(reports), "--tags", "@slow or @mysql", "--jobs", "2"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _wait_for_the_slow_step(proc, reports)
        seen = _wait_for_progress(proc, "PASSED", "TCID-DIR-DMAAS-MYSQL")   # the other worker's scenario
        (run_dir_,) = list(reports.iterdir())
        assert len(list(run_dir_.glob("workers/*/lab/lab.json"))) == 2
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        out = seen + out
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err
    assert not (run_dir_ / "workers").exists()
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(run_dir_) not in ps, "a worker or its lab is still running"
    report = json.loads((run_dir_ / "report.json").read_text())
    statuses = {s["tcid"]: s["status"] for f in report["features"] for s in f["scenarios"]}
    assert statuses.get("TCID-DIR-DMAAS-MYSQL") == "passed" and statuses.get("TCID-DIR-DMAAS-PORTAL") != "passed"


def test_a_run_whose_behave_wrote_no_json_reports_the_scenarios_that_ended(small_project):
    """behave writes its json when it ends; one killed after an interrupt's
    cleanup outlasted the wait wrote none. What the formatter recorded as each
    scenario ended still reaches the report, read with the feature files."""
    from runner import run as run_module
    from runner.report import model
    run_dir_ = small_project / "reports" / "cut-short"
    run_dir_.mkdir(parents=True)
    (run_dir_ / model.RUN_INFO).write_text(json.dumps({"run_id": "cut-short", "target": "lab", "tags": []}))
    (run_dir_ / model.BEHAVE_JSON).write_text("")
    (run_dir_ / model.EXTRAS).write_text(json.dumps(
        {"location": "features/cortex.feature:5", "status": "failed", "duration": 2.5,
         "steps": [{"status": "passed"}, {"status": "failed", "error_message": "no backup"}]}) + "\n")
    run_module._recover_behave_json(small_project, run_dir_)
    (feature,) = model.load_run(run_dir_).features
    (scenario,) = feature.scenarios
    assert (feature.tcid, scenario.status, scenario.duration) == ("TCID-DIR-DMAAS-CORTEX", "failed", 2.5)
    assert [(s.keyword, s.name, s.status) for s in scenario.steps] == [
        ("Given", "a passing step", "passed"), ("Then", "it fails with no backup (password=***)", "failed")]
    assert scenario.error_message == "no backup"
