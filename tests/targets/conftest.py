"""Fixtures for the targets package's tests: a lab for the module, whose
clusters stand in for a team's clusters reached as a `kind: real` profile."""
import pytest


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    from runner.targets import load_profile
    from runner.targets.lab import LabTarget
    target = LabTarget.open(load_profile("lab"), tmp_path_factory.mktemp("lab") / "state")
    yield target
    target.stop()
