"""Fixtures for the real-stack tests (marker `realstack`).

They need the binaries of `dmaas realstack build`. Without them the tests
skip with that reason, unless DMAAS_REALSTACK_REQUIRED=1 (.ci/run builds
first and sets it), where a missing build is a failure.
"""
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.realstack)


def _built_or_skip():
    from runner.errors import UserError
    from runner.realstack import build
    try:
        return build.bin_dir(ROOT)
    except UserError as error:
        if os.environ.get("DMAAS_REALSTACK_REQUIRED") == "1":
            pytest.fail(error.message)
        pytest.skip(error.message)


@pytest.fixture(scope="session")
def realstack_built():
    """The bin dir of the pinned build (skip, or fail in CI, when it is missing)."""
    return _built_or_skip()


@pytest.fixture(scope="session")
def stack(realstack_built, tmp_path_factory):
    """Two clusters (backup, restore) for the whole session; down at the end.
    With $DMAAS_REALSTACK_DIR set, the stack a `dmaas realstack up` keeps
    running there instead (left running: for working on these tests)."""
    from runner.realstack.stack import Stack
    attached = os.environ.get("DMAAS_REALSTACK_DIR")
    if attached:
        yield Stack(ROOT, Path(attached)).state()
        return
    handle = Stack(ROOT, tmp_path_factory.mktemp("realstack") / "state")
    state = handle.up()
    yield state
    handle.down()
