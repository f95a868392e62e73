"""behave formatters `dmaas run` adds to behave's own json formatter:

- ProgressFormatter: one line per selected scenario as it finishes
  (status, TCID, duration, and the reason when it did not pass);
- ExtrasFormatter: one JSON line per scenario with what behave's json
  formatter leaves out: skip reasons (and whether the skip was by design,
  skip_not_for_target), hook errors, errors of steps that
  raised, wall-clock duration, whether the tags selected it, and the
  timeline of its plans the after_scenario hook put on it (timeline.py).

Both see a scenario as finished when the next one starts or its feature
ends (behave calls formatters in that order, after the after_scenario hook).
"""
from __future__ import annotations

import json
import time

from behave.formatter.base import Formatter

from runner import redact
from runner.report.model import reason_line


ASSIGNED_USERDATA = "scenarios_file"    # -D scenarios_file=PATH: the locations a worker runs


def skip_not_for_target(scenario, reason: str) -> None:
    """Skips a scenario that the target does not run by design (a form of its
    story for another target: the profile's `skip_tags`), marked so that the
    extras record it and the reports count it apart from skips that mean
    something the scenario needs is missing."""
    scenario.not_for_target = True
    scenario.skip(reason)


class _ScenarioEnd(Formatter):
    """Calls finished(scenario, seconds) once per scenario."""

    def __init__(self, stream_opener, config):
        super().__init__(stream_opener, config)
        self._scenario = None
        self._started = 0.0

    def scenario(self, scenario):
        self._finish()
        self._scenario = scenario
        self._started = time.monotonic()

    def eof(self):
        self._finish()

    def close(self):
        self._finish()
        super().close()

    def _finish(self):
        if self._scenario is not None:
            scenario, self._scenario = self._scenario, None
            self.finished(scenario, time.monotonic() - self._started)

    def selected(self, scenario) -> bool:
        """Selected by the tags and, in a worker of `dmaas run --jobs`, given
        to this worker (behave also reports the other scenarios of a feature
        that a `file:line` location opened, as not run)."""
        if not scenario.should_run_with_tags(self.config.tag_expression):
            return False
        return self._assigned is None or str(scenario.location) in self._assigned

    @property
    def _assigned(self):
        if not hasattr(self, "_assigned_cache"):
            path = self.config.userdata.get(ASSIGNED_USERDATA)
            self._assigned_cache = set(open(path, encoding="utf-8").read().split()) if path else None
        return self._assigned_cache

    def finished(self, scenario, seconds: float) -> None:
        raise NotImplementedError


def tcid_of(scenario) -> str:
    return next((t for t in scenario.effective_tags if t.startswith("TCID-")), scenario.name)


def reason_of(scenario) -> str:
    """The first line explaining why a scenario did not pass."""
    if scenario.status.name in ("skipped", "untested"):
        return scenario.skip_reason or "not run"
    messages = [scenario.error_message] + [s.error_message for s in scenario.all_steps
                                           if s.status.name not in ("passed", "skipped", "untested")]
    for step in scenario.all_steps:
        if step.status.name == "undefined":
            messages.insert(0, f"undefined step: {step.keyword} {step.name}")
    for message in messages:
        if reason_line(message):
            return redact.text(reason_line(message))
    return scenario.status.name


class ProgressFormatter(_ScenarioEnd):
    name = "dmaas-progress"
    description = "one line per scenario: status, TCID, duration, reason"

    def __init__(self, stream_opener, config):
        super().__init__(stream_opener, config)
        self.stream = self.open()

    def finished(self, scenario, seconds):
        if not self.selected(scenario):
            return
        status = scenario.status.name
        tcid = tcid_of(scenario)
        # scenario names start with their TCID; the rest tells scenarios of one TCID apart
        title = scenario.name[len(tcid):].strip() if scenario.name.startswith(tcid) else scenario.name
        line = f"{status.upper():<9} {tcid}  {seconds:.1f}s  {title[:70]}"
        if status != "passed":
            line += f"  -- {reason_of(scenario)}"
        self.stream.write(line + "\n")
        self.stream.flush()


class ExtrasFormatter(_ScenarioEnd):
    name = "dmaas-extras"
    description = "JSON lines with skip reasons, hook errors and durations (for dmaas reports)"

    def __init__(self, stream_opener, config):
        super().__init__(stream_opener, config)
        self.stream = self.open()

    def finished(self, scenario, seconds):
        record = {
            "location": str(scenario.location),
            "name": scenario.name,
            "selected": self.selected(scenario),
            "status": scenario.status.name,
            "skip_reason": redact.text(scenario.skip_reason),
            "not_for_target": bool(getattr(scenario, "not_for_target", False)),   # skip_not_for_target()
            "error_message": redact.text(scenario.error_message),
            "duration": round(seconds, 3),
            "diagnostics": getattr(scenario, "diagnostics_dir", None),   # relative to the report dir
            "timeline": redact.mapping(getattr(scenario, "timeline", None)),
            "steps": [{"status": s.status.name, "error_message": redact.text(s.error_message)}
                      for s in scenario.all_steps],
        }
        self.stream.write(json.dumps(record) + "\n")
        self.stream.flush()
