"""The neutral result model every report is rendered from:
Run -> Feature -> Scenario -> Step, built from behave's JSON output plus the
extras our formatter records (skip reasons, hook errors, durations), and the
one verdict rule for a TCID over its scenarios (tcid_verdict).

A scenario the target does not run by design (a form of its story for
another target, skipped by the target profile's `skip_tags`) has the status
"not-for-target": it is counted apart from "skipped", which means something
the scenario needs is missing. A merged run (runner/merge.py) may hold the
scenarios of several targets; each scenario knows its own."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from runner import redact
from runner.report import timeline

# behave status names -> the five the reports speak
_SCENARIO_STATUS = {
    "passed": "passed", "failed": "failed", "skipped": "skipped", "untested": "skipped",
    "error": "error", "hook_error": "error", "cleanup_error": "error", "pending": "error",
    "undefined": "undefined", "untested_undefined": "undefined",
}
FAILING = ("failed", "error", "undefined")
NOT_FOR_TARGET = "not-for-target"
STATUSES = ("passed", "failed", "error", "undefined", "skipped", NOT_FOR_TARGET)     # a scenario's
VERDICTS = ("passed", "failed", "error", "undefined", "partial", "skipped", NOT_FOR_TARGET, "not-run")   # a TCID's
# what a status or verdict reads as where the word itself would not do
LABELS = {NOT_FOR_TARGET: "not for this target", "partial": "partly passed", "not-run": "not run"}
BEHAVE_JSON = "behave.json"
EXTRAS = "extras.jsonl"
RUN_INFO = "run.json"
MONITOR = "monitor.json"


@dataclass
class Step:
    keyword: str
    name: str
    location: str
    status: str
    duration: float = 0.0
    error_message: str | None = None
    table: dict | None = None          # {"headings": [...], "rows": [[...]]}
    match: str | None = None           # where its step definition is ("steps/x.py:12"), when matched


@dataclass
class Scenario:
    name: str
    tcid: str | None
    tags: list[str]
    location: str
    status: str
    duration: float
    steps: list[Step] = field(default_factory=list)
    skip_reason: str | None = None
    error_message: str | None = None   # why it failed: the failing step's or a hook's message
    diagnostics: str | None = None     # its diagnostics folder, relative to the run's report dir
    plans: list[timeline.Plan] = field(default_factory=list)   # what it saw of its plans' backups
    target: str = ""                   # the target profile that ran it

    @property
    def anchor(self) -> str:
        return "scenario-" + "".join(c if c.isalnum() else "-" for c in f"{self.target}-{self.location}").strip("-")

    @property
    def reason(self) -> str | None:
        """One line saying why it did not pass (None when it passed)."""
        if self.status == "passed":
            return None
        if self.status in ("skipped", NOT_FOR_TARGET):
            return self.skip_reason or "not run"
        if self.status == "undefined":
            undefined = [s for s in self.steps if s.status == "undefined"]
            return f"undefined step: {undefined[0].keyword} {undefined[0].name}" if undefined else "undefined step"
        return reason_line(self.error_message) or self.status


@dataclass
class Feature:
    name: str
    tcid: str | None
    tags: list[str]
    location: str
    description: list[str]
    scenarios: list[Scenario] = field(default_factory=list)


@dataclass
class Verdict:
    """A TCID's verdict over some of its scenarios (tcid_verdict)."""
    status: str          # passed | failed | error | undefined | partial | skipped | not-for-target | not-run
    seconds: float
    reason: str | None   # why it did not pass: the first reason of a scenario with the deciding status
    counts: dict[str, int]   # its scenarios by status
    text: str            # the Status cell: "passed (12.3 s)", "skipped (0.1 s): <reason>", ...


@dataclass
class Run:
    run_id: str
    target: str
    tags: list[str]
    started: str
    finished: str
    features: list[Feature] = field(default_factory=list)
    monitor: dict | None = None        # {"views": {"plans": [...], "usage": [...], "connectivity": [...]}}
    targets: list[str] = field(default_factory=list)   # every target of a merged run; else [target]
    shard: dict | None = None          # `dmaas run --shard I/N`: {"index", "count", "selection", "scenarios"}
    merged_from: list[str] = field(default_factory=list)   # the run ids `dmaas report merge` merged

    def __post_init__(self):
        self.targets = list(self.targets) or [self.target]

    @property
    def scenarios(self) -> list[Scenario]:
        return [s for f in self.features for s in f.scenarios]

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for scenario in self.scenarios:
            counts[scenario.status] += 1
        return counts

    @property
    def duration(self) -> float:
        return round(sum(s.duration for s in self.scenarios), 3)

    def by_tcid(self) -> dict[str, list[Scenario]]:
        found: dict[str, list[Scenario]] = {}
        for scenario in self.scenarios:
            if scenario.tcid:
                found.setdefault(scenario.tcid, []).append(scenario)
        return found

    def verdicts(self) -> dict[str, Verdict]:
        """Each TCID's verdict over all its scenarios, whatever target ran them."""
        return {tcid: tcid_verdict(scenarios) for tcid, scenarios in self.by_tcid().items()}

    def conformance(self) -> dict[str, dict[str, Verdict]]:
        """TCID x target: each TCID's verdict over the scenarios each target ran ("not-run" where none)."""
        return {tcid: {target: tcid_verdict([s for s in scenarios if s.target == target]) for target in self.targets}
                for tcid, scenarios in self.by_tcid().items()}

    def to_dict(self) -> dict:
        data = asdict(self)
        for feature, fdata in zip(self.features, data["features"]):
            for scenario, sdata in zip(feature.scenarios, fdata["scenarios"]):
                sdata["reason"] = scenario.reason
                sdata["anchor"] = scenario.anchor
        data["counts"] = self.counts()
        data["duration"] = self.duration
        conformance = self.conformance()
        data["verdicts"] = {tcid: {**asdict(verdict), "targets": {t: asdict(v) for t, v in conformance[tcid].items()}}
                            for tcid, verdict in self.verdicts().items()}
        return data


def reason_line(message: str | None) -> str | None:
    """The line of an error message that says what went wrong: the first one,
    or for a traceback its last one (the exception)."""
    lines = [line.strip() for line in (message or "").splitlines() if line.strip()]
    if not lines:
        return None
    return lines[-1] if lines[0].startswith("Traceback") else lines[0]


def tcid_status(statuses: list[str]) -> str:
    """A TCID's verdict from its scenarios' statuses: a failing one fails it
    (failed, error or undefined: the first of these found, in that order);
    else it passed when every scenario that ran passed and at least one ran,
    scenarios not for this target aside; a skip that means something is
    missing leaves it partly passed beside passes, skipped without; with
    only scenarios not for this target it is not for this target; with none
    it was not run."""
    for status in FAILING:
        if status in statuses:
            return status
    if "skipped" in statuses:
        return "partial" if "passed" in statuses else "skipped"
    if "passed" in statuses:
        return "passed"
    return NOT_FOR_TARGET if statuses else "not-run"


def _tcid(tags: list[str]) -> str | None:
    return next((t for t in tags if t.startswith("TCID-")), None)


def _lines(value) -> str | None:
    if value is None:
        return None
    return "\n".join(value) if isinstance(value, list) else str(value)


def _step(data: dict, extra: dict | None) -> Step:
    result = data.get("result") or {}
    status = result.get("status") or (extra or {}).get("status") or "skipped"
    if "match" not in data and status in ("skipped", "untested") and extra and extra.get("status") == "undefined":
        status = "undefined"
    message = _lines(result.get("error_message")) or (extra or {}).get("error_message")
    table = data.get("table")
    if table:
        table = {"headings": list(table["headings"]),
                 "rows": redact.table_rows(table["headings"], table["rows"])}
    return Step(keyword=data.get("keyword", "").strip(), name=data.get("name", ""),
                location=data.get("location", ""), status=_SCENARIO_STATUS.get(status, status),
                duration=round(float(result.get("duration") or 0.0), 3),
                error_message=redact.text(message), table=table,
                match=(data.get("match") or {}).get("location"))


def _scenario(feature_tags: list[str], data: dict, extra: dict, target: str) -> Scenario:
    tags = list(dict.fromkeys(feature_tags + list(data.get("tags", []))))
    extra_steps = extra.get("steps", [])
    # behave lists a scenario's background steps in front of its own ones
    raw_steps = data.get("steps", [])
    steps = [_step(s, extra_steps[i] if i < len(extra_steps) else None) for i, s in enumerate(raw_steps)]
    status = _SCENARIO_STATUS.get(extra.get("status") or data.get("status") or "skipped", "error")
    if status == "error" and any(s.status == "undefined" for s in steps):
        status = "undefined"
    if status == "skipped" and extra.get("not_for_target"):     # recorded by the formatter, never read from prose
        status = NOT_FOR_TARGET
    failing = next((s for s in steps if s.status in FAILING and s.error_message), None)
    error = extra.get("error_message") or (failing.error_message if failing else None)
    duration = extra.get("duration")
    if duration is None:
        duration = sum(s.duration for s in steps)
    return Scenario(name=data.get("name", ""), tcid=_tcid(tags), tags=tags, location=data.get("location", ""),
                    status=status, duration=round(float(duration), 3), steps=steps,
                    skip_reason=redact.text(extra.get("skip_reason")) if status in ("skipped", NOT_FOR_TARGET)
                    else None,
                    error_message=redact.text(error) if status in FAILING else None,
                    diagnostics=extra.get("diagnostics"), plans=timeline.plans(extra.get("timeline")),
                    target=extra.get("target") or target)


def features_from_behave(behave_json: list[dict], extras: dict[tuple[str, str], dict], target: str = "") \
        -> list[Feature]:
    """behave's `-f json` output (+ extras by (target, scenario location), read_extras) -> Features; a
    scenario's target is the one a merged run's files name (runner/merge.py), else `target`."""
    features = []
    for fdata in behave_json:
        tags = list(fdata.get("tags", []))
        feature = Feature(name=fdata.get("name", ""), tcid=_tcid(tags), tags=tags,
                          location=fdata.get("location", ""), description=list(fdata.get("description", [])))
        for element in fdata.get("elements", []):
            extra = extras.get((element.get("target", ""), element.get("location", "")), {})
            # behave lists scenarios the tags did not select too (--show-skipped, so that
            # a feature skipped by a hook still shows up); the report leaves them out
            if element.get("type") == "scenario" and extra.get("selected", True):
                feature.scenarios.append(_scenario(tags, element, extra, target))
        if feature.scenarios:
            features.append(feature)
    return features


def sanitize_behave_json(path: Path) -> None:
    """Rewrites behave's own json output with secrets redacted (tables, messages, secret-named keys)."""
    if not path.is_file() or not path.stat().st_size:
        return
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        path.unlink()    # cut short (interrupted): unreadable, and may hold anything
        return
    data = redact.mapping(data)
    for feature in data:
        for element in feature.get("elements", []):
            for step in element.get("steps", []):
                table = step.get("table")
                if table:
                    table["rows"] = redact.table_rows(table["headings"], table["rows"])
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def read_extras(path: Path) -> dict[tuple[str, str], dict]:
    """extras.jsonl by (target, location): a merged run of several targets holds
    a scenario once per target, and names the target in its records (and in
    behave.json's elements); a run's own files name none ("")."""
    extras: dict[tuple[str, str], dict] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                extras[(record.get("target", ""), record["location"])] = record
    return extras


def read_monitor(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    views = data.get("views") if isinstance(data, dict) else None
    if not isinstance(views, dict):
        return None
    return {"views": redact.mapping({k: v for k, v in views.items() if isinstance(v, list)})}


def load_run(run_dir: Path) -> Run:
    """The Run recorded in run_dir: run.json, behave.json, extras.jsonl, optional monitor.json
    (a shard's run.json holds its `shard`, a merged run's its `targets` and `merged_from`)."""
    run_dir = Path(run_dir)
    info = json.loads((run_dir / RUN_INFO).read_text(encoding="utf-8"))
    behave_path = run_dir / BEHAVE_JSON
    behave_json = []
    if behave_path.is_file() and behave_path.stat().st_size:
        behave_json = json.loads(behave_path.read_text(encoding="utf-8"))
    target = info.get("target", "")
    return Run(run_id=info["run_id"], target=target, tags=list(info.get("tags", [])),
               started=info.get("started", ""), finished=info.get("finished", ""),
               features=features_from_behave(behave_json, read_extras(run_dir / EXTRAS), target),
               monitor=read_monitor(run_dir / MONITOR), targets=list(info.get("targets") or []),
               shard=info.get("shard"), merged_from=list(info.get("merged_from") or []))


def tcid_verdict(scenarios: list[Scenario] | None) -> Verdict:
    """The verdict of a TCID over these scenarios of it (tcid_status), with its Status cell's text."""
    scenarios = list(scenarios or [])
    status = tcid_status([s.status for s in scenarios])
    seconds = round(sum(s.duration for s in scenarios), 3)
    deciding = "skipped" if status == "partial" else status
    reason = None if status == "passed" else \
        next((s.reason for s in scenarios if s.status == deciding and s.reason), None)
    if status == "not-run":
        text = "not run"
    elif status == NOT_FOR_TARGET:
        text = LABELS[NOT_FOR_TARGET] + (f": {reason}" if reason else "")
    else:
        # the forms for other targets are no part of how the story did here
        relevant = [s for s in scenarios if s.status != NOT_FOR_TARGET]
        label = LABELS.get(status, status)
        if len(relevant) == 1 or status == "passed":
            text = f"{label} ({seconds:.1f} s)"
        else:
            tally = ", ".join(f"{n} {LABELS.get(k, k)}" for k, n in _tally(relevant).items())
            text = f"{label} ({tally}; {seconds:.1f} s)"
        text += f": {reason}" if reason else ""
    return Verdict(status, seconds, reason, _tally(scenarios), text)


def tcid_cell(scenarios: list[Scenario] | None) -> tuple[str, str]:
    """(verdict, one-line text) for a TCID's Status cell: "passed (12.3 s)", "skipped (0.1 s): <reason>", ..."""
    verdict = tcid_verdict(scenarios)
    return verdict.status, verdict.text


def _tally(scenarios: list[Scenario]) -> dict[str, int]:
    tally: dict[str, int] = {}
    for scenario in scenarios:
        tally[scenario.status] = tally.get(scenario.status, 0) + 1
    return tally
