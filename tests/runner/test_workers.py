"""Splitting scenarios over workers and merging what they wrote back into
the files a serial run writes."""
import json

from runner.features import ScenarioEntry
from runner.report import model
from runner.workers import Part, merge_outputs, partition, past_durations


def entry(location, seconds_tag=None):
    return ScenarioEntry(location, f"S {location}", (seconds_tag,) if seconds_tag else ())


def test_partition_balances_by_past_durations_and_keeps_serial_order():
    order = [entry("features/a.feature:3"), entry("features/a.feature:9"), entry("features/b.feature:2"),
             entry("features/c.feature:4")]
    durations = {"S features/b.feature:2": 100.0, "S features/a.feature:3": 40.0,
                 "S features/a.feature:9": 40.0, "S features/c.feature:4": 30.0}
    plan = partition(order, 2, durations)
    assert [[e.location for e in group] for group in plan] == [
        ["features/b.feature:2"], ["features/a.feature:3", "features/a.feature:9", "features/c.feature:4"]]


def test_partition_guesses_schedules_long_and_never_makes_empty_workers():
    order = [entry("f/x.feature:1"), entry("f/y.feature:1", "schd"), entry("f/z.feature:1")]
    plan = partition(order, 8, {})
    assert len(plan) == 3
    plan = partition(order, 2, {})
    assert [e.location for e in plan[0]] == ["f/y.feature:1"]


def test_partition_counts_scenarios_the_target_skips_by_tag_as_next_to_nothing():
    """The lab skips SCHD's @short-form rows; guessed as schedules on an uploader engine (120 s each) they
    would unbalance the workers' real work."""
    fs = frozenset({"local-hp"})
    order = [ScenarioEntry(f"f/s{i}.feature:1", f"S{i}", ("schd", "engine-local-hp", "short-form"))
             for i in range(3)] + [ScenarioEntry(f"f/l.feature:{i}", f"L{i}", ("schd", "engine-local-hp"))
                                   for i in range(3)]
    past = {"L0": 100.0, "L1": 60.0, "L2": 40.0}

    def real_work(plan):
        return sorted(sum(past.get(e.name, 0) for e in group) for group in plan)

    assert real_work(partition(order, 2, past, fs, frozenset({"short-form"}))) == [100, 100]
    assert real_work(partition(order, 2, past, fs)) == [40, 160]


def test_past_durations_prefers_the_newest_report(tmp_path):
    for run, seconds in (("old", 5.0), ("new", 7.0)):
        (tmp_path / run).mkdir()
        (tmp_path / run / "report.json").write_text(json.dumps(
            {"features": [{"scenarios": [{"name": "S", "status": "passed", "duration": seconds}]}]}))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "report.json").write_text("{cut")
    import os
    os.utime(tmp_path / "old" / "report.json", (1, 1))
    assert past_durations(tmp_path) == {"S": 7.0}


def _behave_json(feature, elements):
    return [{"location": f"{feature}:1", "name": feature, "tags": [],
             "elements": [{"type": "scenario", "location": loc, "name": loc} for loc in elements]}]


def test_merge_keeps_each_workers_own_scenarios_in_serial_order(tmp_path):
    order = [entry("features/a.feature:3"), entry("features/a.feature:9"), entry("features/b.feature:2")]
    plan = [[order[1]], [order[0], order[2]]]
    dirs = [tmp_path / "w0", tmp_path / "w1"]
    for d in dirs:
        d.mkdir()
    # behave lists the scenarios of an opened feature that it was not given, as not run
    (dirs[0] / model.BEHAVE_JSON).write_text(json.dumps(_behave_json("features/a.feature",
                                                                     ["features/a.feature:3", "features/a.feature:9"])))
    (dirs[1] / model.BEHAVE_JSON).write_text(json.dumps(
        _behave_json("features/b.feature", ["features/b.feature:2"])
        + _behave_json("features/a.feature", ["features/a.feature:3", "features/a.feature:9"])))
    for d, group in zip(dirs, plan):
        (d / model.EXTRAS).write_text("".join(json.dumps({"location": e.location, "status": "passed"}) + "\n"
                                              for e in order))
    merge_outputs(tmp_path, [Part(d, frozenset(e.location for e in group)) for d, group in zip(dirs, plan)],
                  [e.location for e in order])
    merged = json.loads((tmp_path / model.BEHAVE_JSON).read_text())
    assert [(f["location"], [e["location"] for e in f["elements"]]) for f in merged] == [
        ("features/a.feature:1", ["features/a.feature:3", "features/a.feature:9"]),
        ("features/b.feature:1", ["features/b.feature:2"])]
    extras = [json.loads(l)["location"] for l in (tmp_path / model.EXTRAS).read_text().splitlines()]
    assert extras == [e.location for e in order]
