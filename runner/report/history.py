"""The history strip: this run beside the last earlier runs in the same
reports folder (their reports/<run-id>/report.json, newest N by start time)
on the same target(s), with each TCID's verdict and seconds per run and the
runs' wall-clock durations. A shard of a run (`dmaas run --shard`) is a part
of one, not a run to compare with, and is left out. An earlier report that
cannot be read is left out, with one warning line for all of them; history
never stops a report from being written."""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from runner.report.model import Run, tcid_status
from runner.times import parse_time

LIMIT = 10          # earlier runs shown
REPORT = "report.json"


@dataclass
class Column:
    run_id: str
    started: str
    seconds: float                   # wall clock, start to finish
    cells: dict[str, tuple[str, float]] = field(default_factory=dict)   # tcid -> (status, seconds)
    current: bool = False

    @property
    def label(self) -> str:
        """Its start as "MM-DD HH:MM" (the column heading)."""
        return self.started[5:16].replace("T", " ")


@dataclass
class History:
    tcids: list[str]                 # the rows: this run's TCIDs
    columns: list[Column]            # oldest first; this run last

    def trend(self, tcid: str | None = None) -> list[float | None]:
        """Seconds per column, of one TCID (None where it did not run) or of the whole run."""
        if tcid is None:
            return [c.seconds for c in self.columns]
        return [c.cells[tcid][1] if tcid in c.cells else None for c in self.columns]


def load(reports_dir: Path, run: Run, limit: int = LIMIT) -> History:
    """This run and the `limit` newest other runs under reports_dir on the same
    target(s), shards left out, that started before it (or in the same second:
    run ids and start times are to the second)."""
    now = parse_time(run.started)
    earlier, unreadable = [], []
    for path in sorted(Path(reports_dir).glob(f"*/{REPORT}")):
        if path.parent.name == run.run_id:
            continue
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
            if report.get("shard") or list(report.get("targets") or [report.get("target")]) != run.targets:
                continue
            column = _column(report)
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
            unreadable.append(f"{path} ({type(error).__name__})")
            continue
        if now is None or parse_time(column.started) <= now:
            earlier.append(column)
    if unreadable:
        print(f"report history: left out {len(unreadable)} unreadable earlier report(s): {', '.join(unreadable)}",
              file=sys.stderr)
    earlier.sort(key=lambda c: parse_time(c.started))
    current = _column(run.to_dict())
    current.current = True
    return History(tcids=list(run.by_tcid()), columns=earlier[-limit:] + [current] if limit else [current])


def _column(report: dict) -> Column:
    """A run's column from its report.json content (Run.to_dict())."""
    statuses: dict[str, list[str]] = {}
    seconds: dict[str, float] = {}
    for feature in report["features"]:
        for scenario in feature["scenarios"]:
            if scenario.get("tcid"):
                statuses.setdefault(scenario["tcid"], []).append(scenario["status"])
                seconds[scenario["tcid"]] = seconds.get(scenario["tcid"], 0.0) + float(scenario["duration"])
    started, finished = parse_time(report["started"]), parse_time(report.get("finished"))
    if started is None:
        raise ValueError("no start time")
    wall = (finished - started).total_seconds() if finished else float(report.get("duration", 0.0))
    return Column(run_id=str(report["run_id"]), started=report["started"], seconds=round(wall, 1),
                  cells={t: (tcid_status(s), round(seconds[t], 1)) for t, s in statuses.items()})


def sparkline(values: list[float | None], width: int = 160, height: int = 18) -> str:
    """SVG polyline points for values (None: a gap is bridged), scaled to the largest."""
    top = max((v for v in values if v is not None), default=0) or 1.0
    step = width / max(1, len(values) - 1)
    return " ".join(f"{round(i * step, 1)},{round(height - 2 - (height - 4) * v / top, 1)}"
                    for i, v in enumerate(values) if v is not None)
