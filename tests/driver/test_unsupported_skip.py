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


def test_unsupported_becomes_a_skip_with_the_reason(tmp_path):
    features = tmp_path / "features"
    features.mkdir()
    (features / "real.feature").write_text(FEATURE)
    (features / "environment.py").symlink_to(REPO / "features" / "environment.py")
    (features / "steps").symlink_to(REPO / "steps")
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    profile = tmp_path / "real.yaml"
    profile.write_text(PROFILE.replace("KUBECONFIG", str(kubeconfig)))
    env = dict(os.environ, PYTHONPATH=str(REPO), DMAAS_REPORT_DIR=str(tmp_path / "reports"))
    env.pop("DMAAS_LAB_STATE", None)
    done = subprocess.run(
        [sys.executable, "-m", "behave", "--no-capture", "-D", f"target={profile}", "-f", "json", "-o",
         str(tmp_path / "out.json"), "-f", "plain", "features"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    scenarios = {e["name"]: e for f in json.loads((tmp_path / "out.json").read_text()) for e in f["elements"]}
    assert {s["status"] for s in scenarios.values()} == {"skipped"}, done.stdout
    output = done.stdout + done.stderr
    assert "target 'real' has no cluster 'nowhere' (it has: backup)" in output
    assert "target 'real' (real) cannot destroy cluster 'backup'" in output
    assert "Traceback" not in output
