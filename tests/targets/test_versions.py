"""Versions as vendors write them (runner/versions.py): a server's report
matches the release, the minor or the minimum a scenario or profile asks for."""
import pytest

from runner import versions

REPORTED_1_29_4 = ["1.29.4", "v1.29.4", "v1.29.4+k3s1", "v1.29.4-eks-5a2b3c1", "v1.29.4-gke.1043000",
                   "v1.29.4+rke2r1", "1.29.4-rc.1"]


@pytest.mark.parametrize("reported", REPORTED_1_29_4)
def test_a_vendor_build_of_a_release_is_that_release(reported):
    assert versions.release(reported) == (1, 29, 4)
    assert versions.normalize(reported) == "1.29.4"
    for asked in ("1.29.4", "1.29", ">=1.29", ">=1.29.4", "1.29 or later", "1.28+", ">=1.20.0"):
        assert versions.matches(reported, asked), (reported, asked)
    for asked in ("1.29.5", "1.29.3", "1.30", "1.2", ">=1.30", ">=1.29.5", "1.30 or later", "2.29.4"):
        assert not versions.matches(reported, asked), (reported, asked)


@pytest.mark.parametrize("reported", ["", None, "unknown (ConnectionError)", "1.29", "v1", "latest"])
def test_what_is_not_a_release_matches_nothing(reported):
    assert versions.release(reported) is None
    assert not versions.matches(reported, "1.29")


def test_a_minor_and_a_minimum_read_as_people_write_them():
    assert str(versions.parse_wanted("1.29")) == "1.29.x"
    assert str(versions.parse_wanted("1.29.4")) == "1.29.4"
    assert str(versions.parse_wanted(">=1.29")) == "1.29 or later"
    assert str(versions.parse_wanted("1.29 or later")) == "1.29 or later"
    assert versions.parse_wanted("1.29.x") is None and versions.parse_wanted("latest") is None
    assert versions.describe(">=1.25") == "1.25 or later"
    assert versions.matches("v1.16.2", "1.16") and not versions.matches("v1.12.4", ">=1.16")


def test_the_profile_schema_takes_what_the_matcher_reads():
    """A profile's version fields: every form parse_wanted reads except the step-only words."""
    import json
    import re
    from runner_paths import ROOT
    pattern = json.loads((ROOT / "schemas/target.schema.json").read_text())["$defs"]["wanted_version"]["pattern"]
    for text in ("1.29.4", "1.29", ">=1.29", ">=1.29.4"):
        assert re.fullmatch(pattern, text) and versions.parse_wanted(text), text
    for text in ("1.29.x", "v1.29", "1", "latest"):
        assert not re.fullmatch(pattern, text), text
