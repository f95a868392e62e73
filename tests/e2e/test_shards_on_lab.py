"""Two shards of a lab run, merged, give the same scenario set, verdicts and
counts as one run, on a small selection of the real suite (PSP's two
scenarios, the quickest story, and two SCHD short forms, which the lab does
not run by design). The whole suite was shown the same way in issue 22's
closing note."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TAGS = "@psp or (@short-form and @engine-cstor)"

pytestmark = pytest.mark.e2e


def dmaas(*args):
    return subprocess.run([sys.executable, "-m", "runner.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=20 * 60, env={**os.environ, "PYTHONPATH": str(ROOT)})


def report(run_dir):
    data = json.loads((run_dir / "report.json").read_text())
    scenarios = [(s["location"], s["name"], s["status"], s["reason"]) for f in data["features"] for s in f["scenarios"]]
    verdicts = {tcid: (v["status"], v["counts"], v["reason"]) for tcid, v in data["verdicts"].items()}
    return scenarios, verdicts, data["counts"]


def test_two_shards_merged_equal_one_run(tmp_path):
    single, shards = tmp_path / "single", tmp_path / "shards"
    one = dmaas("run", "--report-dir", str(single), "--tags", TAGS, "--jobs", "1")
    assert one.returncode == 0, one.stdout[-3000:] + one.stderr[-3000:]
    for i in (1, 2):
        part = dmaas("run", "--report-dir", str(shards), "--tags", TAGS, "--jobs", "1", "--shard", f"{i}/2")
        assert part.returncode == 0, part.stdout[-3000:] + part.stderr[-3000:]
        assert f"shard {i}/2: 2 of 4 scenarios" in part.stdout
    parts = sorted(shards.iterdir())
    merged = dmaas("report", "merge", "--report-dir", str(shards), *map(str, parts))
    assert merged.returncode == 0, merged.stdout[-3000:] + merged.stderr[-3000:]
    (merged_dir,) = set(shards.iterdir()) - set(parts)
    (single_dir,) = single.iterdir()
    scenarios, verdicts, counts = report(merged_dir)
    assert (scenarios, verdicts, counts) == report(single_dir)
    assert counts["passed"] == 2 and counts["not-for-target"] == 2 and len(scenarios) == 4
    assert {tcid: v[0] for tcid, v in verdicts.items()} == {
        "TCID-DIR-DMAAS-PSP": "passed", "TCID-DIR-DMAAS-SCHD-CSTOR-AWS-BUCKET": "not-for-target",
        "TCID-DIR-DMAAS-SCHD-CSTOR-MINIO-BUCKET": "not-for-target"}
