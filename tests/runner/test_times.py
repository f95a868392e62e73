"""One timestamp parser for the runner and the steps (runner/times.py)."""
import datetime

import pytest

from runner.times import parse_time

UTC = datetime.timezone.utc


@pytest.mark.parametrize("value, expected", [
    ("2026-01-05T00:00:00Z", datetime.datetime(2026, 1, 5, tzinfo=UTC)),
    ("2026-01-05T02:30:00+02:30", datetime.datetime(2026, 1, 5, tzinfo=UTC)),
    ("2026-01-05T00:00:00.250000Z", datetime.datetime(2026, 1, 5, 0, 0, 0, 250000, tzinfo=UTC)),
    (datetime.datetime(2026, 1, 5, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=1))),
     datetime.datetime(2026, 1, 5, tzinfo=UTC)),
    (None, None), ("", None),
])
def test_rfc3339_text_and_datetimes_become_aware_utc(value, expected):
    assert parse_time(value) == expected
    if expected is not None:
        assert parse_time(value).tzinfo == UTC


def test_a_time_without_a_timezone_is_refused():
    with pytest.raises(ValueError, match="has no timezone"):
        parse_time("2026-01-05T00:00:00")
