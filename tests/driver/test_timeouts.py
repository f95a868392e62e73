"""Every wait's limit comes from runner/driver/timeouts.py, a profile's
`timeouts:` overrides it, and a wait that runs out names the setting."""
import json
from pathlib import Path

import pytest

from runner.driver import timeouts
from runner.driver.waits import WaitTimeout, wait_until
from runner.targets import TargetError, load_profile

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def defaults():
    yield
    timeouts.configure(None)


def test_the_schema_allows_exactly_the_limits_the_driver_has():
    schema = json.loads((ROOT / "schemas/target.schema.json").read_text())
    assert set(schema["properties"]["timeouts"]["properties"]) == set(timeouts.DEFAULTS)


def test_a_profile_override_sets_the_limit_and_the_message_names_it(tmp_path):
    profile = tmp_path / "slow.yaml"
    profile.write_text("kind: lab\ntimeouts: {backup: 0.05}\n")
    timeouts.configure(load_profile(profile).data.get("timeouts"))
    assert timeouts.seconds("backup") == 0.05 and timeouts.seconds("restore") == timeouts.DEFAULTS["restore"]
    with pytest.raises(WaitTimeout, match=r"^timed out after 0.05 s waiting for Backup b to complete "
                                          r"\(timeouts.backup\)$"):
        wait_until("Backup b to complete", lambda: False, "backup")


def test_seconds_given_as_a_number_stand_for_themselves():
    with pytest.raises(WaitTimeout, match=r"^timed out after 0.01 s waiting for x$"):
        wait_until("x", lambda: False, 0.01)


@pytest.mark.parametrize("body, field", [("timeouts: {bakup: 10}", "timeouts"),
                                         ("timeouts: {backup: 0}", "timeouts.backup")])
def test_a_bad_timeouts_entry_names_the_profile_and_field(tmp_path, body, field):
    profile = tmp_path / "bad.yaml"
    profile.write_text(f"kind: lab\n{body}\n")
    with pytest.raises(TargetError, match=rf"bad.yaml: {field}: "):
        load_profile(profile)
