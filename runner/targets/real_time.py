"""What a real clock makes impossible to check, known from a scenario's
words and the target's numbers before anything waits.

Where time is real, Velero's garbage collector deletes an expired backup at
its first pass after the expiry, up to `velero_gc_period` real seconds late,
which is period / time_scale of scenario time. So:

- a retention check ("only the backups of plan P from the last R remain")
  can find a backup too old only if scenario time before its cut exists:
  the time passed since the plan began must exceed R plus that lag
  (retention_check_can_fail);
- a "latest-but-one day's" restore point must be a day older than the
  latest and still outlive its restore and a GC pass
  (runner/dmaas/restore_points.py): the plan's retention must exceed a day
  plus that (day_old_restore_point_possible).

    retention_check_can_fail(retention, elapsed, gc_period, time_scale) -> bool
    day_old_restore_point_possible(retention, gc_period, time_scale) -> bool
    problems(steps, target) -> [reason]          # behave steps of one scenario
"""
from __future__ import annotations

import re

from runner import durations
from runner.dmaas.restore_points import RESTORE_LIFETIME
from runner.durations import format_duration

DAY = 86400
PASS = re.compile(rf"^({durations.PATTERN}) pass\b")
PLAN = re.compile(r'has a (?:data-only )?continuity plan "([^"]+)"')
RETENTION_CHECK = re.compile(rf'^only the backups of plan "([^"]+)" from the last ({durations.PATTERN}) remain\b')
DAY_BEFORE = re.compile(r"latest-but-one day's backup of plan \"([^\"]+)\"")


def lag(gc_period, time_scale):
    """Scenario seconds an expired backup may still be listed."""
    return gc_period / time_scale


def retention_check_can_fail(retention, elapsed, gc_period, time_scale):
    """Whether a backup older than `retention` (+ the GC lag) can exist after
    `elapsed` scenario seconds of the plan: only then can the check find one."""
    return elapsed > retention + lag(gc_period, time_scale)


def day_old_restore_point_possible(retention, gc_period, time_scale):
    """Whether a backup a day older than the latest can outlive a restore
    started now (its restore's own time and a GC pass, in scenario time)."""
    return retention > DAY + (RESTORE_LIFETIME + gc_period) / time_scale


def _advice(target):
    return (f"at time_scale {target.time_scale:g} with Velero's garbage collection every "
            f"{target.velero_gc_period:g} s (velero_gc_period, or the server's --garbage-collection-frequency), "
            f"an expired backup may stay {format_duration(lag(target.velero_gc_period, target.time_scale))} of "
            f"scenario time")


def problems(steps, target):
    """Why this scenario's retention checks or restore points cannot work on
    the target's real clock (nothing on a virtual one)."""
    if not target.real_time:
        return []
    found, retention, elapsed = [], {}, 0
    for step in steps:
        if (plan := PLAN.search(step.name)) and step.table:
            row = next((r for r in step.table if r.cells and r.cells[0].strip() == "retention"), None)
            if row is not None:
                retention[plan.group(1)] = durations.parse_duration(row.cells[1].strip())
        if passed := PASS.match(step.name):
            elapsed += durations.parse_duration(passed.group(1))
        if (check := RETENTION_CHECK.match(step.name)) and not retention_check_can_fail(
                durations.parse_duration(check.group(2)), elapsed, target.velero_gc_period, target.time_scale):
            found.append(f"the retention check of plan {check.group(1)} cannot fail here: {_advice(target)}, so "
                         f"after {format_duration(elapsed)} no backup can be older than its {check.group(2)} and "
                         f"that lag; lower Velero's garbage-collection frequency or raise time_scale")
        if (day := DAY_BEFORE.search(step.name)) and day.group(1) in retention and not \
                day_old_restore_point_possible(retention[day.group(1)], target.velero_gc_period, target.time_scale):
            found.append(f"no backup of plan {day.group(1)} a day older than the latest can outlive its restore: "
                         f"{_advice(target)}, beyond its {format_duration(retention[day.group(1)])} retention; "
                         f"lower Velero's garbage-collection frequency or raise time_scale")
    return found
