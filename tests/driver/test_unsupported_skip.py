"""A step the target cannot do skips its scenario with the reason, through
the project's own environment.py and steps (a tiny behave run, no lab)."""
import json
import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]

FEATURE = """\
Feature: lifecycle on a real target
  Scenario: a cluster the profile does not have
    Given a cluster "nowhere"
    Then the restore on cluster "nowhere" completed

  Scenario: destroying a cluster
    Given a cluster "backup"
    When cluster "backup" is destroyed
    Then the restore on cluster "backup" completed
"""

PROFILE = """\
kind: real
clusters:
  backup: {kubeconfig: KUBECONFIG, context: prod}
time_scale: 0.001
"""

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "http://127.0.0.1:9"}}]
users: [{name: u, user: {}}]
contexts: [{name: prod, context: {cluster: c, user: u}}]
current-context: prod
"""


def run_behave(tmp_path, feature, profile_extra=""):
    """behave on one feature with the project's environment.py and steps and a
    real-target profile whose one cluster is unreachable -> (process, {name: scenario})."""
    features = tmp_path / "features"
    features.mkdir()
    (features / "probe.feature").write_text(feature)
    (features / "environment.py").symlink_to(REPO / "features" / "environment.py")
    (features / "steps").symlink_to(REPO / "steps")
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    profile = tmp_path / "real.yaml"
    profile.write_text(PROFILE.replace("KUBECONFIG", str(kubeconfig)) + profile_extra)
    env = dict(os.environ, PYTHONPATH=str(REPO), DMAAS_REPORT_DIR=str(tmp_path / "reports"))
    env.pop("DMAAS_LAB_STATE", None)
    done = subprocess.run(
        [sys.executable, "-m", "behave", "--no-capture", "-D", f"target={profile}", "-f", "json", "-o",
         str(tmp_path / "out.json"), "-f", "runner.report.formatters:ExtrasFormatter", "-o",
         str(tmp_path / "extras.jsonl"), "-f", "plain", "features"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    scenarios = {e["name"]: e for f in json.loads((tmp_path / "out.json").read_text()) for e in f["elements"]}
    for line in (tmp_path / "extras.jsonl").read_text().splitlines():     # what dmaas's reports read besides
        record = json.loads(line)
        scenarios[record["name"]]["extras"] = record
    return done, scenarios


def test_unsupported_becomes_a_skip_with_the_reason(tmp_path):
    done, scenarios = run_behave(tmp_path, FEATURE)
    assert done.returncode == 0, done.stdout + done.stderr
    assert {s["status"] for s in scenarios.values()} == {"skipped"}, done.stdout
    # something the scenario needs is missing: not a form for another target
    assert {s["extras"]["not_for_target"] for s in scenarios.values()} == {False}
    output = done.stdout + done.stderr
    assert "target 'real' has no cluster 'nowhere' (it has: backup) and no lifecycle hooks to create one" in output
    assert ("cluster 'backup' of target 'real' is one of its profile's shared clusters: a run destroys only "
            "clusters it creates itself") in output
    assert "Traceback" not in output
    # known from the steps' words: skipped before the first step (which would wait for an unreachable cluster)
    for scenario in scenarios.values():
        assert all(step.get("result", {}).get("status", "skipped") == "skipped" for step in scenario["steps"])


def test_a_tag_the_profile_skips_skips_before_any_step(tmp_path):
    """skip_tags: the long form of SCHD on a target with real time; no
    step runs (the first one would fail here: the cluster is unreachable)."""
    done, scenarios = run_behave(
        tmp_path,
        "Feature: two forms\n"
        "  @long-form\n  Scenario: the long form\n    Given a cluster \"backup\"\n\n"
        "  @other\n  Scenario: another\n    Given a cluster \"backup\"\n",
        profile_extra="skip_tags:\n  long-form: 80 hours are too long here\n")
    long_form, other = scenarios["the long form"], scenarios["another"]
    assert long_form["status"] == "skipped"
    assert long_form["extras"]["not_for_target"] is True and other["extras"]["not_for_target"] is False
    assert all(step.get("result", {}).get("status", "skipped") == "skipped" for step in long_form["steps"])
    assert "not run on target 'real' (@long-form): 80 hours are too long here" in done.stdout + done.stderr
    assert other["status"] != "skipped", "a scenario without the tag is run"
