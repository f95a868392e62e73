"""Choosing a plan's restore point (pure)."""
import datetime

import pytest

from runner.dmaas import restore_points
from runner.dmaas.records import BackupRecord

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
DAY = 86400


def hourly(hours, kept_hours=None):
    """Backups b0..b{hours-1}, one an hour, given out of order; each expires `kept_hours` after it started."""
    backups = []
    for h in reversed(range(hours)):
        started = T0 + datetime.timedelta(hours=h)
        expires = started + datetime.timedelta(hours=kept_hours) if kept_hours else None
        backups.append(BackupRecord(f"b{h}", "minio", started, started, "Completed", "full", expires=expires))
    return backups


def choose(backups, which, until=None):
    return restore_points.choose(backups, which, DAY, until).name


def test_oldest_latest_and_a_day_before_the_latest():
    backups = hourly(30)
    assert choose(backups, "oldest") == "b0"
    assert choose(backups, "latest") == "b29"
    assert choose(backups, "latest-but-one day's") == "b5"     # 29 - 24


def test_a_day_before_needs_a_backup_that_old():
    with pytest.raises(restore_points.NoRestorePoint, match=r"no backup a day older than the latest \(b23\)"):
        choose(hourly(24), "latest-but-one day's")


def test_where_time_is_real_only_backups_that_outlive_the_restore():
    backups = hourly(30, kept_hours=10)
    # now is hour 29: b19 expires at 29:00, b20 at 30:00; the restore and a GC pass end at 29:03 + 60 s
    until = restore_points.outlive_until(T0 + datetime.timedelta(hours=29), gc_period=60)
    assert until == T0 + datetime.timedelta(hours=29, seconds=restore_points.RESTORE_LIFETIME + 60)
    assert choose(backups, "oldest", until) == "b20"
    with pytest.raises(restore_points.NoRestorePoint, match="no backup a day older"):
        choose(backups, "latest-but-one day's", until)
    with pytest.raises(restore_points.NoRestorePoint, match="every backup expires before 12:00:00"):
        choose(backups, "latest", T0 + datetime.timedelta(days=2, hours=12))


def test_no_backup_and_an_unknown_choice():
    with pytest.raises(restore_points.NoRestorePoint, match="no completed backup"):
        choose([], "latest")
    with pytest.raises(ValueError, match="unknown backup choice 'newest'"):
        choose(hourly(2), "newest")
