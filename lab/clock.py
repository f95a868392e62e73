"""The lab's virtual clock: object timestamps, schedules and TTLs read it,
never the wall clock, so days of schedules run in seconds."""
import datetime
import threading

DEFAULT_START = "2026-01-05T00:00:00Z"


def parse_time(text):
    """RFC 3339 (`2026-01-05T00:00:00Z`) -> aware UTC datetime."""
    moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"time {text!r} has no timezone (use a trailing Z)")
    return moment.astimezone(datetime.timezone.utc)


def format_time(moment):
    """Aware datetime -> `2026-01-05T00:00:00Z` (Kubernetes' format)."""
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class VirtualClock:
    """A clock that only moves when told to, and never backwards."""

    def __init__(self, start=DEFAULT_START):
        self._now = parse_time(start) if isinstance(start, str) else start.astimezone(datetime.timezone.utc)
        self._lock = threading.Lock()

    def now(self):
        with self._lock:
            return self._now

    def set(self, moment):
        with self._lock:
            if moment < self._now:
                raise ValueError(f"the clock never goes backwards ({format_time(moment)} < "
                                 f"{format_time(self._now)})")
            self._now = moment
