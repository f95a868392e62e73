"""Scenario time.

    Clock(target)                      # driver.clock
    .now() -> aware UTC datetime       # lab: the virtual clock; real: wall clock
    .advance(seconds) -> now           # lab: POST /clock/advance; real: waits seconds * time_scale
    .time_scale -> float               # real seconds per scenario second (1.0 on the lab)
    .scaled(seconds) -> float          # a scenario duration in the target's seconds; what a
                                       # DMaaS layer uses to turn "every 1h" into a real cron/TTL
"""


class Clock:
    def __init__(self, target):
        self._target = target

    @property
    def time_scale(self):
        return self._target.time_scale

    def scaled(self, seconds):
        return seconds * self.time_scale

    def now(self):
        return self._target.now()

    def advance(self, seconds):
        if seconds < 0:
            raise ValueError(f"time never goes backwards (advance by {seconds} s)")
        return self._target.advance(seconds)
