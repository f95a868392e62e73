"""Shards and merges: `dmaas run --shard I/N` runs a deterministic,
balanced part of the selection (the parts disjoint and covering it);
`dmaas report merge` of the shards writes the reports one run over the same
scenarios writes (a failed shard's diagnostics included), names what no
shard ran, and merges runs on two targets (recorded fixtures of the lab and
of the real stack) into the TCID x target view."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import pytest
from chromium import dump_dom, needs_chromium
from runner_paths import FIXTURES, ROOT
from test_cli_run import _content, _junit_cases, _timeless, small_project  # noqa: F401 -- the probe project

from runner import cli, features
from runner.run import Options, shard_of
from runner.workers import past_durations

# ------------------------------------------------------------------ shard selection


def _past_report(reports: Path, folder: str, durations: dict[str, float], target: str = "lab",
                 shard: bool = False) -> None:
    (reports / folder).mkdir(parents=True)
    (reports / folder / "report.json").write_text(json.dumps({"target": target, "features": [{"scenarios": [
        {"name": name, "status": "passed", "duration": seconds} for name, seconds in durations.items()]}],
        **({"shard": {"index": 1, "count": 2}} if shard else {})}))


@pytest.mark.parametrize("with_durations", [False, True], ids=["guessed", "from-an-earlier-report"])
def test_shards_are_deterministic_disjoint_covering_and_balanced(tmp_path, with_durations):
    selection = features.scenario_index(ROOT, [])
    model_ = SimpleNamespace(engines={"cstor": {"backup": "snapshot"}, "jiva": {"backup": "fs"},
                                      "local-dev": {"backup": "fs"}, "local-hp": {"backup": "fs"}})
    profile = {"kind": "lab", "skip_tags": {"short-form": "the lab runs the long form"}}
    durations = {e.name: float(5 + (i * 37) % 90) for i, e in enumerate(selection)}
    if with_durations:
        _past_report(tmp_path, "lab", durations)
        # newer, and no part of the lab's durations: a real-stack run's, and a shard's (its merge has them)
        _past_report(tmp_path, "real", {e.name: 9999.0 for e in selection}, target="realstack")
        _past_report(tmp_path, "shard", {e.name: 1.0 for e in selection}, shard=True)
        os.utime(tmp_path / "lab" / "report.json", (1, 1))
        assert past_durations(tmp_path, "lab") == durations
    for count in (1, 2, 3, 5):
        shards = [shard_of(selection, Options(root=ROOT, tags=[], shard=(i, count)), profile, tmp_path, model_)
                  for i in range(1, count + 1)]
        again = [shard_of(selection, Options(root=ROOT, tags=[], shard=(i, count)), profile, tmp_path, model_)
                 for i in range(1, count + 1)]
        assert shards == again                                            # deterministic
        locations = [e.location for shard in shards for e in shard]
        assert sorted(locations) == sorted(e.location for e in selection)   # disjoint and covering
        for shard in shards:                                                # each in serial order
            assert [e.location for e in shard] == [e.location for e in selection if e in shard]
        if with_durations and count > 1:                                    # balanced by the lab's durations
            loads = [sum(durations[e.name] for e in shard if "short-form" not in e.tags) for shard in shards]
            assert max(loads) - min(loads) <= max(durations.values())
    many = [shard_of(selection[:2], Options(root=ROOT, tags=[], shard=(i, 3)), profile, tmp_path, model_)
            for i in (1, 2, 3)]
    assert [len(s) for s in many] == [1, 1, 0]                            # more parts than scenarios


def test_the_serial_key_orders_scenarios_as_a_serial_run_takes_them():
    locations = [e.location for e in features.scenario_index(ROOT, [])]
    assert sorted(locations, key=features.serial_key) == locations


@pytest.mark.parametrize("text", ["0/2", "3/2", "1", "a/b", "1/0", "1/-2"])
def test_a_bad_shard_is_bad_input(text, capsys):
    assert cli.main(["--root", str(ROOT), "run", "--shard", text]) == 2
    assert f"--shard {text}: expected I/N with 1 <= I <= N" in capsys.readouterr().err


def test_a_shard_with_no_scenario_writes_an_empty_run_and_passes(small_project, capfd):
    reports = small_project / "reports"
    assert dmaas(small_project, "run", "--report-dir", str(reports), "--target", "example-real", "--tags", "@mysql",
                 "--shard", "2/2") == 0
    assert "shard 2/2: 0 of 1 scenarios" in capfd.readouterr().out
    report = json.loads((only_run(reports) / "report.json").read_text())
    assert report["shard"]["scenarios"] == [] and report["features"] == [] and not any(report["counts"].values())


# ------------------------------------------------------------------ shards merged = one run

ENVIRONMENT = '''
import os
from pathlib import Path
from runner.report.formatters import skip_not_for_target


def before_scenario(context, scenario):
    if "short-form" in scenario.effective_tags:     # as a profile's skip_tags (features/environment.py)
        skip_not_for_target(scenario, "not run on target 'example-real' (@short-form): the long form runs here")


def after_scenario(context, scenario):
    if scenario.status.name == "failed":             # as features/environment.py collects diagnostics
        folder = Path(os.environ["DMAAS_REPORT_DIR"], "diagnostics", "probe-" + scenario.name.split()[-1])
        folder.mkdir(parents=True)
        (folder / "events.txt").write_text("what the cluster said before " + scenario.name)
        scenario.diagnostics_dir = "diagnostics/" + folder.name
'''

FORMS = '''@probe @forms @TCID-DIR-DMAAS-SCHD-CSTOR-MINIO-BUCKET @schd @engine-cstor @bucket-minio
Feature: TCID-DIR-DMAAS-SCHD-CSTOR-MINIO-BUCKET
  A story in two forms.

  @long-form
  Scenario: TCID-DIR-DMAAS-SCHD-CSTOR-MINIO-BUCKET long
    Given a passing step

  @short-form
  Scenario: TCID-DIR-DMAAS-SCHD-CSTOR-MINIO-BUCKET short
    Given a passing step
'''
TAGS = "@mysql or @cortex or @psp or @forms"


def dmaas(root: Path, *args: str) -> int:
    return cli.main(["--root", str(root), *args])


def only_run(reports: Path, besides=()) -> Path:
    (found,) = [d for d in reports.iterdir() if d not in besides]
    return found


@pytest.fixture
def sharded(small_project, capfd):
    """One run of TAGS, and its two shards merged, each in a reports folder of its own."""
    root = small_project
    (root / "features/environment.py").write_text(ENVIRONMENT)
    (root / "features/forms.feature").write_text(FORMS)
    single, shards = root / "single", root / "shards"
    assert dmaas(root, "run", "--report-dir", str(single), "--target", "example-real", "--tags", TAGS) == 1
    codes = [dmaas(root, "run", "--report-dir", str(shards), "--target", "example-real", "--tags", TAGS,
                   "--shard", f"{i}/2") for i in (1, 2)]
    # by shard index: two runs started in one second have run ids that sort by their random suffix
    parts = sorted(shards.iterdir(), key=lambda p: json.loads((p / "run.json").read_text())["shard"]["index"])
    out = capfd.readouterr().out
    assert sorted(codes) == [0, 1], out                      # the shard that ran the failing scenario fails
    assert "shard 1/2: " in out and "shard 2/2: " in out
    assert dmaas(root, "report", "merge", "--report-dir", str(shards), *[p.name for p in parts]) == 1
    out = capfd.readouterr().out
    return SimpleNamespace(single=only_run(single), parts=parts, merged=only_run(shards, parts), out=out)


def test_two_shards_merged_write_the_reports_of_one_run(sharded):
    single, merged = sharded.single, sharded.merged
    shard_sets = [json.loads((p / "run.json").read_text())["shard"]["scenarios"] for p in sharded.parts]
    assert all(shard_sets) and not set(shard_sets[0]) & set(shard_sets[1])
    report = json.loads((merged / "report.json").read_text())
    assert report["merged_from"] == [p.name for p in sharded.parts] and report["shard"] is None
    assert report["counts"] == {"passed": 2, "failed": 1, "error": 0, "undefined": 0, "skipped": 1,
                                "not-for-target": 1}
    assert report["verdicts"]["TCID-DIR-DMAAS-SCHD-CSTOR-MINIO-BUCKET"]["status"] == "passed"
    merged_content, single_content = _content(merged), _content(single)
    merged_content.pop("merged_from")
    single_content.pop("merged_from")
    assert merged_content == single_content                  # scenarios, steps, reasons, verdicts, counts, order
    assert _junit_cases(merged) == _junit_cases(single)
    suites = ET.parse(merged / "junit.xml").getroot()
    assert ET.tostring(ET.parse(single / "junit.xml").getroot()).count(b"<testcase") == 5
    assert (suites.get("tests"), suites.get("failures"), suites.get("skipped")) == ("5", "1", "2")
    for name in ("dmaas-test-strategy.md", "cucumber.json"):
        assert _timeless(_no_durations((merged / name).read_text())) == \
            _timeless(_no_durations((single / name).read_text())), name
    assert _html_body(merged) == _html_body(single)
    assert "1 not for this target" in sharded.out and "reports: " in sharded.out


def test_a_failed_shards_diagnostics_survive_the_merge(sharded):
    (failing,) = [p for p in sharded.parts if (p / "diagnostics").is_dir()]
    report = json.loads((sharded.merged / "report.json").read_text())
    (cortex,) = [s for f in report["features"] for s in f["scenarios"] if s["status"] == "failed"]
    assert cortex["diagnostics"] == "diagnostics/probe-fails"
    copied = sharded.merged / cortex["diagnostics"] / "events.txt"
    assert copied.read_text() == (failing / cortex["diagnostics"] / "events.txt").read_text()
    cucumber = json.loads((sharded.merged / "cucumber.json").read_text())
    embedded = [e["name"] for f in cucumber for s in f["elements"] for st in s["steps"] for e in st.get("embeddings", [])]
    assert embedded == ["events.txt"]


def test_a_shard_not_given_is_named_and_fails_the_merge(sharded, capfd):
    root = sharded.merged.parents[1]
    first = sharded.parts[0]
    assert dmaas(root, "report", "merge", "--report-dir", str(root / "partial"), str(first)) == 1
    err = capfd.readouterr().err
    missing = len(json.loads((sharded.parts[1] / "run.json").read_text())["shard"]["scenarios"])
    assert f"error: {missing} of the 5 scenarios the shards of 2 on example-real selected ran in none of the runs " \
           "merged (shards not given: 2/2): features/" in err


def test_bad_runs_to_merge_are_bad_input(sharded, capfd):
    root = sharded.merged.parents[1]
    assert dmaas(root, "report", "merge", "--report-dir", str(root / "x"), "no-such-run") == 2
    assert "error: report merge no-such-run: no run folder with a run.json at " in capfd.readouterr().err
    assert dmaas(root, "report", "merge", str(sharded.single), str(sharded.single)) == 2
    assert "error: report merge: a run is given twice" in capfd.readouterr().err
    assert not (root / "x").exists()


def _no_durations(text: str) -> str:
    return re.sub(r'"duration": \d+', '"duration": N', text)


def _html_body(run_dir: Path) -> str:
    """The page from the strategy on (the summary and history name runs and times), timeless."""
    page = (run_dir / "report.html").read_text()
    return _timeless(page[page.index('<h2 id="strategy">'):])


# ------------------------------------------------------------------ two targets

def _merge_the_recorded_targets(tmp_path: Path, capfd) -> Path:
    assert dmaas(ROOT, "report", "merge", "--report-dir", str(tmp_path), str(FIXTURES / "recorded_run"),
                 str(FIXTURES / "recorded_realstack_run")) == 1
    return only_run(tmp_path)


SIDE_BY_SIDE = {   # TCID: (lab, realstack, verdict over both)
    "TCID-DIR-DMAAS-CORTEX": ("failed", "failed", "failed"),
    "TCID-DIR-DMAAS-MYSQL": ("passed", "passed", "passed"),
    "TCID-DIR-DMAAS-PSP": ("skipped", "skipped", "skipped"),
    "TCID-DIR-DMAAS-SCHD-CSTOR-MINIO-BUCKET": ("passed", "passed", "passed"),
    "TCID-DIR-DMAAS-SCHD-JIVA-AWS-BUCKET": ("error", "error", "error"),
    "TCID-DIR-DMAAS-SCHD-LOCAL-HP-MINIO-BUCKET": ("undefined", "undefined", "undefined"),
}


def test_a_lab_run_and_a_real_stack_run_side_by_side(tmp_path, capfd):
    merged = _merge_the_recorded_targets(tmp_path, capfd)
    out = capfd.readouterr().out
    report = json.loads((merged / "report.json").read_text())
    assert report["targets"] == ["lab", "realstack"] and report["target"] == "lab + realstack"
    assert {tcid: (v["targets"]["lab"]["status"], v["targets"]["realstack"]["status"], v["status"])
            for tcid, v in report["verdicts"].items()} == SIDE_BY_SIDE
    schd = report["verdicts"]["TCID-DIR-DMAAS-SCHD-CSTOR-MINIO-BUCKET"]
    assert schd["counts"] == {"passed": 2, "not-for-target": 2}
    psp = report["verdicts"]["TCID-DIR-DMAAS-PSP"]["targets"]["realstack"]
    assert psp["text"].startswith("skipped (") and psp["reason"].startswith('cluster "modern"')
    # every scenario once per target, the forms of SCHD each for one target
    scenarios = [(s["target"], s["name"], s["status"]) for f in report["features"] for s in f["scenarios"]]
    assert len(scenarios) == 16
    assert [(t, st) for t, name, st in scenarios if "SCHD-CSTOR" in name] == [
        ("lab", "passed"), ("realstack", "not-for-target"), ("lab", "not-for-target"), ("realstack", "passed")]
    # the table on stdout, in the strategy markdown, and in junit with the target in each case's name
    table = [line for line in out.splitlines() if line.startswith("| TCID-DIR-DMAAS-SCHD-CSTOR")]
    assert re.fullmatch(r"\| TCID-DIR-DMAAS-SCHD-CSTOR-MINIO-BUCKET \| passed \(\d+\.\d s\) \| passed \(\d+\.\d s\) \|",
                        table[0])
    assert "| TCID | lab | realstack |" in out and "| TCID | lab | realstack |" in (merged / "dmaas-test-strategy.md").read_text()
    names = [c.get("name") for c in ET.parse(merged / "junit.xml").getroot().iter("testcase")]
    assert len(names) == len(set(names)) == 16 and all(n.endswith(("[lab]", "[realstack]")) for n in names)
    # bench/conformance.py reads the same runs through the same code and prints the same table
    bench = subprocess.run([sys.executable, "bench/conformance.py", "--report-dir", str(tmp_path / "bench"),
                            "--from", str(FIXTURES / "recorded_run"), "--from", str(FIXTURES / "recorded_realstack_run")],
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert table[0] in bench.stdout, bench.stdout + bench.stderr


@needs_chromium
def test_the_conformance_view_in_the_page(tmp_path, capfd):
    merged = _merge_the_recorded_targets(tmp_path, capfd)
    dom, console = dump_dom(merged / "report.html", tmp_path / "chromium")
    assert console == []
    table = re.search(r'<h2 id="conformance">.*?</table>', dom, re.S).group(0)
    assert re.findall(r"<th>([a-z]+)</th>", table) == ["lab", "realstack", "verdict"]
    rows = re.findall(r'<tr><th><a href="#(TCID-[A-Z0-9-]+)">.*?</tr>', table, re.S)
    assert rows == list(SIDE_BY_SIDE)
    for tcid, cells in SIDE_BY_SIDE.items():
        row = re.search(rf'<tr><th><a href="#{tcid}">.*?</tr>', table, re.S).group(0)
        assert tuple(re.findall(r'<td class="([\w-]+)">', row)) == cells, tcid
    schd = re.search(r'<tr><th><a href="#TCID-DIR-DMAAS-SCHD-CSTOR-MINIO-BUCKET">.*?</tr>', table, re.S).group(0)
    assert "not for this target" not in schd and "partly" not in dom
    # each target's forms not for it, named once each in the summary
    summary = dom[dom.index('id="summary"'):dom.index('id="conformance"')]
    assert "1 scenario on lab (not run on target 'lab' (@short-form)" in summary
    assert "1 scenario on realstack (not run on target 'realstack' (@long-form)" in summary
    # the details hold each scenario once per target, under anchors of their own
    assert len(re.findall(r'<div class="scenario [\w-]+" id="scenario-(lab|realstack)-', dom)) == 16
