"""Reports rendered from a recorded behave run (fixtures/recorded_run: behave's
json + dmaas's extras from fixtures/mini, with passed, failed, errored,
undefined and skipped scenarios, and a SCHD short form the target does not
run by design): JUnit parses, JSON has every field and each TCID's verdict,
the strategy markdown and HTML have every Status cell filled, no secret
leaks, and the HTML loads in headless Chromium without console errors, with
the timeline of the SCHD plans, the history strip of an earlier run, and the
SCHD TCID whose long form passed green, in the grid too."""
from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from chromium import dump_dom, needs_chromium
from runner_paths import FIXTURES, ROOT

from runner import strategy
from runner.report import model, write_all
from runner.report.model import Run, Scenario

SECRETS = ["hunter2", "AKIAFIXTURE123", "FIXTURE-SECRET-VALUE", "FIXTURE-TOKEN-VALUE"]
RUN_TCIDS = {"TCID-DIR-DMAAS-MYSQL": "passed", "TCID-DIR-DMAAS-CORTEX": "failed", "TCID-DIR-DMAAS-PSP": "skipped",
             "TCID-DIR-DMAAS-SCHD-CSTOR-MINIO-BUCKET": "passed", "TCID-DIR-DMAAS-SCHD-JIVA-AWS-BUCKET": "error",
             "TCID-DIR-DMAAS-SCHD-LOCAL-HP-MINIO-BUCKET": "undefined"}


EARLIER_RUN = "20260104T000000Z-earlier"


@pytest.fixture
def rendered(tmp_path: Path) -> Path:
    run_dir = tmp_path / "20260105T000000Z-abc123"
    shutil.copytree(FIXTURES / "recorded_run", run_dir)
    model.sanitize_behave_json(run_dir / model.BEHAVE_JSON)
    earlier = model.load_run(run_dir).to_dict()     # the same run a day earlier, in the same reports folder
    earlier.update(run_id=EARLIER_RUN, started="2026-01-04T00:00:00Z", finished="2026-01-04T00:00:09Z")
    (tmp_path / EARLIER_RUN).mkdir()
    (tmp_path / EARLIER_RUN / "report.json").write_text(json.dumps(earlier))
    write_all(model.load_run(run_dir), run_dir, strategy.read(ROOT))
    return run_dir


def test_model_of_the_recorded_run():
    run = model.load_run(FIXTURES / "recorded_run")
    statuses = {s.name: s.status for s in run.scenarios}
    assert run.counts() == {"passed": 3, "failed": 1, "error": 1, "undefined": 1, "skipped": 1, "not-for-target": 1}
    assert "TCID-DIR-DMAAS-PORTAL not selected" not in statuses          # deselected by tags: left out
    psp = next(s for s in run.scenarios if s.tcid == "TCID-DIR-DMAAS-PSP")
    assert psp.reason == 'cluster "modern" (Kubernetes 1.29.4) does not serve policy/v1beta1 podsecuritypolicies'
    jiva = next(s for s in run.scenarios if s.tcid == "TCID-DIR-DMAAS-SCHD-JIVA-AWS-BUCKET")
    assert jiva.reason == "RuntimeError: restore dmaas-e2e-restore-1 ended in phase PartiallyFailed: 2 errors"
    short = next(s for s in run.scenarios if s.name.endswith("short form"))
    assert short.status == "not-for-target" and short.reason.startswith("not run on target 'lab' (@short-form)")
    assert run.verdicts()["TCID-DIR-DMAAS-SCHD-CSTOR-MINIO-BUCKET"].status == "passed"
    cortex_bg = [s for s in run.scenarios if s.tcid == "TCID-DIR-DMAAS-CORTEX"][0]
    assert cortex_bg.steps[0].name == 'a cluster "ops"'                  # background steps included


def test_junit_parses_with_counts_and_reasons(rendered):
    suites = ET.parse(rendered / "junit.xml").getroot()
    assert (suites.get("tests"), suites.get("failures"), suites.get("errors"), suites.get("skipped")) == \
        ("8", "1", "2", "2")
    cases = {c.get("name"): c for c in suites.iter("testcase")}
    assert len(cases) == 8
    short = cases["TCID-DIR-DMAAS-SCHD-CSTOR-MINIO-BUCKET hourly backups restored on a separate cluster, short form"]
    assert short.find("skipped").get("message").startswith("not run on target 'lab' (@short-form)")
    verdicts = {suite.get("name"): {p.get("name"): p.get("value") for p in suite.iter("property")}
                for suite in suites.iter("testsuite")}
    assert verdicts["TCID-DIR-DMAAS-SCHD-CSTOR-MINIO-BUCKET"] == {"dmaas.verdict": "passed", "dmaas.not_for_target": "1"}
    assert {name: v["dmaas.verdict"] for name, v in verdicts.items()} == RUN_TCIDS
    skipped = cases["TCID-DIR-DMAAS-PSP restored on a cluster without PSP"].find("skipped")
    assert "does not serve policy/v1beta1" in skipped.get("message")
    failure = cases["TCID-DIR-DMAAS-CORTEX warning when space is short"].find("failure")
    assert failure.get("message").startswith("ASSERT FAILED: plan cortex has 3 completed backups")


def test_json_has_every_scenario_step_duration_and_reason(rendered):
    data = json.loads((rendered / "report.json").read_text())
    assert data["run_id"] == "20260105T000000Z-abc123"
    scenarios = [s for f in data["features"] for s in f["scenarios"]]
    assert len(scenarios) == 8
    assert data["schema_version"] == 2 and data["counts"]["not-for-target"] == 1
    assert {tcid: v["status"] for tcid, v in data["verdicts"].items()} == RUN_TCIDS
    schd = data["verdicts"]["TCID-DIR-DMAAS-SCHD-CSTOR-MINIO-BUCKET"]
    assert schd["counts"] == {"passed": 1, "not-for-target": 1} and schd["targets"]["lab"]["status"] == "passed"
    for s in scenarios:
        assert {"name", "tcid", "tags", "status", "duration", "steps", "reason", "skip_reason", "location"} <= set(s)
        assert s["status"] == "passed" or s["reason"]
        for step in s["steps"]:
            assert {"keyword", "name", "status", "duration", "error_message"} <= set(step)
    by_tcid = {s["tcid"]: s for s in scenarios}
    assert by_tcid["TCID-DIR-DMAAS-PSP"]["skip_reason"].startswith('cluster "modern"')
    assert data["monitor"]["views"]["usage"][0]["secret_key"] == "***"


def test_markdown_has_every_status_cell_filled(rendered):
    text = (rendered / "dmaas-test-strategy.md").read_text()
    rows = {m.group(1): line for line in text.splitlines() if (m := re.search(r"\[(TCID-[A-Z0-9-]+)\]", line))}
    assert set(rows) == set(strategy.tcids(strategy.read(ROOT)))
    for tcid, line in rows.items():
        status = line.strip().strip("|").split("|")[-1].strip()
        assert status, tcid
        assert status.startswith(RUN_TCIDS.get(tcid, "not run")), (tcid, status)
    assert re.search(r'\| skipped \(\d+\.\d s\): cluster "modern" \(Kubernetes 1.29.4\) does not serve', rows["TCID-DIR-DMAAS-PSP"])
    assert re.search(r"\| passed \(\d+\.\d s\) \|$", rows["TCID-DIR-DMAAS-MYSQL"])
    # the rest of the document is untouched
    original = strategy.read(ROOT).splitlines()
    assert [l for l in text.splitlines()[:len(original)] if "[TCID-" not in l] == \
        [l for l in original if "[TCID-" not in l]


def test_html_is_self_contained_with_grid_monitor_and_anchors(rendered):
    html = (rendered / "report.html").read_text()
    assert "<script" not in html and "http://" not in html and "https://" not in html
    assert 'id="schd-grid"' in html and 'id="monitor"' in html
    for tcid in RUN_TCIDS:
        assert f'href="#{tcid}"' in html and f'id="{tcid}"' in html
    assert html.count('class="not-run"') >= len(strategy.tcids(strategy.read(ROOT))) - len(RUN_TCIDS)


def test_no_secret_in_anything_written(rendered):
    for path in rendered.iterdir():
        if path.name == model.MONITOR:     # written by the steps layer, not by the reports
            continue
        text = path.read_text()
        for secret in SECRETS:
            assert secret not in text, (path.name, secret)


@needs_chromium
def test_html_loads_in_headless_chromium_without_console_errors(rendered, tmp_path):
    dom, console = dump_dom(rendered / "report.html", tmp_path / "chromium")
    assert console == []
    for tcid in strategy.tcids(strategy.read(ROOT)):
        assert tcid in dom, tcid
    assert "ASSERT FAILED: plan cortex has 3 completed backups" in dom
    # the SCHD plans' timelines: 80 hourly backups (4 full, 9 gone by retention, 1 failed) and a restore;
    # 30 on Jiva, whose failed restore ended the scenario
    svgs = re.findall(r'<svg class="timeline".*?</svg>', dom, re.S)
    assert len(svgs) == 3
    cstor, jiva = svgs[0], svgs[1]
    assert len(re.findall(r'<rect class="full ', cstor)) == 4 and len(re.findall(r"<rect ", cstor)) == 80
    assert len(re.findall(r'<rect class="\w+ expired"', cstor)) == 9
    assert len(re.findall(r'<rect class="\w+ failed"', cstor)) == 1
    assert cstor.count('<g class="restore">') == 1 and 'class="failure"' not in cstor
    assert jiva.count('<g class="restore failed">') == 1 and 'class="failure"' in jiva
    # the history strip: the earlier run, then this one, for every TCID of the run
    strip = re.search(r'<table class="history">.*?</table>', dom, re.S).group(0)
    assert re.findall(r'title="run ([^"]+)"', strip) == [EARLIER_RUN, "20260105T000000Z-abc123"]
    assert all(f'href="#{tcid}"' in strip for tcid in RUN_TCIDS)
    assert strip.count("<polyline") == len(RUN_TCIDS) + 1
    # the SCHD TCID whose long form passed and whose short form is for another target: green everywhere
    tcid = "TCID-DIR-DMAAS-SCHD-CSTOR-MINIO-BUCKET"
    grid = re.search(r'<h2 id="schd-grid">.*?</table>', dom, re.S).group(0)
    assert "partly" not in grid
    assert re.search(rf'<td class="passed"><a href="#{tcid}">passed \(\d+\.\d s\)</a></td>', grid), grid
    assert re.search(rf'<td class="passed"><a href="#{tcid}" class="badge">passed \(\d+\.\d s\)</a></td>', dom)
    assert re.search(rf'<th><a href="#{tcid}">{tcid}</a></th>\s*<td class="passed"', strip)
    summary = dom[dom.index('id="summary"'):dom.index('id="history"')]
    assert "short form" not in summary.split('id="not-for-target"')[0]     # not listed as a failure or a skip
    assert "1 scenario (not run on target 'lab' (@short-form)" in summary


def _scenario(status: str) -> Scenario:
    return Scenario(name=status, tcid="TCID-X", tags=[], location=f"f:{status}", status=status, duration=1.0)


@pytest.mark.parametrize("statuses, expected", [
    (["passed"], 0), (["passed", "skipped"], 0), (["passed", "failed"], 1), (["passed", "error"], 1),
    (["undefined"], 1), (["skipped"], 1),
])
def test_exit_code_rules(statuses, expected, capsys):
    from runner.run import conclude
    run = Run(run_id="r", target="lab", tags=[], started="", finished="",
              features=[model.Feature("F", "TCID-X", [], "f:1", [], [_scenario(s) for s in statuses])])
    assert conclude(run, [], 0, False, []) == expected


@pytest.mark.parametrize("text, expected", [
    ("bucket secret_key=AKIA123)", "bucket secret_key=***)"),
    ('{"password": "p w"}', '{"password": ***}'),
    ("AWS_SECRET_ACCESS_KEY=abc and token: t1", "AWS_SECRET_ACCESS_KEY=*** and token: ***"),
    ("accessKey=abc", "accessKey=***"),
    ("features/exclude_secret.feature:5", "features/exclude_secret.feature:5"),
    ("monkey: banana, keys: 3", "monkey: banana, keys: 3"),
])
def test_redaction_in_text(text, expected):
    from runner import redact
    assert redact.text(text) == expected


def test_redaction_in_mappings_and_tables():
    from runner import redact
    assert redact.mapping({"secret_key": "s", "accessKey": "a", "key": "k", "name": "n", "rows": [{"token": "t"}]}) == \
        {"secret_key": "***", "accessKey": "***", "key": "***", "name": "n", "rows": [{"token": "***"}]}
    assert redact.table_rows(["setting", "value"], [["every", "1h"], ["password", "hunter2"]]) == \
        [["every", "1h"], ["password", "***"]]
