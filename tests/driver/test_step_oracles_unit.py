"""The step oracles fail, with a reason naming what was wrong, when what
they guard is broken (fake scenario state; no lab)."""
import datetime
import importlib
import types

import pytest

from runner.dmaas.records import BackupRecord

T0 = datetime.datetime(2026, 1, 5, tzinfo=datetime.timezone.utc)


@pytest.fixture(scope="module")
def steps(steplib):
    return types.SimpleNamespace(plan=importlib.import_module("plan_steps"),
                                 bucket=importlib.import_module("bucket_steps"),
                                 restore=importlib.import_module("restore_steps"),
                                 state=importlib.import_module("scenario_state"))


def scenario(steps, driver=None, **state):
    """A behave context as the steps see it: a driver and the scenario's state."""
    return types.SimpleNamespace(driver=driver, scenario_state=steps.state.ScenarioState(**state))


def record(name, hour, kind, phase="Completed", location="minio"):
    return BackupRecord(name, location, T0 + datetime.timedelta(hours=hour), None, phase, kind)


def context_with(steps, backups, driver=None, **state):
    dmaas = types.SimpleNamespace(plan_backups=lambda plan, location=None: list(backups))
    return scenario(steps, driver, dmaas=dmaas, **state)


def chain(count, period=24, wrong_at=None):
    kinds = ["full" if i % period == 0 else "incremental" for i in range(count)]
    if wrong_at is not None:
        kinds[wrong_at] = "incremental" if kinds[wrong_at] == "full" else "full"
    return [record(f"b{i:02d}", i + 1, kind) for i, kind in enumerate(kinds)]


def test_backup_kinds_in_order(steps):
    steps.plan.kinds_in_order(context_with(steps, chain(30)), "p", 23)


def test_a_missing_full_backup_is_named(steps):
    with pytest.raises(AssertionError, match=r"backup #25 is incremental \(sequence: Fx1 Ix29\)"):
        steps.plan.kinds_in_order(context_with(steps, chain(30, wrong_at=24)), "p", 23)


def test_too_few_backups_for_the_chain(steps):
    with pytest.raises(AssertionError, match="expected at least 25 backups, found 10"):
        steps.plan.kinds_in_order(context_with(steps, chain(10)), "p", 23)


def test_never_more_than(steps):
    context = scenario(steps, counts={"p": [(T0, 4), (T0 + datetime.timedelta(hours=1), 5)]})
    steps.plan.never_more_than(context, "p", 5)
    context.scenario_state.counts["p"].append((T0 + datetime.timedelta(hours=2), 6))
    with pytest.raises(AssertionError, match="at most 5 backups .* found 6 at 2026-01-05 02:00"):
        steps.plan.never_more_than(context, "p", 5)


class FakeBucket:
    profile = "minio"

    def __init__(self, objects, gone=()):
        self.objects, self.gone = objects, set(gone)    # gone: listed, deleted before they are read

    def list(self, prefix=""):
        return [types.SimpleNamespace(key=k, size=len(v)) for k, v in sorted(self.objects.items())
                if k.startswith(prefix)]

    def get(self, key):
        return self.objects[key]

    def get_if_present(self, key):
        return None if key in self.gone else self.objects[key]


def secret_context(steps, objects, gone=()):
    bucket = FakeBucket(objects, gone)
    driver = types.SimpleNamespace(scenario_root="root", bucket=lambda profile: bucket,
                                   target=types.SimpleNamespace(profile_buckets=["minio"]))
    return scenario(steps, driver, secret_values=["dmaas-secret-00ff"])


def test_a_planted_secret_is_found_in_base64_inside_a_gzip(steps):
    import base64
    import gzip
    clean = {"root/a/backups/b/b.tar.gz": gzip.compress(b"nothing to see")}
    steps.bucket.no_secret_values(secret_context(steps, clean))
    leaked = dict(clean, **{"root/a/backups/b/b-logs.gz": gzip.compress(base64.b64encode(b"x dmaas-secret-00ff"))})
    with pytest.raises(AssertionError, match="appears in minio:root/a/backups/b/b-logs.gz"):
        steps.bucket.no_secret_values(secret_context(steps, leaked))


def test_an_object_deleted_between_listing_and_reading_holds_no_secret(steps):
    """A live Velero deletes objects while the step reads the bucket (kopia
    compacts its indexes, GC removes expired backups): what is gone is skipped,
    what remains is still read."""
    objects = {"root/kopia/ns/xn0_1": b"index", "root/a/backups/b/b-logs.gz": b"x dmaas-secret-00ff"}
    with pytest.raises(AssertionError, match="appears in minio:root/a/backups/b/b-logs.gz"):
        steps.bucket.no_secret_values(secret_context(steps, objects, gone={"root/kopia/ns/xn0_1"}))
    steps.bucket.no_secret_values(secret_context(steps, objects, gone=set(objects) - {"root/kopia/ns/xn0_1"}))
    with pytest.raises(AssertionError, match="no object in any bucket"):
        steps.bucket.no_secret_values(secret_context(steps, objects, gone=set(objects)))


def restore_context(steps, unresolved, served_psp):
    result = types.SimpleNamespace(name="r1", phase="PartiallyFailed", errors=["error restoring x"], warnings=[],
                                   messages=[], unresolved=unresolved)
    served = [types.SimpleNamespace(plural="podsecuritypolicies", group_version="policy/v1beta1")] if served_psp else []
    cluster = types.SimpleNamespace(served=lambda: served)
    done = types.SimpleNamespace(cluster="modern", backup="b", mapping={}, record=result)
    return scenario(steps, types.SimpleNamespace(cluster=lambda name: cluster), restores=[done])


def test_not_served_needs_velero_to_say_it_cannot_resolve_the_resource(steps):
    """What Velero's restore log says (read by the DMaaS layer into
    RestoreRecord.unresolved), never an error text only the lab writes."""
    steps.restore.restore_reports_not_served(restore_context(steps, ["podsecuritypolicies.policy"], False),
                                             "modern", "podsecuritypolicies.policy")
    with pytest.raises(AssertionError, match="expected Velero's log to say it cannot resolve "
                                             "podsecuritypolicies.policy via discovery; it says so of: "
                                             "clusterclasses.cluster.x-k8s.io; errors: error restoring x"):
        steps.restore.restore_reports_not_served(restore_context(steps, ["clusterclasses.cluster.x-k8s.io"], False),
                                                 "modern", "podsecuritypolicies.policy")
    with pytest.raises(AssertionError, match="does serve podsecuritypolicies.policy"):
        steps.restore.restore_reports_not_served(restore_context(steps, ["podsecuritypolicies.policy"], True),
                                                 "modern", "podsecuritypolicies.policy")


def hourly_context(steps, hours_present, scale=1.0):
    """Runs made at those (scenario) hours after the plan's creation, on a clock of that time scale."""
    spec = types.SimpleNamespace(every=3600, retention_ttl=72 * 3600)
    backups = [record(f"b{h}", h, "full") for h in hours_present]
    for backup in backups:
        backup.started = T0 + (backup.started - T0) * scale
    clock = types.SimpleNamespace(now=lambda: T0 + datetime.timedelta(hours=6, minutes=30) * scale,
                                  scaled=lambda seconds: seconds * scale)
    return context_with(steps, backups, types.SimpleNamespace(clock=clock), plans={"p": spec},
                        plan_created={"p": T0})


def test_every_hour_of_the_run(steps):
    steps.plan.backup_every_hour(hourly_context(steps, [1, 2, 3, 4, 5, 6]), "p")
    with pytest.raises(AssertionError, match=r"due at 01-05 04:00 \(1 of 6 missing"):
        steps.plan.backup_every_hour(hourly_context(steps, [1, 2, 3, 5, 6]), "p")


def test_every_hour_of_the_run_on_a_real_clock(steps):
    """At one scenario hour a minute, the hours are the target's minutes, and
    Velero makes a due run in its own check phase: late within its period counts."""
    steps.plan.backup_every_hour(hourly_context(steps, [1.5, 2, 3, 4, 5.9, 6], scale=1 / 60), "p")
    # the realstack profile's time scale, 0.0167: its hour is 60 s as the plan's Schedules have it, not 60.12
    steps.plan.backup_every_hour(hourly_context(steps, [1, 2, 3, 4, 5, 6], scale=0.0167), "p")
    with pytest.raises(AssertionError, match=r"\(1 of 6 missing"):
        steps.plan.backup_every_hour(hourly_context(steps, [1, 2, 3, 4.5, 4.9, 6], scale=1 / 60), "p")


def prefix_context(steps, objects):
    bucket = FakeBucket(objects)
    driver = types.SimpleNamespace(scenario_root="root", bucket=lambda profile: bucket,
                                   target=types.SimpleNamespace(profile_buckets=["aws"]))
    return scenario(steps, driver, seen_backups={"p": {"p-1": None, "p-2": None}})


def test_objects_stay_under_the_chosen_prefix(steps):
    inside = {"root/teams/dba/mysql/backups/p-1/velero-backup.json": b"{}",
              "root/teams/dba/mysql/restic/mysql-prod/config": b"x"}
    steps.bucket.objects_under_prefix(prefix_context(steps, inside), "p", "teams/dba/mysql", "aws")
    stray = dict(inside, **{"root/aws/backups/p-2/velero-backup.json": b"{}"})
    with pytest.raises(AssertionError, match="objects outside teams/dba/mysql/ of the aws bucket: aws:aws/backups/p-2"):
        steps.bucket.objects_under_prefix(prefix_context(steps, stray), "p", "teams/dba/mysql", "aws")


def usage_context(steps, tmp_path, objects, view_bytes):
    """Two teams' plans sharing one location; the monitor view gives `view_bytes` per team."""
    from runner.dmaas.locations import Location
    bucket = FakeBucket(objects)
    labelled = {"red-hourly": [{"metadata": {"name": "red-hourly-1"}}],
                "blue-2h": [{"metadata": {"name": "blue-2h-1"}}]}
    velero = types.SimpleNamespace(backups=lambda label_selector: labelled[label_selector.split("=")[1]])
    driver = types.SimpleNamespace(scenario_root="root", bucket=lambda profile: bucket,
                                   cluster=lambda name: types.SimpleNamespace(velero=velero))
    plans = {"red-hourly": types.SimpleNamespace(team="red", cluster="w", namespaces=["red-web"], locations=["minio"]),
             "blue-2h": types.SimpleNamespace(team="blue", cluster="w", namespaces=["blue-db"], locations=["minio"])}
    rows = [{"team": team, "bucket": "minio", "bytes": size} for team, size in view_bytes.items()]
    dmaas = types.SimpleNamespace(monitor=lambda: {"plans": [], "usage": rows, "connectivity": []})
    context = scenario(steps, driver, dmaas=dmaas, plans=plans,
                       locations={"w": {"minio": Location("minio", "minio", "bkt", "root/minio")}})
    context.report_dir = tmp_path
    return context


USAGE = {"root/minio/backups/red-hourly-1/velero-backup.json": b"x" * 10,
         "root/minio/backups/red-hourly-1/red-hourly-1.tar.gz": b"x" * 100,
         "root/minio/kopia/red-web/p0001": b"x" * 1000,
         "root/minio/backups/blue-2h-1/velero-backup.json": b"x" * 20,
         "root/minio/snapshots/backups/blue-2h-1/cstor-pv1-blue-2h-1": b"x" * 5000,
         "root/other/kopia/red-web/p0001": b"x" * 7}


def test_usage_is_read_from_the_bucket_not_from_the_monitors_rule(steps, tmp_path):
    monitor = importlib.import_module("monitor_steps")
    monitor.usage_view(usage_context(steps, tmp_path, USAGE, {"red": 1110, "blue": 5020}), "minio")
    # a monitor that leaves out the file-system backup repositories (or the snapshots) disagrees
    with pytest.raises(AssertionError, match="team red: the usage view says 110 bytes .* the bucket holds 1110"):
        monitor.usage_view(usage_context(steps, tmp_path, USAGE, {"red": 110, "blue": 5020}), "minio")
    with pytest.raises(AssertionError, match="team blue: the usage view says 20 bytes .* the bucket holds 5020"):
        monitor.usage_view(usage_context(steps, tmp_path, USAGE, {"red": 1110, "blue": 20}), "minio")


def test_a_backups_volume_data_is_its_snapshot_objects_else_its_repositories_packs():
    import gzip
    import json
    from runner.driver.layout import VeleroLayout
    pvbs = [{"spec": {"pod": {"namespace": "web"}, "uploaderType": "kopia"}}]
    bucket = FakeBucket({
        "p/snapshots/backups/snap/cstor-pv1-snap": b"data", "p/snapshots/backups/snap/cstor-pv1-snap.meta.json": b"{}",
        "p/backups/fs/fs-podvolumebackups.json.gz": gzip.compress(json.dumps(pvbs).encode()),
        "p/kopia/web/p0001": b"pack", "p/kopia/web/q0001": b"meta", "p/kopia/web/kopia.repository": b"r"})
    bucket.exists = lambda key: key in bucket.objects
    layout = VeleroLayout(bucket, "p")
    assert layout.volume_data_keys("snap") == ["p/snapshots/backups/snap/cstor-pv1-snap"]
    assert [i.key for i in layout.snapshot_keys("snap")] == ["p/snapshots/backups/snap/cstor-pv1-snap",
                                                             "p/snapshots/backups/snap/cstor-pv1-snap.meta.json"]
    assert layout.volume_data_keys("fs") == ["p/kopia/web/p0001"]
    assert layout.volume_data_keys("none") == []


def restore_point_context(steps, real_time, now_hour):
    """Hourly backups b1..b10 kept 3 hours, seen from a target whose time is real or stands still."""
    backups = [record(f"b{h}", h, "full") for h in range(1, 11)]
    for b in backups:
        b.expires = b.started + datetime.timedelta(hours=3)
    clock = types.SimpleNamespace(now=lambda: T0 + datetime.timedelta(hours=now_hour), scaled=lambda seconds: seconds)
    target = types.SimpleNamespace(real_time=real_time, velero_gc_period=60)
    driver = types.SimpleNamespace(clock=clock, target=target, destroyed=lambda: set())
    # b11: made by the plan's Schedule after the scenario last looked (no data recorded for it)
    unseen = record("b11", 11, "full")
    unseen.expires = unseen.started + datetime.timedelta(hours=3)
    return context_with(steps, backups + [unseen], driver, plans={"p": types.SimpleNamespace(cluster="w")},
                        records={b.name: object() for b in backups})


def test_restore_points_were_seen_made_and_where_time_is_real_outlive_their_restore(steps):
    # the lab's clock stands still while a restore runs: the oldest is the oldest
    assert steps.restore.pick(restore_point_context(steps, False, 10), "p", "oldest", "w") == "b1"
    assert steps.restore.pick(restore_point_context(steps, False, 10), "p", "latest", "w") == "b10"
    # real time: b7 expires at hour 10, inside the restore's 180 s plus the GC period; b8 outlives it
    real = restore_point_context(steps, True, 10)
    assert steps.restore.pick(real, "p", "oldest", "w") == "b8"
    assert steps.restore.pick(real, "p", "latest", "w") == "b10"     # not b11: nothing to compare it with
    with pytest.raises(AssertionError, match="plan p, restore on cluster w: every backup expires before"):
        steps.restore.pick(restore_point_context(steps, True, 14), "p", "oldest", "w")


def test_a_backup_of_unknown_namespaces_is_not_restored_into_a_namespace(steps):
    context = scenario(steps, types.SimpleNamespace(cluster=lambda name: None))
    with pytest.raises(AssertionError, match="backup b1: this scenario recorded no application namespace of it; "
                                             "cannot restore it into namespace x"):
        steps.restore.restore(context, "b1", "separate", namespace="x")


def test_a_plan_counts_the_backups_made_by_the_moment_retention_judged(steps):
    """Velero runs one backup at a time: a plan with two locations has one run wait in
    New while the other runs, so it starts after retention judged, yet it was made before."""
    scenario_time = importlib.import_module("scenario_time")
    judged = T0 + datetime.timedelta(hours=3)

    def made(name, created, started):
        return BackupRecord(name, "minio", started, None, "Completed", None, created=created)
    backups = [made("b1", T0 + datetime.timedelta(hours=1), T0 + datetime.timedelta(hours=1)),
               made("b2", judged, judged + datetime.timedelta(seconds=16)),          # queued behind another
               made("b3", judged + datetime.timedelta(seconds=30), judged + datetime.timedelta(seconds=30))]
    dmaas = types.SimpleNamespace(plan_backups=lambda plan, location=None: list(backups), settle=lambda plan: None)
    driver = types.SimpleNamespace(clock=types.SimpleNamespace(now=lambda: judged))
    context = scenario(steps, driver, dmaas=dmaas, plans={"p": None}, records={b.name: None for b in backups})
    scenario_time.observe(context, judged_at=judged)
    assert context.scenario_state.counts["p"] == [(judged, 2)]
