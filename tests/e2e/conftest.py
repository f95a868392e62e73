"""Run behave on a mutated copy of one feature against the lab.

`run_feature(feature, substitutions, name=None)` copies features/environment.py,
a `steps` symlink to the project's steps/ and ONE feature file (with text
substitutions applied, each of which must match exactly once, so a rewrite
of the feature cannot make a test vacuous) into a temporary features
directory, runs `python -m behave <dir> -f json ... -D target=lab` from the
project root and returns a `BehaveRun` parsed from behave's JSON output.

One lab serves every run of the session (started here, attached to through
$DMAAS_LAB_STATE exactly as `dmaas run` does), so each run costs only its
scenario. Scenario cleanup (driver.cleanup) keeps runs independent.
"""
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 600
TIMINGS = []   # (test id, seconds) of every behave run, printed at the end of the session


@pytest.fixture(scope="session")
def lab_state(tmp_path_factory):
    """A lab for the session, started from the `lab` target profile; its lab.json path."""
    from lab import process
    from runner.catalogues import lab_config
    from runner.targets import load_profile
    profile = load_profile("lab")
    state_dir = tmp_path_factory.mktemp("e2e-lab") / "lab"
    handle = process.start(lab_config(profile.data["lab"]), state_dir)
    try:
        yield state_dir / "lab.json"
    finally:
        handle.stop()


class StepResult:
    def __init__(self, raw):
        self.keyword = raw.get("keyword", "").strip()
        self.name = raw["name"]
        result = raw.get("result") or {}
        self.status = result.get("status", "untested")
        error = result.get("error_message") or ""
        self.error = "\n".join(error) if isinstance(error, list) else str(error)

    def __repr__(self):
        return f"{self.keyword} {self.name} [{self.status}]"


class ScenarioResult:
    def __init__(self, raw):
        self.name = raw["name"]
        self.steps = [StepResult(s) for s in raw.get("steps", [])]

    @property
    def status(self):
        """failed (a step's assertion failed), error (a step raised something
        else), undefined, skipped, passed or untested (no step ran: a hook failed)."""
        statuses = [s.status for s in self.steps]
        for status in ("failed", "error", "undefined"):
            if status in statuses:
                return status
        if statuses and all(s == "passed" for s in statuses):
            return "passed"
        if statuses and all(s == "skipped" for s in statuses):
            return "skipped"
        return "untested"

    @property
    def failed_step(self):
        return next((s for s in self.steps if s.status in ("failed", "error")), None)


class BehaveRun:
    def __init__(self, returncode, scenarios, output):
        self.returncode = returncode
        self.scenarios = scenarios
        self.output = output

    def only_scenario(self):
        assert len(self.scenarios) == 1, (f"expected one selected scenario, behave ran {len(self.scenarios)}: "
                                          f"{[s.name for s in self.scenarios]}\n{self.output[-3000:]}")
        return self.scenarios[0]

    def assert_fails_at(self, step_text, *words):
        """The one selected scenario failed at the step containing step_text
        (every step before it passed: the failure is the oracle's, not the
        set-up's) with an error message containing every one of words."""
        scenario = self.only_scenario()
        failed = scenario.failed_step
        assert scenario.status == "failed" and failed is not None, (
            f"scenario '{scenario.name}' did not fail with a reason (status {scenario.status}; "
            f"step {failed or scenario.steps}: {failed.error if failed else ''})\n{self.output[-3000:]}")
        assert step_text in failed.name, (
            f"scenario failed at '{failed.name}', expected at the step containing '{step_text}': {failed.error}")
        before = scenario.steps[:scenario.steps.index(failed)]
        assert all(s.status == "passed" for s in before), f"steps before the failure did not all pass: {before}"
        assert self.returncode != 0, "behave exited 0 although the scenario failed"
        print(f"{scenario.name}\n  failed at: {failed.name}\n  reason: {failed.error.strip().splitlines()[-1]}")
        missing = [w for w in words if w.lower() not in failed.error.lower()]
        assert not missing, f"the failure reason does not name {missing}: {failed.error}"
        return failed

    def assert_passed(self):
        assert self.scenarios, f"behave ran no scenario\n{self.output[-3000:]}"
        for scenario in self.scenarios:
            failed = scenario.failed_step
            assert scenario.status == "passed", (
                f"scenario '{scenario.name}' {scenario.status}: "
                f"{failed.name + ': ' + failed.error if failed else scenario.steps}\n{self.output[-3000:]}")
        assert self.returncode == 0, f"behave exited {self.returncode}\n{self.output[-3000:]}"


def long_form(text):
    """A generated SCHD or SOAK feature without its short form (the last scenario,
    @short-form), which the lab skips: mutations apply to the long form."""
    return re.split(r"\n  @short-form\b[^\n]*\n", text)[0].rstrip("\n") + "\n"


def mutate(text, substitutions, where):
    """Apply (old, new) substitutions; each old text must occur exactly once."""
    for old, new in substitutions:
        count = text.count(old)
        assert count == 1, f"{where}: expected exactly one '{old}', found {count}; the feature changed"
        text = text.replace(old, new)
    return text


@pytest.fixture(name="mutate")
def mutate_fixture():
    return mutate


@pytest.fixture
def run_feature(tmp_path, lab_state, request):
    """run_feature(feature path relative to features/, [(old, new), ...], name=regex) -> BehaveRun."""
    def run(feature, substitutions=(), name=None):
        source = REPO / "features" / feature
        directory = tmp_path / "features"
        directory.mkdir()
        shutil.copy(REPO / "features" / "environment.py", directory / "environment.py")
        (directory / "steps").symlink_to(REPO / "steps")
        (directory / source.name).write_text(mutate(long_form(source.read_text()), substitutions, feature))
        out = tmp_path / "behave.json"
        command = [sys.executable, "-m", "behave", str(directory), "-f", "json", "-o", str(out),
                   "-f", "plain", "--no-capture", "--no-skipped", "-D", "target=lab"]
        if name:
            command += ["-n", name]
        env = {**os.environ, "DMAAS_REPORT_DIR": str(tmp_path / "report"), "DMAAS_LAB_STATE": str(lab_state)}
        started = time.monotonic()
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
        TIMINGS.append((request.node.name, time.monotonic() - started))
        output = done.stdout + done.stderr
        assert out.is_file() and out.stat().st_size, f"behave wrote no JSON (exit {done.returncode})\n{output[-3000:]}"
        scenarios = [ScenarioResult(element) for feature_json in json.loads(out.read_text())
                     for element in feature_json.get("elements", []) if element.get("type") != "background"]
        return BehaveRun(done.returncode, scenarios, output)
    return run


def pytest_terminal_summary(terminalreporter):
    if TIMINGS:
        terminalreporter.write_sep("-", "behave runs (seconds)")
        for name, seconds in TIMINGS:
            terminalreporter.write_line(f"{seconds:7.1f}  {name}")
        terminalreporter.write_line(f"{sum(s for _, s in TIMINGS):7.1f}  total")
