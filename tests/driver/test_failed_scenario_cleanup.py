"""A failing scenario on the lab: diagnostics are collected, and afterwards
no cluster, namespace or bucket object of it is left (behave run through the
project's environment.py and steps, attached to a lab this test started)."""
import json
import os
import pathlib
import subprocess
import sys

from runner.driver import Driver

REPO = pathlib.Path(__file__).resolve().parents[2]

FEATURE = """\
Feature: a scenario that fails half-way
  Scenario: an application, a location, a backup, then a wrong expectation
    Given a cluster "leftover"
    And the "minio" bucket is a backup location on cluster "leftover"
    And the application "nginx" runs in namespace "web" of cluster "leftover" on "local-hp" volumes
    And namespaces "web" of cluster "leftover" hold secrets with freshly generated values
    When the team takes an on-demand backup "b1" of namespace "web" on cluster "leftover"
    Then the restore on cluster "leftover" completed
"""


def test_failed_scenario_collects_diagnostics_and_leaves_nothing(tmp_path, lab_target):
    features = tmp_path / "features"
    features.mkdir()
    (features / "fail.feature").write_text(FEATURE)
    (features / "environment.py").symlink_to(REPO / "features" / "environment.py")
    (features / "steps").symlink_to(REPO / "steps")
    reports = tmp_path / "reports"
    env = dict(os.environ, PYTHONPATH=str(REPO), DMAAS_REPORT_DIR=str(reports), DMAAS_RUN_ID="cleanup-test",
               DMAAS_LAB_STATE=str(lab_target.handle.state_dir / "lab.json"))
    done = subprocess.run([sys.executable, "-m", "behave", "-D", "target=lab", "-f", "json", "-o",
                           str(tmp_path / "out.json"), "features"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    [scenario] = [e for f in json.loads((tmp_path / "out.json").read_text()) for e in f["elements"]]
    failed = [s for s in scenario["steps"] if s.get("result", {}).get("status") == "failed"]
    message = failed[0]["result"]["error_message"]
    assert "no restore was done on cluster leftover" in "".join(message if isinstance(message, list) else [message])

    [diagnostics] = list((reports / "diagnostics").iterdir())
    dumps = {p.relative_to(diagnostics).as_posix() for p in diagnostics.rglob("*") if p.is_file()}
    assert {"leftover/objects-web.yaml", "leftover/velero.yaml", "leftover/events.yaml", "buckets.txt"} <= dumps
    velero = (diagnostics / "leftover" / "velero.yaml").read_text()
    assert "name: b1" in velero and "phase:" in velero
    assert "/backups/b1/velero-backup.json" in (diagnostics / "buckets.txt").read_text()
    assert "dmaas-secret-" not in "".join(p.read_text() for p in diagnostics.rglob("*") if p.is_file())

    assert "leftover" not in lab_target.state()["clusters"]
    probe = Driver(lab_target, "probe", "probe")
    try:
        for profile in lab_target.profile_buckets:
            assert probe.bucket(profile).list("dmaas-e2e/cleanup-test/") == [], profile
    finally:
        probe.close()
