"""A new bucket profile or storage engine is YAML only: added to
scenarios/buckets.yaml or engines.yaml and to the SCHD matrix of a project
copy, it validates, expands into new SCHD features, and one of them passes
on the lab, which serves the profile as an S3 endpoint of its own and the
engine as a StorageClass whose volumes it provisions and backs up as the
entry says; nothing under runner/ or lab/ changes."""
import json
import subprocess
import sys

import pytest

from runner_paths import ROOT

pytestmark = pytest.mark.e2e      # one SCHD scenario on the lab per test (~25 s)


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

    scenario = _passes_on_the_lab(project, "TCID-DIR-DMAAS-SCHD-CSTOR-CEPH-BUCKET")
    # the plan's backups went to the new profile's own endpoint
    steps = " ".join(step["name"] for step in scenario["steps"])
    assert '"ceph"' in steps


def test_an_engine_added_in_yaml_gives_schd_features_that_pass_on_the_lab(project, edit_yaml):
    """A ZFS-LocalPV-like engine: a CSI driver and a StorageClass no code
    knows, backed up by snapshot chains."""
    edit_yaml(project / "scenarios/engines.yaml", lambda data: data["engines"].update({"zfs-local": {
        "title": "ZFS LocalPV", "storage_class": "openebs-zfspv", "provisioner": "zfs.csi.openebs.io",
        "parameters": {"poolname": "zfspv-pool", "fstype": "zfs"}, "volume": "csi", "backup": "snapshot"}}))
    edit_yaml(project / "scenarios/matrices.yaml",
              lambda data: data["matrices"]["schd"]["axes"]["engine"].append("zfs-local"))
    expanded = _dmaas(project, "expand")
    assert expanded.returncode == 0, expanded.stderr
    new = sorted(p.name for p in (project / "features/generated").glob("*zfs-local*.feature"))
    assert new == [f"tcid-dir-dmaas-schd-zfs-local-{bucket}-bucket.feature" for bucket in ("aws", "minio")]
    validated = _dmaas(project, "validate")
    assert validated.returncode == 0, validated.stdout + validated.stderr

    scenario = _passes_on_the_lab(project, "TCID-DIR-DMAAS-SCHD-ZFS-LOCAL-MINIO-BUCKET")
    assert "ZFS LocalPV volumes" in scenario["name"]
    steps = " ".join(step["name"] for step in scenario["steps"])
    assert 'on "zfs-local" volumes' in steps


def _passes_on_the_lab(project, tcid):
    """Runs one TCID of the project copy on the lab -> its report.json scenario, which passed."""
    reports = project / "reports"
    ran = _dmaas(project, "run", "--tags", f"@{tcid}", "--report-dir", str(reports))
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    (run_dir,) = list(reports.iterdir())
    report = json.loads((run_dir / "report.json").read_text())
    scenarios = [s for f in report["features"] for s in f["scenarios"]]
    # the feature's short form is not for the lab (skip_tags); its long form runs
    [scenario] = [s for s in scenarios if s["status"] not in ("skipped", "not-for-target")]
    assert all(s["tcid"] == tcid for s in scenarios) and len(scenarios) == 2
    assert scenario["status"] == "passed"
    return scenario
