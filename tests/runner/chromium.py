"""Headless Chromium for the tests that check what a browser makes of a
report: the DOM it built and the console messages it logged."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="chromium is not installed at /usr/bin/chromium")


def dump_dom(page: Path, profile_dir: Path) -> tuple[str, list[str]]:
    """(the DOM Chromium built from the page, its console lines); nothing is fetched."""
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile_dir}", "--enable-logging=stderr", "--v=0"]
    result = subprocess.run([str(CHROMIUM), *flags, "--dump-dom", Path(page).as_uri()], capture_output=True,
                            text=True, timeout=90)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout, [line for line in result.stderr.splitlines() if "CONSOLE" in line]
