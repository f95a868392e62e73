"""An interrupt stops the run after the step it landed in, through the
project's own environment.py and runner.behave_process (a tiny behave run,
no lab), also when a library in the step swallowed the KeyboardInterrupt
(the kubernetes client's exec turns it into an error of its own): the
scenario after it is not run, and the step says it was interrupted."""
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

from tests.driver.test_unsupported_skip import KUBECONFIG, PROFILE

REPO = pathlib.Path(__file__).resolve().parents[2]

FEATURE = """\
Feature: an interrupted run
  Scenario: waits where the interrupt is swallowed
    Given a step that waits in a library that swallows the interrupt

  Scenario: comes after the interrupt
    Given a step that passes
"""

PROBE_STEPS = '''
import os, pathlib, time
from behave import given

@given("a step that waits in a library that swallows the interrupt")
def step_swallow(context):
    pathlib.Path(os.environ["DMAAS_REPORT_DIR"], "waiting").touch()
    deadline = time.monotonic() + 60      # the test interrupts long before
    try:
        while time.monotonic() < deadline:
            time.sleep(0.05)
    except KeyboardInterrupt:             # as the kubernetes client's exec does
        raise RuntimeError("(0) Reason: ") from None

@given("a step that passes")
def step_pass(context):
    pass
'''


def test_an_interrupt_a_library_swallowed_still_stops_the_run_and_is_named(tmp_path):
    features = tmp_path / "features"
    (features / "steps").mkdir(parents=True)
    (features / "probe.feature").write_text(FEATURE)
    (features / "environment.py").symlink_to(REPO / "features" / "environment.py")
    for module in (REPO / "steps").glob("*.py"):
        (features / "steps" / module.name).symlink_to(module)
    (features / "steps" / "probe_steps.py").write_text(PROBE_STEPS)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    profile = tmp_path / "real.yaml"
    profile.write_text(PROFILE.replace("KUBECONFIG", str(kubeconfig)))
    reports = tmp_path / "reports"
    reports.mkdir()
    env = dict(os.environ, PYTHONPATH=str(REPO), DMAAS_REPORT_DIR=str(reports))
    env.pop("DMAAS_LAB_STATE", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "runner.behave_process", "--no-capture", "-D", f"target={profile}",
         "-f", "json", "-o", str(tmp_path / "out.json"), "-f", "runner.report.formatters:ExtrasFormatter", "-o",
         str(tmp_path / "extras.jsonl"), "-f", "plain", "features"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (reports / "waiting").exists():
            assert time.monotonic() < deadline and proc.poll() is None, "the waiting step never started"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    scenarios = {e["name"]: e for f in json.loads((tmp_path / "out.json").read_text()) for e in f["elements"]}
    extras = {r["name"]: r for r in map(json.loads, (tmp_path / "extras.jsonl").read_text().splitlines())}
    assert scenarios["waits where the interrupt is swallowed"]["status"] != "passed"
    assert extras["waits where the interrupt is swallowed"]["error_message"] == (
        "interrupted (SIGTERM) during step 'Given a step that waits in a library that swallows the interrupt' "
        "(then: RuntimeError: (0) Reason:)"), extras
    after = scenarios.get("comes after the interrupt")
    assert after is None or after["status"] != "passed", after
    assert "ABORTED: interrupted (SIGTERM)" in out + err
