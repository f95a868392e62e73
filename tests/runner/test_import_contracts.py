"""The architecture's import rules hold (setup.cfg [importlinter]): the lab
never imports the runner, and the runner reaches the lab only through
lab.process, to start it."""
import shutil
import subprocess

import pytest

from runner_paths import ROOT


def test_import_contracts_are_kept():
    lint = shutil.which("lint-imports")
    if lint is None:
        pytest.fail("lint-imports is missing: `pip install -e .[test]` (scripts/setup.sh) installs import-linter")
    done = subprocess.run([lint, "--config", str(ROOT / "setup.cfg")], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0 and "0 broken" in done.stdout, done.stdout[-3000:] + done.stderr[-2000:]
