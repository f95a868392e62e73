"""A new bucket profile is YAML only: added to scenarios/buckets.yaml and to
the SCHD matrix of a project copy, it validates, expands into new SCHD
features, and one of them passes on the lab, which serves it as an S3
endpoint of its own; nothing under runner/ or lab/ changes."""
import json
import subprocess
import sys

import pytest

from runner_paths import ROOT

pytestmark = pytest.mark.e2e      # one SCHD scenario on the lab (~25 s)


def _dmaas(project, *args, timeout=900):
    return subprocess.run([sys.executable, "-m", "runner.cli", "--root", str(project), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def test_a_bucket_profile_added_in_yaml_gives_schd_features_that_pass_on_the_lab(project, edit_yaml):
    edit_yaml(project / "scenarios/buckets.yaml", lambda data: data["buckets"].update(
        ceph={"title": "Ceph RGW", "client": "boto3", "bucket": "dmaas-ceph", "region": "us-east-1"}))
    edit_yaml(project / "scenarios/matrices.yaml",
              lambda data: data["matrices"]["schd"]["axes"]["bucket"].append("ceph"))
    expanded = _dmaas(project, "expand")
    assert expanded.returncode == 0, expanded.stderr
    new = sorted(p.name for p in (project / "features/generated").glob("*ceph*.feature"))
    assert new == [f"tcid-dir-dmaas-schd-{engine}-ceph-bucket.feature"
                   for engine in ("cstor", "jiva", "local-dev", "local-hp")]
    validated = _dmaas(project, "validate")
    assert validated.returncode == 0, validated.stdout + validated.stderr

    reports = project / "reports"
    ran = _dmaas(project, "run", "--tags", "@TCID-DIR-DMAAS-SCHD-CSTOR-CEPH-BUCKET", "--report-dir", str(reports))
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    (run_dir,) = list(reports.iterdir())
    report = json.loads((run_dir / "report.json").read_text())
    [scenario] = [s for f in report["features"] for s in f["scenarios"]]
    assert scenario["tcid"] == "TCID-DIR-DMAAS-SCHD-CSTOR-CEPH-BUCKET" and scenario["status"] == "passed"
    # the plan's backups went to the new profile's own endpoint
    steps = " ".join(step["name"] for step in scenario["steps"])
    assert '"ceph"' in steps
