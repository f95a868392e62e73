"""The one duration grammar: what the features, the plan catalogue
(scenarios/plans.yaml, whose schema's `duration` pattern is this PATTERN
anchored) and the DMaaS layer's plan settings accept.

    <whole number> [space] <unit>     80 hours, 3 days, 1h, 72h, 15 minutes, 30s, 2 w
    a|an <unit, singular>             an hour, a day, a minute

Units: s, sec, second(s); m, min, minute(s); h, hour(s); d, day(s); w,
week(s). Amounts are whole and positive (a zero retention would silently
mean Velero's default TTL), lower case, no surrounding spaces.

    parse_duration("80 hours") -> 288000       # seconds; ValueError "not a duration: ..."
    format_duration(5400) -> "1.5 h"           # for progress lines: h, min or s, whichever reads best
    PATTERN                                    # the regex (no anchors, no groups) behave's
                                               # {x:Duration} and the schema use
"""
from __future__ import annotations

import re

UNITS = {
    "s": 1, "sec": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "week": 604800, "weeks": 604800,
}
PATTERN = (r"(?:[1-9][0-9]* ?(?:seconds?|sec|s|minutes?|min|m|hours?|h|days?|d|weeks?|w)"
           r"|an? (?:second|minute|hour|day|week))")
EXAMPLES = "e.g. 80 hours, 3 days, 1h, 72h, 15 minutes, an hour"
_PARTS = re.compile(r"([1-9][0-9]*|an?) ?([a-z]+)")


def parse_duration(text) -> int:
    """A duration in the grammar above -> seconds; anything else is a ValueError naming it."""
    if not isinstance(text, str) or not re.fullmatch(PATTERN, text):
        raise ValueError(f"not a duration: {text!r} ({EXAMPLES})")
    amount, unit = _PARTS.fullmatch(text).groups()
    return (1 if amount in ("a", "an") else int(amount)) * UNITS[unit]


def format_duration(seconds) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.3g} h"
    if seconds >= 120:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"
