"""One verdict per TCID over its scenarios, whatever forms and targets ran
them (runner.report.model.tcid_verdict): passed when every scenario that ran
passed and at least one ran; a scenario the target does not run by design
(not-for-target) is no part of it, while a skip that means something is
missing is counted apart and keeps the TCID from passing; a failure wins."""
from __future__ import annotations

import pytest

from runner.report import model
from runner.report.model import NOT_FOR_TARGET, Feature, Run, Scenario, tcid_verdict

REASONS = {"skipped": "cluster has no PSP", NOT_FOR_TARGET: "not run on target 'lab' (@short-form): long form here",
           "failed": "restore ended PartiallyFailed", "error": "RuntimeError: boom", "undefined": None}


def scenario(status: str, i: int = 0, target: str = "lab") -> Scenario:
    return Scenario(name=f"TCID-X {status} {i}", tcid="TCID-X", tags=[], location=f"f.feature:{i}", status=status,
                    duration=1.0, skip_reason=REASONS.get(status) if status in ("skipped", NOT_FOR_TARGET) else None,
                    error_message=REASONS.get(status) if status in ("failed", "error") else None, target=target)


def verdict(*statuses: str) -> model.Verdict:
    return tcid_verdict([scenario(status, i) for i, status in enumerate(statuses)])


@pytest.mark.parametrize("statuses, expected", [
    (["passed"], "passed"),
    (["passed", "passed"], "passed"),
    (["passed", NOT_FOR_TARGET], "passed"),                      # the form for another target is no part of it
    ([NOT_FOR_TARGET, "passed", NOT_FOR_TARGET], "passed"),
    ([NOT_FOR_TARGET], NOT_FOR_TARGET),                          # nothing this target runs: grey, not passed
    ([NOT_FOR_TARGET, NOT_FOR_TARGET], NOT_FOR_TARGET),
    (["passed", "skipped"], "partial"),                          # something missing: counted apart, not passed
    (["passed", "skipped", NOT_FOR_TARGET], "partial"),
    (["skipped"], "skipped"),
    (["skipped", NOT_FOR_TARGET], "skipped"),
    (["passed", "failed"], "failed"),                            # failed wins
    (["passed", NOT_FOR_TARGET, "failed"], "failed"),
    (["skipped", "failed"], "failed"),
    (["error", "failed"], "failed"),
    (["passed", "error"], "error"),
    (["undefined", "passed"], "undefined"),
    ([], "not-run"),                                              # none ran: not passed
])
def test_the_verdict_rule(statuses, expected):
    assert verdict(*statuses).status == expected
    assert model.tcid_status(statuses) == expected


def test_the_status_cell_of_each_verdict():
    assert verdict("passed", NOT_FOR_TARGET).text == "passed (2.0 s)"
    assert verdict(NOT_FOR_TARGET).text == "not for this target: " + REASONS[NOT_FOR_TARGET]
    assert verdict("passed", "skipped", NOT_FOR_TARGET).text == \
        "partly passed (1 passed, 1 skipped; 3.0 s): cluster has no PSP"
    # the reason is the deciding scenario's, whichever comes first
    failed = verdict("skipped", NOT_FOR_TARGET, "failed")
    assert failed.text == "failed (1 skipped, 1 failed; 3.0 s): restore ended PartiallyFailed"
    assert failed.reason == "restore ended PartiallyFailed"
    assert failed.counts == {"skipped": 1, NOT_FOR_TARGET: 1, "failed": 1}
    assert verdict("failed", NOT_FOR_TARGET).text == "failed (2.0 s): restore ended PartiallyFailed"
    assert verdict().text == "not run" and verdict().reason is None
    assert verdict("passed").reason is None


def test_a_run_counts_scenarios_not_for_the_target_apart_and_gives_verdicts_per_target():
    scenarios = [scenario("passed", 1, "lab"), scenario(NOT_FOR_TARGET, 2, "lab"),
                 scenario(NOT_FOR_TARGET, 1, "realstack"), scenario("passed", 2, "realstack"),
                 scenario("skipped", 3, "realstack")]
    run = Run(run_id="r", target="lab + realstack", tags=[], started="", finished="", targets=["lab", "realstack"],
              features=[Feature("F", "TCID-X", [], "f.feature:1", [], scenarios)])
    assert run.counts() == {"passed": 2, "failed": 0, "error": 0, "undefined": 0, "skipped": 1, NOT_FOR_TARGET: 2}
    assert run.verdicts()["TCID-X"].status == "partial"
    table = run.conformance()["TCID-X"]
    assert {t: v.status for t, v in table.items()} == {"lab": "passed", "realstack": "partial"}
    data = run.to_dict()["verdicts"]["TCID-X"]
    assert data["status"] == "partial" and data["targets"]["lab"]["text"] == "passed (2.0 s)"
    assert len({s.anchor for s in run.scenarios}) == 5      # the same location on two targets: two anchors


@pytest.mark.parametrize("statuses, expected", [
    (["passed", NOT_FOR_TARGET], 0), ([NOT_FOR_TARGET], 1), (["passed", "skipped", NOT_FOR_TARGET], 0),
])
def test_exit_code_with_scenarios_not_for_the_target(statuses, expected, capsys):
    from runner.run import conclude
    run = Run(run_id="r", target="lab", tags=[], started="", finished="",
              features=[Feature("F", "TCID-X", [], "f:1", [], [scenario(s, i) for i, s in enumerate(statuses)])])
    assert conclude(run, [], 0, False, []) == expected
    out = capsys.readouterr().out
    assert "not for this target: 1 scenario(s): not run on target 'lab' (@short-form)" in out
    assert "1 not for this target" in out
