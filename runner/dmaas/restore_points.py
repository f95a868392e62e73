"""Which of a plan's backups a restore uses: the oldest, the latest, or the
newest one at least a day older than the latest ("latest-but-one day's").

Where time is real, the plan's retention keeps expiring its oldest backups
and Velero's garbage collector deletes them, kopia snapshots included, while
a restore runs; a restore point must outlive its restore. On the lab the
clock stands still while a restore runs, so every listed backup does.

    choose(backups, which, day_seconds, outlive_until=None) -> BackupRecord
"""
from __future__ import annotations

import datetime

from runner.times import parse_time

CHOICES = ("oldest", "latest", "latest-but-one day's")

# real seconds a restore needs its backup to stay in the bucket (tarball, then the kopia snapshots)
RESTORE_LIFETIME = 180


class NoRestorePoint(Exception):
    """No backup fits the choice; the message says why."""


def outlive_until(now, gc_period):
    """The time a restore point started now must still exist at: the restore's
    own lifetime, plus one pass of Velero's garbage collector (which deletes
    at its first pass after expiration, not at expiration)."""
    return now + datetime.timedelta(seconds=RESTORE_LIFETIME + gc_period)


def choose(backups, which, day_seconds, outlive_until=None):
    """The backup `which` names among `backups` (completed ones); those that
    expire before `outlive_until` (when given) are left out."""
    if which not in CHOICES:
        raise ValueError(f"unknown backup choice {which!r}: expected one of {', '.join(CHOICES)}")
    backups = sorted(backups, key=lambda b: parse_time(b.started))
    if not backups:
        raise NoRestorePoint("no completed backup")
    if outlive_until is not None:
        backups = [b for b in backups if b.expires is None or b.expires > outlive_until]
        if not backups:
            raise NoRestorePoint(f"every backup expires before {outlive_until:%H:%M:%S}, too soon to restore")
    if which == "oldest":
        return backups[0]
    if which == "latest":
        return backups[-1]
    latest = parse_time(backups[-1].started)
    earlier = [b for b in backups if parse_time(b.started) <= latest - datetime.timedelta(seconds=day_seconds)]
    if not earlier:
        raise NoRestorePoint(f"no backup a day older than the latest ({backups[-1].name})")
    return earlier[-1]
