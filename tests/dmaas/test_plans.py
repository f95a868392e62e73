"""Plans -> Velero objects, for each policy (pure: no cluster)."""
import datetime

import pytest
from croniter import croniter

from runner.dmaas import plans
from runner.dmaas.plans import PlanError, PlanSpec, Selection

UTC = datetime.timezone.utc
CREATED = datetime.datetime(2026, 1, 5, 0, 0, 0, tzinfo=UTC)


def runs(schedule_objects, start, count):
    """The first `count` fire times over all schedules, with the kind of each."""
    fired = []
    for obj in schedule_objects:
        it = croniter(obj.cron, start)
        for _ in range(count):
            fired.append((it.get_next(datetime.datetime), obj.kind))
    return sorted(fired)[:count]


def make(**fields):
    base = dict(name="p", team="t", cluster="c", namespaces=["ns"], locations=["minio"])
    return PlanSpec(**{**base, **fields})


def test_fs_plan_gets_a_full_schedule_for_runs_1_n_plus_1_and_regular_ones_between():
    objects = plans.schedules(make(full_every=24), CREATED, 3600, 72 * 3600, None, "fs")
    assert [o.name for o in objects] == ["p-full", "p"]
    fired = runs(objects, CREATED, 49)
    assert fired[0] == (CREATED + datetime.timedelta(hours=1), "full")
    assert [kind for _, kind in fired] == ["full"] + ["incremental"] * 23 + ["full"] + ["incremental"] * 23 + ["full"]
    assert [t for t, _ in fired] == [CREATED + datetime.timedelta(hours=h) for h in range(1, 50)]
    full, regular = objects
    assert full.spec["template"]["metadata"]["labels"] == {
        plans.TEAM_LABEL: "t", plans.PLAN_LABEL: "p", plans.LOCATION_LABEL: "minio", plans.KIND_LABEL: "full"}
    assert regular.spec["template"]["metadata"]["labels"][plans.KIND_LABEL] == "incremental"
    assert regular.spec["template"]["defaultVolumesToFsBackup"] is True
    assert regular.spec["template"]["ttl"] == "72h0m0s"


def test_cron_follows_the_creation_minute():
    created = CREATED.replace(hour=5, minute=17, second=30)
    objects = plans.schedules(make(every="2h"), created, 7200, 3600, None, "fs")
    assert [o.cron for o in objects] == ["17 1,3,5,7,9,11,13,15,17,19,21,23 * * *"]
    first = croniter(objects[0].cron, created).get_next(datetime.datetime)
    assert first == created.replace(hour=7, second=0)


def test_snapshot_plan_is_one_schedule_per_location_with_its_vsl():
    objects = plans.schedules(make(full_every=6, every="2h", locations=["minio", "aws"]), CREATED, 7200, 3600,
                              lambda loc: plans.vsl_name(loc, 6), "snapshot")
    assert [o.name for o in objects] == ["p-minio", "p-aws"]
    assert [o.spec["template"]["volumeSnapshotLocations"] for o in objects] == [["minio-full-every-6"],
                                                                                 ["aws-full-every-6"]]
    assert all(o.spec["template"]["snapshotVolumes"] and o.kind is None for o in objects)
    assert [o.spec["template"]["storageLocation"] for o in objects] == ["minio", "aws"]
    assert {o.spec["template"]["metadata"]["labels"][plans.CHAIN_LABEL] for o in objects} == {"6"}


def test_vsl_config_counts_incrementals_and_keeps_snapshots_under_the_location():
    config = plans.vsl_config({"region": "r", "s3Url": "http://s3", "s3ForcePathStyle": "true"}, "b",
                              "root/minio", 24)
    assert config["incrBackupCount"] == "23" and config["restoreAllIncrementalSnapshots"] == "true"
    assert config["backupPathPrefix"] == "root/minio/snapshots" and config["s3Url"] == "http://s3"
    assert "incrBackupCount" not in plans.vsl_config({}, "b", "p", None)


def test_fan_out_gives_every_location_the_same_selection():
    objects = plans.schedules(make(locations=["minio", "aws"], exclude_resources=["secrets"]), CREATED, 3600,
                              3600, None, "fs")
    selections = [{k: v for k, v in o.spec["template"].items() if k not in ("storageLocation", "metadata")} for o in objects]
    assert selections[0] == selections[1]
    assert selections[0]["excludedResources"] == ["secrets"]


def test_exclude_labels_keep_unlabelled_objects():
    selector = plans.label_selector("app.kubernetes.io/name!=nginx-controller")
    assert selector == {"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "NotIn",
                                              "values": ["nginx-controller"]}]}
    assert plans.label_selector("tier=web,env in (a, b),!legacy,owner") == {
        "matchLabels": {"tier": "web"},
        "matchExpressions": [{"key": "env", "operator": "In", "values": ["a", "b"]},
                             {"key": "legacy", "operator": "DoesNotExist"},
                             {"key": "owner", "operator": "Exists"}]}
    with pytest.raises(PlanError):
        plans.label_selector("a b c")


def test_data_only_selection_takes_claims_and_volumes_only():
    spec = Selection(namespaces=("sales",), data_only=True).backup_spec()
    assert spec == {"includedNamespaces": ["sales"], "includedResources": ["persistentvolumeclaims",
                                                                            "persistentvolumes"]}
    with pytest.raises(PlanError, match="snapshot engine"):
        plans.schedules(make(data_only=True), CREATED, 86400, 3600, None, "fs")


def test_selection_from_dict_rejects_unknown_fields():
    assert Selection.of({"namespaces": ["a"]}).namespaces == ("a",)
    with pytest.raises(PlanError, match="unknown field"):
        Selection.of({"namespace": ["a"]})


@pytest.mark.parametrize("fields, message", [
    (dict(locations=[]), "locations"), (dict(full_every=0), "full every"), (dict(keep_last=0), "keep last"),
    (dict(name="Bad_Name"), "DNS label"), (dict(every="5s"), "every"), (dict(every="7x"), "duration")])
def test_bad_plans_name_the_field(fields, message):
    with pytest.raises(PlanError, match=message):
        make(**fields).check()


def test_periods_that_do_not_divide_a_day_are_refused():
    with pytest.raises(PlanError, match="divide"):
        plans.schedules(make(every="7h"), CREATED, 7 * 3600, 3600, None, "fs")


def test_durations():
    assert plans.seconds("72h") == 259200 and plans.seconds(60) == 60 and plans.seconds("3d") == 259200
    assert plans.go_duration(259200) == "72h0m0s" and plans.go_duration(8640) == "2h24m0s"


def test_last_fire_is_the_latest_minute_a_cron_line_fires_at_or_before_now():
    from runner.dmaas.plans import cron_lines, fire_times, last_fire
    utc = datetime.timezone.utc
    created = datetime.datetime(2026, 12, 5, 18, 54, 31, tzinfo=utc)
    [every_minute] = cron_lines(fire_times(created, 60))
    assert last_fire(every_minute, datetime.datetime(2026, 12, 5, 18, 57, 31, tzinfo=utc)) == \
        datetime.datetime(2026, 12, 5, 18, 57, tzinfo=utc)
    twice = "30 3,9 * * *"
    assert last_fire(twice, datetime.datetime(2026, 12, 5, 9, 29, 59, tzinfo=utc)) == \
        datetime.datetime(2026, 12, 5, 3, 30, tzinfo=utc)
    assert last_fire(twice, datetime.datetime(2026, 12, 5, 2, 0, tzinfo=utc)) == \
        datetime.datetime(2026, 12, 4, 9, 30, tzinfo=utc)


def test_a_plans_first_hours_hold_its_first_runs_however_late_velero_made_them():
    """The real stack's case (an hour is a minute): a plan made at 22:09:50,
    its runs due 22:10, 22:11, 22:12, 22:13 and made at :34 (Velero's check),
    the 3 hours counted from a moment after the plan: runs 1-3, not the 4th."""
    from runner.dmaas.plans import cron_lines, due_within, fire_times
    utc = datetime.timezone.utc
    created = datetime.datetime(2026, 12, 5, 22, 9, 50, tzinfo=utc)
    [every_minute] = cron_lines(fire_times(created, 60))
    made = [datetime.datetime(2026, 12, 5, 22, minute, 34, tzinfo=utc) for minute in (10, 11, 12, 13)]
    assert [due_within(every_minute, created, m, 180) for m in made] == [True, True, True, False]
    assert [due_within(every_minute, created, m, 120) for m in made] == [True, True, False, False]
