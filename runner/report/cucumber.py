"""cucumber.json: the run in Cucumber's JSON format, which Jenkins' Cucumber
reports, Xray, TestRail and the cucumber-html reporters import (behave's own
`-f json` is a different shape).

One feature object per feature file (uri, id, keyword, name, line,
description, tags), one element per scenario (type "scenario"), its steps
with keyword, name, line, match location and result (status, duration in
nanoseconds, error_message). A failed scenario's diagnostics folder (events,
object dumps, Velero status, bucket listing; secrets already redacted) is
embedded on its failing step, as text. Statuses map onto Cucumber's:
error → failed, untested → skipped, not for this target → skipped; a
skip's reason goes into the scenario's description ("skipped: <reason>" or
"not for this target: <reason>"), which Cucumber has no other place for. In
a merged run of several targets a scenario's name ends with its target in
brackets.
"""
from __future__ import annotations

import base64
import json
import re
from pathlib import Path

from runner.report.model import FAILING, LABELS, NOT_FOR_TARGET, Feature, Run, Scenario, Step

EMBED_LIMIT = 256 * 1024      # bytes of one diagnostics file embedded; longer ones are cut
_STATUS = {"passed": "passed", "failed": "failed", "error": "failed", "undefined": "undefined",
           "skipped": "skipped", "untested": "skipped", "pending": "pending", NOT_FOR_TARGET: "skipped"}


def _id(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _line(location: str) -> int:
    tail = location.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else 1


def _tags(tags: list[str], line: int) -> list[dict]:
    # behave does not record tag lines; the tag line sits right above the keyword
    return [{"name": f"@{tag}", "line": max(1, line - 1)} for tag in tags]


def _embeddings(run_dir: Path | None, scenario: Scenario) -> list[dict]:
    if run_dir is None or not scenario.diagnostics:
        return []
    folder = (run_dir / scenario.diagnostics).resolve()
    if not folder.is_dir() or run_dir.resolve() not in folder.parents:
        return []
    embeddings = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()[:EMBED_LIMIT]
        embeddings.append({"mime_type": "text/plain", "name": path.relative_to(folder).as_posix(),
                           "data": base64.b64encode(data).decode("ascii")})
    return embeddings


def _step(step: Step, embeddings: list[dict]) -> dict:
    result = {"status": _STATUS.get(step.status, "failed"), "duration": int(round(step.duration * 1e9))}
    if step.error_message and step.status in FAILING:
        result["error_message"] = step.error_message
    out = {"keyword": f"{step.keyword} ", "name": step.name, "line": _line(step.location),
           "match": {"location": step.match or step.location}, "result": result}
    if step.table:
        out["rows"] = [{"cells": list(step.table["headings"])}] + [{"cells": list(row)}
                                                                    for row in step.table["rows"]]
    if embeddings:
        out["embeddings"] = embeddings
    return out


def _scenario(feature_id: str, scenario: Scenario, run_dir: Path | None, name: str) -> dict:
    embeddings = _embeddings(run_dir, scenario) if scenario.status in FAILING else []
    failing = next((i for i, s in enumerate(scenario.steps) if s.status in FAILING), len(scenario.steps) - 1)
    steps = [_step(s, embeddings if i == failing else []) for i, s in enumerate(scenario.steps)]
    line = _line(scenario.location)
    description = f"{LABELS.get(scenario.status, scenario.status)}: {scenario.reason}" \
        if scenario.status in ("skipped", NOT_FOR_TARGET) and scenario.reason else ""
    if scenario.status in FAILING and not any(s["result"]["status"] == "failed" for s in steps):
        # a hook failed (setup or cleanup): Cucumber shows failures on steps only
        steps.append({"keyword": "After ", "name": "hooks (setup, cleanup)", "line": line,
                      "match": {"location": "features/environment.py"},
                      "result": {"status": "failed", "duration": 0,
                                 "error_message": scenario.error_message or scenario.reason or scenario.status},
                      **({"embeddings": embeddings} if embeddings else {})})
    return {"id": f"{feature_id};{_id(name)}", "keyword": "Scenario", "type": "scenario",
            "name": name, "line": line, "description": description,
            "tags": _tags(scenario.tags, line), "steps": steps}


def _feature(feature: Feature, run_dir: Path | None, several: bool) -> dict:
    feature_id = _id(feature.name)
    line = _line(feature.location)
    return {"uri": feature.location.rsplit(":", 1)[0], "id": feature_id, "keyword": "Feature",
            "name": feature.name, "line": line, "description": "\n".join(feature.description),
            "tags": _tags(feature.tags, line),
            "elements": [_scenario(feature_id, s, run_dir, f"{s.name} [{s.target}]" if several else s.name)
                         for s in feature.scenarios]}


def render(run: Run, run_dir: Path | None = None) -> str:
    several = len(run.targets) > 1
    return json.dumps([_feature(f, Path(run_dir) if run_dir else None, several) for f in run.features],
                      indent=2) + "\n"
