"""The monitoring views (plans per team, S3 usage per team, connectivity),
each compared with ground truth read independently from the clusters and
buckets. The last view taken is written to <report dir>/monitor.json."""
import datetime
import json

import croniter

from runner.dmaas.plans import PLAN_LABEL
from steplib import as_time, location_of, spec_of, then


def view(context):
    """A fresh view from the DMaaS layer (never cached: faults change it)."""
    views = context.scenario_state.dmaas.monitor()
    path = context.report_dir / "monitor.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"views": views}, indent=2, default=str))
    return views


def schedule_truth(context, plan):
    """(last run, next run) of a plan, from its Schedules' status and cron on its cluster."""
    spec = spec_of(context, plan)
    schedules = context.driver.cluster(spec.cluster).velero.schedules(label_selector=f"{PLAN_LABEL}={plan}")
    assert schedules, f"cluster {spec.cluster} has no Schedule labelled {PLAN_LABEL}={plan}"
    lasts = [as_time((s.get("status") or {}).get("lastBackup")) for s in schedules]
    last = max((t for t in lasts if t), default=None)
    now = context.driver.clock.now()
    nexts = [croniter.croniter(s["spec"]["schedule"], now).get_next(datetime.datetime) for s in schedules]
    return last, min(nexts)


@then('the plans view lists for team "{team_a:Name}" plan "{plan_a:Own}" and for team "{team_b:Name}" '
      'plan "{plan_b:Own}", each with the last and next run recorded by the cluster')
def plans_view(context, team_a, plan_a, team_b, plan_b):
    rows = view(context)["plans"]
    for team, plan in ((team_a, plan_a), (team_b, plan_b)):
        listed = [r for r in rows if r.get("plan") == plan]
        assert listed, f"the plans view does not list plan {plan} (lists: {[r.get('plan') for r in rows]})"
        row = listed[0]
        assert row.get("team") == team, f"the plans view lists plan {plan} for team {row.get('team')}, not {team}"
        last, upcoming = schedule_truth(context, plan)
        assert as_time(row.get("last_run")) == last, (
            f"plan {plan}: the view says last run {row.get('last_run')}, the cluster recorded {last}")
        assert as_time(row.get("next_run")) == upcoming, (
            f"plan {plan}: the view says next run {row.get('next_run')}, the cluster's schedule gives {upcoming}")


def team_bytes_in_bucket(context, profile):
    """({team: bytes}, [keys of no team]) in a bucket, read without the
    monitor's rule: every object listed under the prefixes of the scenario's
    own locations in that bucket belongs to the team whose plan made a
    backup the key names (a path segment equal to the name of a Backup the
    plan's cluster holds with the plan's label) or takes a namespace the key
    names (a file-system backup repository); teams and namespaces are the
    scenario's own plan tables."""
    state = context.scenario_state
    owners, prefixes = {}, set()
    for plan, spec in state.plans.items():
        backups = context.driver.cluster(spec.cluster).velero.backups(label_selector=f"{PLAN_LABEL}={plan}")
        for name in [b["metadata"]["name"] for b in backups] + list(spec.namespaces):
            owners.setdefault(name, set()).add(spec.team)
        prefixes |= {location.prefix for location in (location_of(context, spec.cluster, name)
                                                      for name in spec.locations) if location.profile == profile}
    totals, nobodys = {}, []
    for prefix in sorted(prefixes):
        for info in context.driver.bucket(profile).list(prefix + "/"):
            teams = set().union(*(owners.get(part, set()) for part in info.key[len(prefix) + 1:].split("/")))
            for team in teams:
                totals[team] = totals.get(team, 0) + info.size
            if not teams:
                nobodys.append(info.key)
    return totals, nobodys


@then('the S3 usage view shows for each team the bytes its backups take in the "{profile:Name}" bucket, '
      'as read from the bucket')
def usage_view(context, profile):
    rows = [r for r in view(context)["usage"] if r.get("bucket") == profile]
    truth, nobodys = team_bytes_in_bucket(context, profile)
    for team in sorted({spec.team for spec in context.scenario_state.plans.values()}):
        listed = [r for r in rows if r.get("team") == team]
        assert listed, f"the usage view has no row for team {team} in the {profile} bucket (rows: {rows})"
        assert truth.get(team, 0) > 0, f"team {team} has no bytes in the {profile} bucket; nothing to compare"
        assert listed[0].get("bytes") == truth[team], (
            f"team {team}: the usage view says {listed[0].get('bytes')} bytes in the {profile} bucket, "
            f"the bucket holds {truth[team]}"
            + (f" (objects of no team there: {', '.join(nobodys[:3])})" if nobodys else ""))


# the view says what it sees: a cut cluster or bucket is "unreachable"
VIEW_STATUS = {"connected": "connected", "cut": "unreachable"}


def connectivity(context, kind, name):
    rows = [r for r in view(context)["connectivity"] if r.get("kind") == kind and r.get("name") == name]
    assert rows, f"the connectivity view does not show {kind} {name}"
    return rows[0].get("status")


def assert_state(context, kind, name, expected):
    found = connectivity(context, kind, name)
    assert found == VIEW_STATUS[expected], (f"the connectivity view shows {kind} {name} as {found}, "
                                            f"expected {VIEW_STATUS[expected]} ({expected})")
    truth = (context.driver.cluster(name).reachable() if kind == "cluster"
             else context.driver.bucket(name).reachable())
    assert truth == (expected == "connected"), (
        f"{kind} {name} is {'reachable' if truth else 'unreachable'} when checked directly, "
        f"but the scenario expects it {expected}")


@then('the connectivity view shows clusters {clusters:Names} and the "{profile:Name}" bucket as connected')
def all_connected(context, clusters, profile):
    for cluster in clusters:
        assert_state(context, "cluster", cluster, "connected")
    assert_state(context, "bucket", profile, "connected")


@then('the connectivity view shows cluster "{cluster:Name}" as {expected}')
def cluster_state(context, cluster, expected):
    assert_state(context, "cluster", cluster, expected)


@then('the connectivity view shows the "{profile:Name}" bucket as {expected}')
def bucket_state(context, profile, expected):
    assert_state(context, "bucket", profile, expected)
