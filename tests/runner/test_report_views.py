"""What report.html shows beyond the tables: the timeline of a scenario's
plans (from a hand-made scenario state, as the steps keep it), the history
strip of earlier runs in the same reports folder, the strategy's markdown
rendered in its one place, and autoescaping of everything a run recorded."""
from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import json
import re
from pathlib import Path

from runner.dmaas.plans import PlanSpec
from runner.dmaas.records import BackupRecord, RestoreRecord
from runner.report import history, html, model, timeline
from runner.report.model import Feature, Run, Scenario, Step

START = dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc)
HOUR = dt.timedelta(hours=1)
RestoreDone = collections.namedtuple("RestoreDone", "cluster backup mapping record time")   # as steps/steplib.py


def backup(hour, kind, phase="Completed"):
    at = START + hour * HOUR
    return BackupRecord(f"p-{hour:02d}", "minio", at, at + dt.timedelta(minutes=1), phase, kind)


def restore(backup_name, hour, phase="Completed"):
    return RestoreDone("separate", backup_name, {}, RestoreRecord(f"r-{backup_name}", phase, [], [], []),
                       START + hour * HOUR)


def scenario_state():
    """A plan of 6 hourly backups F I I F I I (the 3rd failed), the first two gone by
    retention, two restores of it and one of a backup of no plan."""
    kinds = ["full", "incremental", "incremental", "full", "incremental", "incremental"]
    seen = {b.name: b for b in (backup(h, k, "PartiallyFailed" if h == 2 else "Completed")
                                for h, k in enumerate(kinds))}
    plans = {"p": PlanSpec("p", "team", "workload", ["ns"], every="1h", full_every=3, retention_ttl=7200,
                           locations=["minio"])}
    gone = {"p": {"p-00": START + 3 * HOUR, "p-01": START + 4 * HOUR}}
    restores = [restore("p-05", 7), restore("p-03", 7, "PartiallyFailed"), restore("on-demand", 7)]
    return plans, {"p": seen}, gone, restores, START + 8 * HOUR


def test_the_timeline_record_holds_kinds_expiry_and_restores_of_the_plan():
    data = timeline.record(*scenario_state())
    assert data["ended"] == "2026-01-05T08:00:00Z"
    (plan,) = data["plans"]
    assert (plan["name"], plan["cluster"], plan["settings"]) == ("p", "workload", "every 1h, full every 3, retention 2h")
    assert [b["kind"][0].upper() for b in plan["backups"]] == list("FIIFII")
    assert [b["name"] for b in plan["backups"] if b["gone"]] == ["p-00", "p-01"]
    assert plan["backups"][1]["gone"] == "2026-01-05T04:00:00Z"
    assert plan["backups"][2]["phase"] == "PartiallyFailed"
    assert [(r["backup"], r["phase"], r["time"]) for r in plan["restores"]] == [
        ("p-05", "Completed", "2026-01-05T07:00:00Z"), ("p-03", "PartiallyFailed", "2026-01-05T07:00:00Z")]
    assert json.loads(json.dumps(data)) == data          # what extras.jsonl carries


def test_the_drawing_shows_kinds_expired_failed_and_restores_on_a_time_axis():
    (plan,) = timeline.plans(timeline.record(*scenario_state()))
    drawing = timeline.drawing(plan, "passed")
    assert [m.css for m in drawing.marks] == ["full expired", "incremental expired", "incremental failed",
                                              "full kept", "incremental kept", "incremental kept"]
    assert [label for label, _ in drawing.lanes] == ["full", "incremental", "restores"]
    xs = [m.x for m in drawing.marks]
    assert xs == sorted(xs) and len(set(xs)) == 6                  # by time, hourly apart
    full_y = {m.y for m in drawing.marks if m.css.startswith("full")}
    incremental_y = {m.y for m in drawing.marks if m.css.startswith("incremental")}
    assert len(full_y) == 1 and len(incremental_y) == 1 and full_y != incremental_y
    first, second = drawing.restores
    assert (first.number, first.css, second.css) == (1, "restore", "restore failed")
    restored = {m.title.split(":")[0]: m for m in drawing.marks}
    assert first.from_x == restored["p-05"].x + restored["p-05"].width / 2
    assert second.from_x == restored["p-03"].x + restored["p-03"].width / 2
    assert (first.x, second.x) == (first.from_x, second.from_x)     # each under the backup it restored
    ticks = {label: x for x, label, _ in drawing.ticks}
    assert first.taken_x == second.taken_x == ticks["07:00"]         # both taken at 07:00
    assert "gone from the bucket by Jan 05 03:00" in restored["p-00"].title
    assert drawing.failure is None
    assert drawing.summary == ("6 backups (2 full, 4 incremental): 4 still in the bucket, 2 gone by retention, "
                               "1 failed; 2 restores, 1 failed.")
    assert [label for _, label, _ in drawing.ticks] == ["Jan 05"] + [f"{h:02d}:00" for h in range(1, 9)]


def test_a_plan_that_does_not_tell_kinds_apart_draws_one_lane_of_backups():
    """No "full every" on a file-system engine: no backup has a kind; the lane says "backups", not "kind unknown"."""
    plans, seen, gone, restores, ended = scenario_state()
    seen = {"p": {name: dataclasses.replace(b, kind=None) for name, b in seen["p"].items()}}
    (plan,) = timeline.plans(timeline.record(plans, seen, gone, restores, ended))
    drawing = timeline.drawing(plan)
    assert [label for label, _ in drawing.lanes] == ["backups", "restores"]
    assert drawing.kinds == [("other", "backups")]
    assert drawing.summary.startswith("6 backups: 4 still in the bucket")
    assert "kind unknown" not in " ".join([m.title for m in drawing.marks] + [r.text for r in drawing.restores])
    page = html.render(Run(run_id="r", target="lab", tags=[], started="2026-01-05T00:00:00Z", finished="",
                           features=[Feature("F", "TCID-X", [], "f", [], [Scenario(
                               name="s", tcid="TCID-X", tags=[], location="f:1", status="passed", duration=1.0,
                               plans=[plan])])]), "# S\n")
    assert "kind unknown" not in page and '<text class="lane" x="6" y="35.0">backups</text>' in page
    # a plan where some backups have a kind and others not keeps the lane of those it cannot tell
    seen["p"]["p-00"] = BackupRecord("p-00", "minio", START, START, "Completed", "full")
    (mixed,) = timeline.plans(timeline.record(plans, seen, gone, restores, ended))
    assert [label for label, _ in timeline.drawing(mixed).lanes] == ["full", "kind unknown", "restores"]


def test_restores_of_one_backup_sit_side_by_side():
    plans, seen, gone, restores, ended = scenario_state()
    (plan,) = timeline.plans(timeline.record(plans, seen, gone, [restore("p-05", 6), restore("p-05", 7)], ended))
    first, second = timeline.drawing(plan).restores
    assert first.from_x == second.from_x and second.x - first.x >= 2 * timeline.RADIUS


def test_a_failed_scenario_is_marked_where_it_ended():
    (plan,) = timeline.plans(timeline.record(*scenario_state()))
    failed = timeline.drawing(plan, "failed", "restore r-p-03 ended PartiallyFailed")
    x, text, _ = failed.failure
    assert text == "scenario failed: restore r-p-03 ended PartiallyFailed"
    assert x == max(t[0] for t in failed.ticks)                      # the end, 08:00, is the last tick
    plan.ended = None                                                # unknown end: the last thing seen (07:00)
    unknown_end = timeline.drawing(plan, "error")
    assert [label for _, label, _ in unknown_end.ticks][-1] == "07:00"
    assert unknown_end.failure[0] == unknown_end.ticks[-1][0]


def test_the_timeline_reads_back_what_it_wrote_and_tolerates_little():
    assert timeline.plans(None) == [] and timeline.plans({"plans": ["x"]}) == []
    (empty,) = timeline.plans({"plans": [{"name": "q"}]})
    drawing = timeline.drawing(empty, "error", None)
    assert drawing.marks == [] and drawing.restores == [] and drawing.failure[1] == "scenario error"


# ------------------------------------------------------------------ history

def report(run_id, started, seconds, statuses):
    """A report.json's content: one scenario per TCID."""
    return {"run_id": run_id, "target": "lab", "started": started, "finished": "", "duration": seconds,
            "features": [{"scenarios": [{"tcid": tcid, "status": status, "duration": seconds / len(statuses)}
                                        for tcid, status in statuses.items()]}]}


def current_run(started="2026-01-05T12:00:00Z"):
    scenarios = [Scenario(name=f"{t} s", tcid=t, tags=[], location=f"f:{i}", status="passed", duration=4.0)
                 for i, t in enumerate(["TCID-A", "TCID-B"])]
    return Run(run_id="now", target="lab", tags=[], started=started, finished="2026-01-05T12:00:09Z",
               features=[Feature("F", None, [], "f", [], scenarios)])


def write_report(reports: Path, folder: str, content) -> None:
    (reports / folder).mkdir(parents=True)
    (reports / folder / "report.json").write_text(content if isinstance(content, str) else json.dumps(content))


def test_history_shows_earlier_runs_by_start_time_and_skips_a_broken_one(tmp_path, capsys):
    # folder names sort in another order than the start times
    write_report(tmp_path, "a-latest", report("r3", "2026-01-04T00:00:00Z", 30, {"TCID-A": "failed", "TCID-B": "passed"}))
    write_report(tmp_path, "b-oldest", report("r1", "2026-01-02T00:00:00Z", 10, {"TCID-A": "passed"}))
    write_report(tmp_path, "c-middle", report("r2", "2026-01-03T00:00:00Z", 20, {"TCID-A": "passed", "TCID-B": "error"}))
    write_report(tmp_path, "d-broken", "{cut short")
    write_report(tmp_path, "e-later", report("r9", "2026-01-06T00:00:00Z", 5, {"TCID-A": "passed"}))   # after this run
    strip = history.load(tmp_path, current_run())
    assert [c.run_id for c in strip.columns] == ["r1", "r2", "r3", "now"]
    assert [c.current for c in strip.columns] == [False, False, False, True]
    assert strip.tcids == ["TCID-A", "TCID-B"]
    assert [c.cells.get("TCID-A") for c in strip.columns] == [("passed", 10.0), ("passed", 10.0), ("failed", 15.0),
                                                              ("passed", 4.0)]
    assert strip.trend("TCID-B") == [None, 10.0, 15.0, 4.0]
    assert strip.trend() == [10.0, 20.0, 30.0, 9.0]              # no finish time: scenario seconds; else wall clock
    warnings = capsys.readouterr().err.strip().splitlines()
    assert len(warnings) == 1 and "d-broken/report.json" in warnings[0]
    assert [c.run_id for c in history.load(tmp_path, current_run(), limit=2).columns] == ["r2", "r3", "now"]


def test_history_leaves_out_shards_and_runs_on_other_targets(tmp_path, capsys):
    write_report(tmp_path, "full", report("r1", "2026-01-02T00:00:00Z", 10, {"TCID-A": "passed"}))
    write_report(tmp_path, "shard", {**report("r2", "2026-01-03T00:00:00Z", 5, {"TCID-A": "passed"}),
                                     "shard": {"index": 1, "count": 2}})
    write_report(tmp_path, "real", {**report("r3", "2026-01-03T00:00:00Z", 500, {"TCID-A": "passed"}),
                                    "target": "realstack"})
    write_report(tmp_path, "both", {**report("r4", "2026-01-04T00:00:00Z", 500, {"TCID-A": "passed"}),
                                    "target": "lab + realstack", "targets": ["lab", "realstack"]})
    assert [c.run_id for c in history.load(tmp_path, current_run()).columns] == ["r1", "now"]
    assert capsys.readouterr().err == ""


def test_history_of_a_first_run_is_that_run_alone(tmp_path, capsys):
    strip = history.load(tmp_path / "nothing-here", current_run())
    assert [c.run_id for c in strip.columns] == ["now"] and capsys.readouterr().err == ""


def test_the_history_strip_is_in_the_page_in_order_with_its_trend(tmp_path):
    write_report(tmp_path, "x", report("r2", "2026-01-03T00:00:00Z", 20, {"TCID-A": "failed"}))
    write_report(tmp_path, "y", report("r1", "2026-01-02T00:00:00Z", 10, {"TCID-A": "passed"}))
    run = current_run()
    page = html.render(run, "# Strategy\n", history.load(tmp_path, run))
    strip = page[page.index('<table class="history">'):]
    strip = strip[:strip.index("</table>")]
    assert re.findall(r'title="run ([^"]+)"', strip) == ["r1", "r2", "now"]
    row_a = strip[strip.index("TCID-A</a>"):].split("</tr>")[0]
    assert re.findall(r'<td class="(\w+)"', row_a) == ["passed", "failed", "passed"]
    assert row_a.count("<polyline") == 1
    assert 'class="not-run"' in strip.split("TCID-B</a>")[1].split("</tr>")[0]    # TCID-B ran in this run only
    assert history.sparkline([10.0, None, 20.0]).count(",") == 2


# ------------------------------------------------------------------ page

def test_strategy_markdown_is_rendered_with_status_cells_and_story_anchors():
    text = ("---\ntitle: DMaaS\n---\n## Area\n### TCID-X\nA _story_ with **stress**.\n\n"
            "| TCID | Status |\n| --- | --- |\n| [TCID-X](TCID-X) | |\n| [TCID-Y](TCID-Y) | |\n")
    cells = {"TCID-X": ("failed", "failed (1.0 s): *not* [bold](x) <b>"), "TCID-Y": ("not-run", "not run")}
    title, body = html.strategy_html(text, cells.get)
    assert title == "DMaaS"
    assert '<h3>Area</h3>' in body and '<h4 id="story-TCID-X">TCID-X</h4>' in body
    assert "<em>story</em>" in body and "<strong>stress</strong>" in body
    assert '<td class="failed"><a href="#TCID-X" class="badge">failed (1.0 s): *not* [bold](x) &lt;b&gt;</a></td>' in body
    assert '<td class="not-run">not run</td>' in body
    assert '<a href="#TCID-Y">TCID-Y</a>' in body


def test_everything_a_run_recorded_is_escaped(tmp_path):
    step = Step("Then", "x <script>alert(1)</script>", "f:2", "failed", error_message="<img src=x onerror=y>")
    scenario = Scenario(name="<b>bold</b>", tcid="TCID-X", tags=[], location="f:1", status="failed", duration=1.0,
                        steps=[step], error_message="<img src=x onerror=y>")
    run = Run(run_id="r", target="lab", tags=[], started="2026-01-05T00:00:00Z", finished="",
              features=[Feature("F", "TCID-X", [], "f", [], [scenario])],
              monitor={"views": {"usage": [{"team": "<i>t</i>", "used": None}]}})
    page = html.render(run, "# S\n", history.load(tmp_path, run))
    assert "<script" not in page and "<img" not in page and "<b>bold" not in page and "<i>t</i>" not in page
    assert "&lt;script&gt;" in page and "&lt;b&gt;bold&lt;/b&gt;" in page and "&lt;i&gt;t&lt;/i&gt;" in page


def test_a_recorded_run_carries_each_scenarios_timeline_into_the_model_and_report_json(tmp_path):
    from runner_paths import FIXTURES
    run = model.load_run(FIXTURES / "recorded_run")
    by_tcid = {s.tcid: s for s in run.scenarios if s.status != "not-for-target"}
    (cstor,) = by_tcid["TCID-DIR-DMAAS-SCHD-CSTOR-MINIO-BUCKET"].plans
    assert len(cstor.backups) == 80 and sum(b.kind == "full" for b in cstor.backups) == 4
    assert by_tcid["TCID-DIR-DMAAS-MYSQL"].plans == []
    assert run.to_dict()["features"][3]["scenarios"][0]["plans"][0]["name"] == "schd-hourly"
