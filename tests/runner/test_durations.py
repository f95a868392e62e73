"""One duration grammar (runner/durations.py): the parser the steps and the
DMaaS layer use and the pattern of schemas/plans.schema.json accept exactly
the same strings."""
import json

import jsonschema
import pytest
from runner_paths import ROOT

from runner.durations import PATTERN, parse_duration

# (text, seconds or None when the grammar rejects it)
TABLE = [
    ("1h", 3600), ("72h", 72 * 3600), ("168h", 168 * 3600), ("24h", 86400), ("30m", 1800), ("3d", 3 * 86400),
    ("30s", 30), ("2w", 14 * 86400), ("80 hours", 80 * 3600), ("48 hours", 48 * 3600), ("3 days", 3 * 86400),
    ("1 day", 86400), ("15 minutes", 900), ("1 minute", 60), ("45 seconds", 45), ("10 sec", 10), ("5 min", 300),
    ("2 weeks", 14 * 86400), ("an hour", 3600), ("a day", 86400), ("a minute", 60), ("a week", 604800),
    ("1 hours", 3600), ("12 h", 12 * 3600),
    ("", None), ("h", None), ("hours", None), ("h1", None), ("0h", None), ("0 hours", None), ("01h", None),
    ("-2 hours", None), ("1.5h", None), ("3 fortnights", None), ("7x", None), ("3600", None), (" 1h", None),
    ("1h ", None), ("1  h", None), ("1H", None), ("3 Days", None), ("an hours", None), ("a h", None),
    ("ah", None), ("an", None), ("1h30m", None), ("1 hour and 5 minutes", None), ("72h0m0s", None),
]


def schema():
    return json.loads((ROOT / "schemas" / "plans.schema.json").read_text())


def schema_accepts(text):
    """Whether plans.yaml may give `text` as a plan's every, retention and run_for."""
    plan = {"every": text, "full_every": 1, "retention": text, "run_for": text}
    return jsonschema.Draft202012Validator(schema()).is_valid({"plans": {"p": plan}})


def parser_accepts(text):
    try:
        parse_duration(text)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("text, seconds", TABLE)
def test_parser_and_schema_agree(text, seconds):
    assert parser_accepts(text) == schema_accepts(text) == (seconds is not None), text
    if seconds is not None:
        assert parse_duration(text) == seconds


def test_the_schema_pattern_is_the_grammar():
    assert schema()["$defs"]["duration"]["pattern"] == f"^{PATTERN}$"


@pytest.mark.parametrize("value", [3600, None, ["1h"]])
def test_non_strings_are_not_durations(value):
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(value)
    assert not schema_accepts(value)
