"""`dmaas report merge RUN...`: one run folder holding what several runs
ran, with every report written from it.

- The shards of a run (`dmaas run --shard I/N`, e.g. the jobs of a CI
  matrix) merge into the reports one run over the same scenarios writes:
  junit.xml, cucumber.json, report.json, report.html and the strategy
  markdown; each failed scenario's diagnostics folder comes along.
- Runs on several targets (the lab and the real stack) merge into one run
  of those targets: each TCID's verdict over all of them, and the TCID x
  target table in report.json (`verdicts`), in the HTML (Conformance), in
  the strategy markdown and on stdout.

Of a scenario that several runs of one target ran, the run that started
last counts (a rerun of the failures merged with its run). A selected
scenario that no shard merged here ran (a shard's run not given, or shards
that saw different earlier reports and so split the scenarios differently)
is named, and the merge exits 1; otherwise the exit code is `dmaas run`'s
over the merged scenarios. The runs themselves are not changed.
"""
from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from runner import features, report, strategy, workers
from runner.errors import UserError
from runner.report import markdown, model
from runner.run import conclude, new_run_id


@dataclass
class _Source:
    """One run given to the merge."""
    directory: Path
    info: dict                       # its run.json
    records: dict[str, dict]         # its scenarios' extras records by location

    @property
    def target(self) -> str:
        return self.info.get("target", "")


def _source(which: str, reports_dir: Path) -> _Source:
    directory = Path(which) if Path(which).is_dir() else reports_dir / which
    if not (directory / model.RUN_INFO).is_file():
        raise UserError(f"report merge {which}: no run folder with a {model.RUN_INFO} at {directory}")
    try:
        info = json.loads((directory / model.RUN_INFO).read_text(encoding="utf-8"))
        records = {location: record for (_, location), record in model.read_extras(directory / model.EXTRAS).items()
                   if record.get("selected", True)}
    except (OSError, ValueError, KeyError) as error:
        raise UserError(f"report merge {which}: {directory} cannot be read ({type(error).__name__}: {error})") \
            from None
    if len(info.get("targets") or []) > 1:
        raise UserError(f"report merge {which}: a merge of runs on {', '.join(info['targets'])}; merge the runs "
                        f"it was merged from ({', '.join(info.get('merged_from') or [])})")
    return _Source(directory.resolve(), info, records)


def merge(root: Path, runs: list[str], reports_dir: Path) -> int:
    """Merges the runs into a new run folder under reports_dir; `dmaas run`'s exit code over the result."""
    reports_dir = Path(reports_dir).resolve()
    given = [_source(which, reports_dir) for which in runs]
    if len({s.directory for s in given}) < len(given):
        raise UserError("report merge: a run is given twice")
    targets = list(dict.fromkeys(s.target for s in given))
    sources = sorted(given, key=lambda s: (s.info.get("started") or "", s.info.get("run_id", "")))
    counted = {(s.target, location): i for i, s in enumerate(sources) for location in s.records}   # the last wins
    parts = [workers.Part(s.directory, frozenset(loc for loc in s.records if counted[(s.target, loc)] == i), s.target)
             for i, s in enumerate(sources)]
    not_run = _not_run(sources, counted)

    run_id = new_run_id()
    out = reports_dir / run_id
    out.mkdir(parents=True)
    workers.merge_outputs(out, parts, sorted({loc for _, loc in counted}, key=features.serial_key))
    _copy_diagnostics(sources, parts, out)
    _merge_monitor(sources, targets, out)
    info = {"run_id": run_id, "target": " + ".join(targets), "targets": targets,
            "tags": list(dict.fromkeys(t for s in given for t in s.info.get("tags") or [])),
            "started": min((s.info.get("started") or "" for s in given), default=""),
            "finished": max((s.info.get("finished") or "" for s in given), default=""),
            "merged_from": [s.info.get("run_id", s.directory.name) for s in given],
            "behave_exit_code": max((s.info.get("behave_exit_code") or 0 for s in given), default=0),
            **({"not_run": not_run} if not_run else {})}
    (out / model.RUN_INFO).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    result = model.load_run(out)
    if not result.scenarios:
        shutil.rmtree(out)
        raise UserError(f"report merge: the runs {', '.join(runs)} hold no scenario")
    paths = report.write_all(result, out, strategy.read(root))
    print(f"merged {len(given)} run(s) on {', '.join(targets)} into {run_id}")
    if len(targets) > 1:
        print(markdown.conformance_table(result), end="")
    for line in not_run:
        print(f"error: {line}", file=sys.stderr)
    code = conclude(result, paths, info["behave_exit_code"], None, info["tags"])
    return max(code, 1) if not_run else code


def _not_run(sources: list[_Source], counted: dict) -> list[str]:
    """One line per sharded selection naming the scenarios no run merged here ran."""
    selections: dict[tuple, set[int]] = {}
    for s in sources:
        shard = s.info.get("shard")
        if shard:
            selections.setdefault((s.target, shard["count"], tuple(shard["selection"])), set()).add(shard["index"])
    lines = []
    for (target, count, selection), indices in selections.items():
        missing = [location for location in selection if (target, location) not in counted]
        if missing:
            absent = [f"{i}/{count}" for i in range(1, count + 1) if i not in indices]
            lines.append(f"{len(missing)} of the {len(selection)} scenarios the shards of {count} on {target} "
                         f"selected ran in none of the runs merged"
                         + (f" (shards not given: {', '.join(absent)})" if absent else
                            " (the shards split them differently: give each the same earlier reports)")
                         + ": " + ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else ""))
    return lines


def _copy_diagnostics(sources: list[_Source], parts: list[workers.Part], out: Path) -> None:
    """The diagnostics folder of each scenario merged (a failed one's), where its records say it is."""
    for source, part in zip(sources, parts):
        for location in part.locations:
            relative = source.records[location].get("diagnostics")
            folder = (source.directory / relative).resolve() if relative else None
            if folder and folder.is_dir() and source.directory in folder.parents:
                shutil.copytree(folder, out / relative, dirs_exist_ok=True)


def _merge_monitor(sources: list[_Source], targets: list[str], out: Path) -> None:
    """The monitor views of each target's last run that recorded them; with several
    targets, every row says its target."""
    last = {s.target: views for s in sources if (views := model.read_monitor(s.directory / model.MONITOR))}
    if not last:
        return
    if len(targets) == 1:
        merged = last[targets[0]]
    else:
        merged = {"views": {}}
        for target in targets:
            for view, rows in last.get(target, {"views": {}})["views"].items():
                merged["views"].setdefault(view, []).extend({"target": target, **row} for row in rows
                                                             if isinstance(row, dict))
    (out / model.MONITOR).write_text(json.dumps(merged, indent=1) + "\n", encoding="utf-8")
