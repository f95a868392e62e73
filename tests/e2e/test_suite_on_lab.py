"""The whole strategy, end to end, the way CI and QA run it.

`dmaas run` on the lab runs every TCID of the strategy and each one passes;
the suite through the real-target code path (`lab-as-real`: the lab's
kubeconfigs and endpoints used as a real target; every single story and one
SCHD and SOAK combination of each backup kind) gives the same result for
every scenario it can run there, and skips the others with their reason; no
lab process or state directory is left behind by either run.
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from chromium import dump_dom, needs_chromium

ROOT = Path(__file__).resolve().parents[2]
STRATEGY = ROOT / "docs" / "dmaas-test-strategy.md"

pytestmark = pytest.mark.e2e


def strategy_tcids():
    return set(re.findall(r"\[(TCID-DIR-DMAAS-[A-Z0-9-]+)\]", STRATEGY.read_text()))


def lab_processes_under(path):
    """PIDs of `python -m lab serve` processes whose state dir is under path."""
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    return [line.split()[0] for line in out.splitlines() if "lab serve" in line and str(path) in line]


def dmaas_run(report_root, *args):
    proc = subprocess.run([sys.executable, "-m", "runner.cli", "run", "--report-dir", str(report_root), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=45 * 60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    runs = sorted(p for p in report_root.iterdir() if p.is_dir())
    assert runs, f"dmaas run wrote no report under {report_root}:\n{proc.stdout}\n{proc.stderr}"
    report = json.loads((runs[-1] / "report.json").read_text())
    scenarios = {s["name"]: s for f in report["features"] for s in f["scenarios"]}
    return proc, runs[-1], scenarios


@pytest.fixture(scope="module")
def lab_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab-run")
    return (root, *dmaas_run(root))


def test_every_tcid_of_the_strategy_passes_on_the_lab(lab_run):
    root, proc, run_dir, scenarios = lab_run
    # SCHD's and SOAK's short forms are for targets with real time; the lab skips them by design, saying so
    short = {name for name, s in scenarios.items()
             if s["status"] == "not-for-target" and "(@short-form)" in (s.get("skip_reason") or "")}
    assert len(short) == 14, f"expected the 8 SCHD and 6 SOAK short forms skipped, found {sorted(short)}"
    not_passed = {name: (s["status"], s.get("reason")) for name, s in scenarios.items()
                  if s["status"] != "passed" and name not in short}
    assert not not_passed, f"scenarios that did not pass on the lab: {not_passed}\n{proc.stdout[-3000:]}"
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ran = {s["tcid"] for s in scenarios.values()}
    assert ran == strategy_tcids(), f"missing: {strategy_tcids() - ran}, unknown: {ran - strategy_tcids()}"
    assert len(strategy_tcids()) == 23


@needs_chromium
def test_the_lab_runs_page_shows_every_tcid_green_and_no_partly_passed_cell(lab_run, tmp_path):
    """Each SCHD TCID passed in its long form, the lab's; its short form is for targets with real time."""
    root, proc, run_dir, scenarios = lab_run
    dom, console = dump_dom(run_dir / "report.html", tmp_path / "chromium")
    assert console == []
    assert "partly" not in dom
    strategy = dom[dom.index('id="strategy"'):dom.index('id="details"')]
    cells = {tcid: status for status, tcid in re.findall(r'<td class="([\w-]+)"><a href="#(TCID-[A-Z0-9-]+)" '
                                                         r'class="badge">', strategy)}
    assert cells == dict.fromkeys(strategy_tcids(), "passed")
    grid = re.search(r'<h2 id="schd-grid">.*?</table>', dom, re.S).group(0)
    assert re.findall(r'<td class="([\w-]+)">', grid) == ["passed"] * 8
    history = re.search(r'<table class="history">.*?</table>', dom, re.S).group(0)
    assert set(re.findall(r'<td class="([\w-]+)" title=', history)) == {"passed"}


def test_the_lab_run_leaves_nothing_behind(lab_run):
    root, proc, run_dir, scenarios = lab_run
    assert not lab_processes_under(root), "a lab process of the run is still alive"
    assert not (run_dir / "lab").exists(), f"the lab's state dir {run_dir / 'lab'} was left behind"
    for name in ("report.html", "junit.xml", "report.json", "dmaas-test-strategy.md"):
        assert (run_dir / name).is_file(), f"the run wrote no {name}"
    assert not (run_dir / "diagnostics").exists() or not any((run_dir / "diagnostics").iterdir()), \
        "diagnostics were collected although every scenario passed"


# Every single-story scenario plus one SCHD and one SOAK combination: the
# other 12 matrix scenarios take the same code paths with another engine,
# bucket or application, and would double CI's time. Run the whole suite with
# `dmaas run --target lab-as-real`.
REAL_PATH_TAGS = ("not @schd or @TCID-DIR-DMAAS-SCHD-CSTOR-MINIO-BUCKET or @TCID-DIR-DMAAS-SCHD-JIVA-AWS-BUCKET "
                  "or @TCID-DIR-DMAAS-SCHD-SOAK-NGINX")


def test_the_real_target_code_path_gives_the_same_results(lab_run, tmp_path):
    _, _, _, on_lab = lab_run
    proc, run_dir, as_real = dmaas_run(tmp_path, "--target", "lab-as-real", "--tags", REAL_PATH_TAGS)
    assert set(as_real) <= set(on_lab), f"lab-as-real ran scenarios the lab did not: {set(as_real) - set(on_lab)}"
    # left out: 6 SCHD features and 5 SOAKs, of two forms each
    assert len(as_real) == len(on_lab) - 22, f"the tags selected {len(as_real)} of the lab's {len(on_lab)} scenarios"
    ran = {name for name, s in as_real.items() if s["status"] not in ("skipped", "not-for-target")}
    different = {name: (as_real[name]["status"], as_real[name].get("reason"))
                 for name in ran if as_real[name]["status"] != on_lab[name]["status"]}
    assert not different, f"results differ from the lab run: {different}"
    for name, s in as_real.items():
        if s["status"] in ("skipped", "not-for-target"):
            assert s.get("skip_reason"), f"{name} was skipped on lab-as-real without a reason"
    # Only scenarios needing what a real target cannot do (create/destroy a
    # cluster, faults, a second version of one cluster: SOURCE-CLUSTER-GONE on
    # each of its two engines among them) may be skipped, and the short forms
    # of the two SCHD features and the SOAK (the lab's clock runs the long ones).
    assert len(ran) >= len(as_real) - 7, f"too few scenarios ran on lab-as-real: {len(ran)} of {len(as_real)}"
    assert not lab_processes_under(tmp_path), "a lab process of the lab-as-real run is still alive"
