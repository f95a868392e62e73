"""Scenarios in parallel: `dmaas run --jobs N` splits the selected scenarios
over N behave processes, each with a target of its own (a lab of its own,
so clusters, buckets and clocks never meet), then merges what they wrote
into the one behave.json and extras.jsonl a serial run would have written.

    plan = partition(scenarios, jobs, durations)   # [[ScenarioEntry]], each in serial order
    merge_outputs(run_dir, parts, order)           # behave.json + extras.jsonl in serial order

`dmaas run --shard I/N` runs the I-th group of the same partition into N
(runner/run.py), and `dmaas report merge` merges runs with merge_outputs
(runner/merge.py).

Split: longest expected duration first onto the least loaded worker, with
durations from the newest earlier report that ran the scenario (else a
guess by area: schedules run long; a scenario the target skips by tag,
next to nothing). The merged files list features in the
serial order and each feature's scenarios by line, whichever worker ran them.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from runner.features import ScenarioEntry
from runner.report import model

LONG_AREAS = ("schd", "soak")          # tags of scenarios that let days of schedules pass
# seconds, only until a report says better: days of schedules on an engine
# whose backups run the uploader, days of schedules otherwise, a single story
GUESS_UPLOADER, GUESS_LONG, GUESS_SHORT = 120.0, 60.0, 10.0
SKIPPED = 0.5       # a scenario the target skips by tag (profile `skip_tags`) costs behave's start of it


def default_jobs() -> int:
    """Workers that this machine's cores make worthwhile: one per core."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def past_durations(reports_dir: Path, target: str | None = None) -> dict[str, float]:
    """{scenario name: seconds} from earlier runs' report.json, newest run winning;
    with a target, only of the scenarios that target ran (a real target's
    schedules wait real time: its seconds say nothing of the lab's). Shards
    are left out (their merge holds the same seconds): the shards of one run
    made one after another into one folder split the scenarios alike."""
    durations: dict[str, float] = {}
    reports = sorted(Path(reports_dir).glob("*/report.json"), key=lambda p: p.stat().st_mtime)
    for path in reports:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("shard"):
                continue
            for feature in data.get("features", []):
                for scenario in feature.get("scenarios", []):
                    if target is not None and scenario.get("target", data.get("target")) != target:
                        continue
                    if scenario.get("status") in ("passed", "failed") and scenario.get("duration"):
                        durations[scenario["name"]] = float(scenario["duration"])
        except (OSError, ValueError, TypeError, AttributeError):
            continue     # a report from another version or cut short: only a hint anyway
    return durations


def expected_seconds(entry: ScenarioEntry, durations: dict[str, float], fs_engines=frozenset(),
                     skip_tags=frozenset()) -> float:
    if skip_tags.intersection(entry.tags):
        return SKIPPED
    if entry.name in durations:
        return durations[entry.name]
    if not any(t in LONG_AREAS for t in entry.tags):
        return GUESS_SHORT
    return GUESS_UPLOADER if any(t.startswith("engine-") and t[7:] in fs_engines for t in entry.tags) \
        else GUESS_LONG


def partition(entries: list[ScenarioEntry], jobs: int, durations: dict[str, float],
              fs_engines=frozenset(), skip_tags=frozenset()) -> list[list[ScenarioEntry]]:
    """At most `jobs` non-empty groups, balanced by expected duration
    (`fs_engines`: engines whose backups are file-system backups; `skip_tags`:
    tags of scenarios the target skips, which cost next to nothing)."""
    groups: list[list[ScenarioEntry]] = [[] for _ in range(max(1, min(jobs, len(entries))))]
    loads = [0.0] * len(groups)
    expected = {e.location: expected_seconds(e, durations, fs_engines, skip_tags) for e in entries}
    for entry in sorted(entries, key=lambda e: -expected[e.location]):
        least = loads.index(min(loads))
        groups[least].append(entry)
        loads[least] += expected[entry.location]
    # behave opens a feature file once per run of consecutive locations in it:
    # each group in serial order, so no feature is opened twice
    rank = {entry.location: i for i, entry in enumerate(entries)}
    return [sorted(group, key=lambda e: rank[e.location]) for group in groups]


@dataclass(frozen=True)
class Part:
    """Behave's output of some scenarios: a worker's, or a whole run's when `dmaas report merge` merges runs."""
    directory: Path
    locations: frozenset[str]    # the scenarios it ran (behave also lists others of a feature it opened)
    target: str | None = None    # named in the merged files when runs of several targets are merged


def merge_outputs(run_dir: Path, parts: list[Part], order: list[str]) -> None:
    """Write run_dir's behave.json and extras.jsonl from the parts' own,
    keeping from each part only its own scenarios, in the serial `order` of
    their locations (a scenario of several targets: in the parts' order of
    targets). A part with a target names it in every element and record."""
    rank = {location: i for i, location in enumerate(order)}
    targets = list(dict.fromkeys(part.target for part in parts))
    features: dict[str, dict] = {}
    extras: dict[tuple, str] = {}
    for part in parts:
        stamp = {"target": part.target} if part.target is not None else {}
        behave_path = part.directory / model.BEHAVE_JSON
        if behave_path.is_file() and behave_path.stat().st_size:
            try:
                data = json.loads(behave_path.read_text(encoding="utf-8"))
            except ValueError:
                data = []       # cut short by an interrupt: the extras still say what ran
            for feature in data:
                elements = [{**e, **stamp} for e in feature.get("elements", []) if e.get("location") in part.locations]
                if not elements:
                    continue
                merged = features.setdefault(feature.get("location", ""), {**feature, "elements": []})
                merged["elements"] += elements
        extras_path = part.directory / model.EXTRAS
        if extras_path.is_file():
            for line in extras_path.read_text(encoding="utf-8").splitlines():
                record = json.loads(line) if line.strip() else {}
                if record.get("location") in part.locations:
                    extras[(part.target, record["location"])] = json.dumps({**record, **stamp})

    def key(location, target):
        return rank.get(location, len(rank)), targets.index(target)
    for feature in features.values():
        feature["elements"].sort(key=lambda e: key(e.get("location"), e.get("target")))
    ordered = sorted(features.values(), key=lambda f: min(
        (rank.get(e.get("location"), len(rank)) for e in f["elements"]), default=len(rank)))
    if ordered:
        (run_dir / model.BEHAVE_JSON).write_text(json.dumps(ordered, indent=1) + "\n", encoding="utf-8")
    lines = sorted(extras.items(), key=lambda item: key(item[0][1], item[0][0]))
    (run_dir / model.EXTRAS).write_text("".join(line + "\n" for _, line in lines), encoding="utf-8")
