"""The one parser of the timestamps Kubernetes, Velero and the lab write
(RFC 3339, `2026-01-05T00:00:00Z`), for the runner and the steps. (The lab,
a separate program, has its own in lab/clock.py.)"""
from __future__ import annotations

import datetime


def parse_time(value) -> datetime.datetime | None:
    """RFC 3339 text, or a datetime, as an aware UTC datetime; None for None
    or ""; ValueError for a time without a timezone."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime.datetime):
        moment = value
    else:
        moment = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"time {value!r} has no timezone (RFC 3339 wants Z or an offset)")
    return moment.astimezone(datetime.timezone.utc)
