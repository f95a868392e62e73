"""Scenario time.

    Clock(target)                      # driver.clock
    .now() -> aware UTC datetime       # lab: the virtual clock; real: wall clock
    .advance(seconds) -> now           # lab: POST /clock/advance; real: waits seconds * time_scale
    .passage(total) -> Passage         # time passing in steps: .advance(seconds) -> the time reached
    .time_scale -> float               # real seconds per scenario second (1.0 on the lab)
    .scaled(seconds) -> float          # a scenario duration in the target's seconds; what a
                                       # DMaaS layer uses to turn "every 1h" into a real cron/TTL
"""
import sys
import time

from runner.durations import format_duration


class Clock:
    def __init__(self, target):
        self._target = target

    @property
    def time_scale(self):
        return self._target.time_scale

    @property
    def real_time(self):
        """Whether advancing waits real time (scaled) rather than moving a virtual clock."""
        return self._target.real_time

    def scaled(self, seconds):
        return seconds * self.time_scale

    def now(self):
        return self._target.now()

    def advance(self, seconds, until=None):
        """`until` (monotonic): where a waiting target's wait ends instead (a Passage's deadline)."""
        if seconds < 0:
            raise ValueError(f"time never goes backwards (advance by {seconds} s)")
        return self._target.advance(seconds, until=until)

    def passage(self, total=None):
        """`total`: the scenario seconds the passage will take, for its progress lines."""
        return Passage(self, total)


class Passage:
    """Scenario time passing in several steps with work between them (the
    applications write, backups are observed). On a real target each step
    waits until the passage's own deadline, not a full step from its call:
    the work between steps is part of the waiting, so N scenario hours end
    N scaled hours after the passage began, as the clusters' schedules count
    them. On the lab the virtual clock stands still during that work anyway.
    Where time is real, each step prints one progress line to stderr."""

    def __init__(self, clock, total=None):
        self._clock = clock
        self._began = time.monotonic()
        self._total = 0.0
        self._planned = total

    def advance(self, seconds):
        self._total += seconds
        deadline = self._began + self._clock.scaled(self._total)
        if self._clock.real_time:
            planned = max(self._planned or 0, self._total)
            left = self._began + self._clock.scaled(planned) - time.monotonic()
            print(f"[clock] scenario time passing to {format_duration(self._total)} of {format_duration(planned)}, "
                  f"{format_duration(max(0.0, left))} of real waiting left", file=sys.stderr, flush=True)
        return self._clock.advance(seconds, until=deadline)

