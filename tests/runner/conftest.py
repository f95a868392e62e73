"""Shared fixtures: the project root, and throw-away copies of its data
(scenarios/, schemas/, features/, steps/, docs/, setup.cfg) for tests that edit them."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from runner_paths import ROOT
PROJECT_DATA = ["scenarios", "schemas", "features", "steps", "docs"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project's data files; the code under test is the real package."""
    root = tmp_path / "project"
    root.mkdir()
    for name in PROJECT_DATA:
        if (ROOT / name).exists():
            shutil.copytree(ROOT / name, root / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "setup.cfg", root / "setup.cfg")
    return root


@pytest.fixture
def edit_yaml():
    """edit_yaml(path, change): loads a YAML file, lets change(data) edit it, writes it back."""
    import yaml

    def edit(path: Path, change) -> None:
        data = yaml.safe_load(path.read_text())
        change(data)
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    return edit
