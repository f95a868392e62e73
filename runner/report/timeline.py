"""Per plan, what a scenario saw happen to its backups, as the report shows it.

The behave hooks (features/environment.py) write one `timeline` record per
scenario into extras.jsonl when it ends, passed or failed, from the state the
steps kept (steps/steplib.py): every backup seen in the plan's buckets, when it
went missing from them, and the restores taken. Times are RFC 3339 (the
scenario clock: virtual on the lab, wall clock on a real target).

    {"ended": "2026-01-08T08:00:00Z",       # the scenario clock at its end (null: unknown)
     "plans": [{"name": "schd-hourly", "cluster": "workload",
                "settings": "every 1h, full every 24, retention 72h",
                "backups": [{"name", "location", "kind": "full" | "incremental" | null,
                             "phase", "started", "completed",
                             "gone": null | when it was first seen missing from its bucket}],
                "restores": [{"backup", "cluster", "name", "phase", "time"}]}]}

record() builds it, plans() reads it back, drawing() lays one plan out on a
time axis for templates/timeline.html.j2 (coordinates only, no markup here).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from runner.times import parse_time

FAILED_BACKUP = ("Failed", "PartiallyFailed", "FailedValidation")     # Velero's phases of a failed backup

# --------------------------------------------------------------- the record


def record(plans: dict, seen: dict, gone: dict, restores: list, ended) -> dict:
    """The timeline record from the steps' scenario state: `plans` {name: PlanSpec},
    `seen` {plan: {backup: BackupRecord}}, `gone` {plan: {backup: time}},
    `restores` [RestoreDone], `ended` the scenario clock now (or None)."""
    out = []
    for name, spec in plans.items():
        backups = sorted(seen.get(name, {}).values(), key=lambda b: (_text(b.started) or "", b.name))
        names = {b.name for b in backups}
        out.append({
            "name": name, "cluster": spec.cluster, "settings": _settings(spec),
            "backups": [{"name": b.name, "location": b.location, "kind": b.kind, "phase": b.phase,
                         "started": _text(b.started), "completed": _text(b.completed),
                         "gone": _text(gone.get(name, {}).get(b.name))} for b in backups],
            "restores": [{"backup": r.backup, "cluster": r.cluster, "name": r.record.name,
                          "phase": r.record.phase, "time": _text(getattr(r, "time", None))}
                         for r in restores if r.backup in names],
        })
    return {"ended": _text(ended), "plans": out}


def _text(moment) -> str | None:
    moment = parse_time(moment)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def _settings(spec) -> str:
    def span(value):
        return f"{value // 3600}h" if isinstance(value, int) and value % 3600 == 0 else \
            (f"{value}s" if isinstance(value, int) else str(value))
    parts = [f"every {span(spec.every)}"]
    if spec.full_every:
        parts.append(f"full every {spec.full_every}")
    if spec.retention_ttl:
        parts.append(f"retention {span(spec.retention_ttl)}")
    if spec.keep_last:
        parts.append(f"keep last {spec.keep_last}")
    return ", ".join(parts)


# --------------------------------------------------------------- read back


@dataclass
class Backup:
    name: str
    kind: str | None
    phase: str | None
    started: str | None
    completed: str | None = None
    gone: str | None = None
    location: str | None = None

    @property
    def time(self) -> str | None:
        return self.started or self.completed

    @property
    def failed(self) -> bool:
        return self.phase in FAILED_BACKUP


@dataclass
class Restore:
    backup: str
    cluster: str
    name: str
    phase: str | None
    time: str | None

    @property
    def failed(self) -> bool:
        return self.phase != "Completed"


@dataclass
class Plan:
    name: str
    cluster: str
    settings: str
    ended: str | None
    backups: list[Backup] = field(default_factory=list)
    restores: list[Restore] = field(default_factory=list)


def plans(data: dict | None) -> list[Plan]:
    """The Plans of a scenario's timeline record (none when it has none)."""
    if not isinstance(data, dict):
        return []
    return [Plan(name=p.get("name", ""), cluster=p.get("cluster", ""), settings=p.get("settings", ""),
                 ended=data.get("ended"),
                 backups=[Backup(**{k: b.get(k) for k in Backup.__dataclass_fields__}) for b in p.get("backups", [])],
                 restores=[Restore(**{k: r.get(k) for k in Restore.__dataclass_fields__}) for r in p.get("restores", [])])
            for p in data.get("plans", []) if isinstance(p, dict)]


# --------------------------------------------------------------- the drawing

WIDTH, LEFT, RIGHT = 1000, 120, 24          # SVG user units; lane labels left of LEFT
TOP, LANE, GAP, RESTORE_LANE, AXIS = 18, 26, 8, 30, 30    # TOP: room for the failure's label
RADIUS = 8                                                 # of a restore's circle
TICK_STEPS = [60, 300, 900, 1800, 3600, 7200, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400]
LANES = {"full": "full", "incremental": "incremental", "other": "kind unknown"}   # lane: its label
UNDISTINGUISHED = "backups"     # the one lane's label when no backup of the plan has a kind


@dataclass
class Mark:
    x: float
    y: float
    width: float
    height: float
    css: str            # "full kept", "incremental expired", "failed" ...
    title: str          # the hover text


@dataclass
class RestoreMark:
    number: int
    label: str          # its number, or "" when there are too many to write in the circles
    x: float            # the circle, under the backup it restored (its restore point)
    y: float
    from_x: float       # the restored backup's mark, joined to the circle
    from_y: float
    taken_x: float      # when it was taken: a dashed line from the circle ends there
    css: str            # "restore" or "restore failed"
    text: str           # "backup <b> (<kind>, <time>) restored on cluster <c> at <time> as <restore>: <phase>"


@dataclass
class Drawing:
    width: int
    height: int
    left: int                               # where the time axis starts
    lanes: list[tuple[str, float]]          # (label, y of its middle)
    kinds: list[tuple[str, str]]            # (css, label) of each lane of backups, for the legend
    ticks: list[tuple[float, str, bool]]    # (x, label, starts a day)
    marks: list[Mark]
    restores: list[RestoreMark]
    radius: int                             # of a restore's circle
    failure: tuple[float, str, str] | None  # (x, text, text-anchor) where a failed scenario ended
    axis_y: float
    summary: str


def drawing(plan: Plan, status: str = "passed", reason: str | None = None) -> Drawing:
    """One plan on a time axis: a lane of backups per kind (solid: still in the
    bucket, hollow: gone by retention; red: failed), a lane of numbered restores,
    each under the backup it restored with a dashed line to when it was taken,
    and a red line where a failed scenario ended."""
    times = [parse_time(t) for t in [b.time for b in plan.backups] + [r.time for r in plan.restores] + [plan.ended] if t]
    start = min(times, default=dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc))
    end = max(times + [start + dt.timedelta(hours=1)])

    def x_of(moment) -> float:
        moment = parse_time(moment) if moment else end
        return round(LEFT + (WIDTH - LEFT - RIGHT) * (moment - start).total_seconds() / (end - start).total_seconds(), 1)

    lane_names = [k for k in LANES if any(_lane(b) == k for b in plan.backups)] or ["other"]
    lane_top = {name: TOP + i * (LANE + GAP) for i, name in enumerate(lane_names)}
    restore_y = TOP + len(lane_names) * (LANE + GAP) + RESTORE_LANE / 2
    axis_y = restore_y + RESTORE_LANE / 2 + GAP

    xs = sorted(x_of(b.time) for b in plan.backups if b.time)
    spacing = min((b - a for a, b in zip(xs, xs[1:]) if b > a), default=10.0)
    width = max(2.0, min(10.0, round(spacing * 0.7, 1)))
    marks, where = [], {}
    for backup in plan.backups:
        lane = _lane(backup)
        height = LANE if lane == "full" else LANE * 0.6
        top = lane_top[lane] + (LANE - height)
        state = "failed" if backup.failed else ("expired" if backup.gone else "kept")
        x = round(x_of(backup.time) - width / 2, 1)
        marks.append(Mark(x, top, width, height, f"{lane} {state}", _backup_title(backup)))
        where[backup.name] = (x + width / 2, top + height)

    restores, by_name = [], {b.name: b for b in plan.backups}
    for number, restore in enumerate(sorted(plan.restores, key=lambda r: r.time or ""), 1):
        taken = x_of(restore.time)
        from_x, from_y = where.get(restore.backup, (taken, restore_y))
        restores.append(RestoreMark(number, str(number) if len(plan.restores) <= 20 else "", from_x, restore_y,
                                    from_x, from_y, taken, "restore failed" if restore.failed else "restore",
                                    _restore_text(restore, by_name.get(restore.backup))))
    _side_by_side(sorted(restores, key=lambda r: r.x), 2 * RADIUS + 1)

    failure = None
    if status not in ("passed", "skipped", "not-for-target"):
        x = x_of(plan.ended)
        failure = (x, f"scenario {status}" + (f": {reason}" if reason else ""), "end" if x > WIDTH / 2 else "start")
    # a plan that does not tell full from incremental (no "full every" on a file-system engine) has one lane
    labels = {"other": UNDISTINGUISHED} if lane_names == ["other"] else LANES
    lanes = [(labels[n], lane_top[n] + LANE / 2) for n in lane_names] + [("restores", restore_y)]
    return Drawing(WIDTH, int(axis_y + AXIS), LEFT - 10, lanes, [(n, labels[n]) for n in lane_names],
                   _ticks(start, end, x_of), marks, restores, RADIUS, failure, axis_y, _summary(plan))


def _side_by_side(restores: list[RestoreMark], gap: float) -> None:
    """Circles (in x order) at least `gap` apart, none past the right edge."""
    for before, after in zip(restores, restores[1:]):
        after.x = max(after.x, before.x + gap)
    overflow = max(0.0, restores[-1].x - (WIDTH - RADIUS - 2)) if restores else 0.0
    for restore in restores:
        restore.x = round(restore.x - overflow, 1)


def _lane(backup: Backup) -> str:
    return backup.kind if backup.kind in ("full", "incremental") else "other"


def _ticks(start, end, x_of) -> list[tuple[float, str, bool]]:
    span = (end - start).total_seconds()
    step = next((s for s in TICK_STEPS if span / s <= 10), TICK_STEPS[-1])
    first = -int(-start.timestamp() // step) * step
    ticks = []
    for epoch in range(first, int(end.timestamp()) + 1, step):
        moment = dt.datetime.fromtimestamp(epoch, dt.timezone.utc)
        day = moment.hour == 0 and moment.minute == 0
        ticks.append((x_of(moment), moment.strftime("%b %d" if day else "%H:%M"), day))
    return ticks


def _clock(moment) -> str:
    return parse_time(moment).strftime("%b %d %H:%M") if moment else "?"


def _backup_title(backup: Backup) -> str:
    text = f"{backup.name}: " + (f"{backup.kind}, " if backup.kind else "") + \
        f"{backup.phase}, started {_clock(backup.started)}"
    return text + (f", gone from the bucket by {_clock(backup.gone)}" if backup.gone else "")


def _restore_text(restore: Restore, backup: Backup | None) -> str:
    what = f" ({backup.kind + ', ' if backup.kind else ''}{_clock(backup.time)})" if backup else ""
    return (f"backup {restore.backup}{what} restored on cluster {restore.cluster} at {_clock(restore.time)} "
            f"as {restore.name}: {restore.phase}")


def _summary(plan: Plan) -> str:
    backups = plan.backups
    kinds = ", ".join(f"{sum(_lane(b) == k for b in backups)} {LANES[k]}" for k in LANES
                      if any(_lane(b) == k for b in backups)) if any(b.kind for b in backups) else ""
    failed = sum(b.failed for b in backups)
    gone = sum(bool(b.gone) for b in backups)
    text = (_count(len(backups), "backup") + (f" ({kinds})" if kinds else "") + f": {len(backups) - gone} still in the "
            f"bucket, {gone} gone by retention" + (f", {failed} failed" if failed else ""))
    failed_restores = sum(r.failed for r in plan.restores)
    return text + f"; {_count(len(plan.restores), 'restore')}" + (f", {failed_restores} failed" if failed_restores else "") + "."


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}{'' if n == 1 else 's'}"
