"""Fixtures for the driver tests: the step library imported from steps/,
and a lab started once per module for the round-trip tests."""
import pathlib
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
STEPS = REPO / "steps"


@pytest.fixture(scope="session")
def steplib():
    sys.path.insert(0, str(STEPS))
    try:
        import steplib as module
        yield module
    finally:
        sys.path.remove(str(STEPS))


@pytest.fixture(scope="module")
def lab_target(tmp_path_factory):
    from runner.targets import load_profile, open_target
    target = open_target(load_profile("lab"), tmp_path_factory.mktemp("lab") / "state")
    yield target
    target.stop()
