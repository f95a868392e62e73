"""What a real clock makes impossible to check (runner/targets/real_time.py):
a retention check that cannot fail, a day-old restore point that cannot
outlive its restore. Such scenarios are skipped with the reason before they
wait, and preflight warns; where the numbers allow, they run."""
import types

import pytest
from behave.parser import parse_file

from runner.targets import real_time
from runner_paths import ROOT

HOUR, DAY = 3600, 86400
SHORT_FORM = "features/generated/tcid-dir-dmaas-schd-local-hp-minio-bucket.feature"


def target(time_scale, gc_period, real_time_=True):
    return types.SimpleNamespace(time_scale=time_scale, velero_gc_period=gc_period, real_time=real_time_)


def short_form():
    feature = parse_file(str(ROOT / SHORT_FORM))
    (scenario,) = [s for s in feature.scenarios if "short-form" in s.effective_tags]
    return scenario


def test_a_retention_check_can_fail_only_with_time_before_its_cut():
    # 36 h kept, 40 h passed: the realstack's numbers (1 h = 1 min, GC every minute) leave 3 h before the cut
    assert real_time.retention_check_can_fail(36 * HOUR, 40 * HOUR, 60, 1 / 60)
    # example-real's time scale with Velero's default GC: an expired backup may stay 30 h; 36 + 30 > 40
    assert not real_time.retention_check_can_fail(36 * HOUR, 40 * HOUR, 3600, 0.0333)
    # the same with the GC at one scaled hour (2 min): 36 + 1 < 40
    assert real_time.retention_check_can_fail(36 * HOUR, 40 * HOUR, 120, 0.0333)
    # exactly at the cut: nothing can be older, so it cannot fail
    assert not real_time.retention_check_can_fail(36 * HOUR, 37 * HOUR, 60, 1 / 60)
    # the lab collects at expiration (no lag)
    assert real_time.retention_check_can_fail(72 * HOUR, 80 * HOUR, 0, 1)


def test_a_day_old_restore_point_must_outlive_its_restore_and_a_gc_pass():
    assert real_time.day_old_restore_point_possible(36 * HOUR, 60, 1 / 60)          # 24 h + 4 h < 36 h
    assert not real_time.day_old_restore_point_possible(36 * HOUR, 3600, 0.0333)     # 24 h + 31.5 h > 36 h
    assert real_time.day_old_restore_point_possible(36 * HOUR, 120, 0.0333)          # 24 h + 2.5 h < 36 h
    assert not real_time.day_old_restore_point_possible(DAY, 0, 1)                   # a day kept: never


def test_schd_short_form_on_example_real_defaults_is_skipped_with_what_to_change():
    reasons = real_time.problems(short_form().all_steps, target(0.0333, 3600))
    assert len(reasons) == 2, reasons
    retention, day_old = reasons
    assert retention.startswith("the retention check of plan schd-hourly cannot fail here: at time_scale 0.0333 "
                                "with Velero's garbage collection every 3600 s")
    assert "lower Velero's garbage-collection frequency or raise time_scale" in retention
    assert day_old.startswith("no backup of plan schd-hourly a day older than the latest can outlive its restore")


@pytest.mark.parametrize("numbers", [(1 / 60, 60), (0.0333, 120)])
def test_schd_short_form_runs_where_the_numbers_let_its_checks_fail(numbers):
    assert real_time.problems(short_form().all_steps, target(*numbers)) == []


def test_a_virtual_clock_has_no_such_problem():
    assert real_time.problems(short_form().all_steps, target(1, 3600, real_time_=False)) == []


def test_the_patterns_are_the_steps_words():
    """Each pattern matches the step of the shipped feature it stands for."""
    names = [step.name for step in short_form().all_steps]
    assert any(real_time.RETENTION_CHECK.match(n) for n in names)
    assert any(real_time.DAY_BEFORE.search(n) for n in names)
    assert any(real_time.PLAN.search(n) for n in names)
    assert [n for n in names if real_time.PASS.match(n)] == ["40 hours pass while the applications write data "
                                                              "every hour"]
