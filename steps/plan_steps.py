"""Continuity plans, on-demand backups, and what the plans leave in the buckets."""
import datetime

from runner.dmaas import PlanSpec
from scenario_time import made_while_time_passed, plan_backup_names, plan_backups_seen
from steplib import (as_time, assert_count, given, layout_of, location_names, location_of, parse_duration, parse_list,
                     record_backup, spec_of, then, when)

SETTINGS = {"namespaces", "resources", "every", "full every", "retention", "keep last", "locations",
            "verify on", "exclude resources", "exclude labels"}


def plan_spec(context, name, team, cluster, table, data_only=False):
    settings = {}
    for row in table:
        key, value = row["setting"].strip(), row["value"].strip()
        if key not in SETTINGS:
            raise AssertionError(f"plan {name}: unknown setting '{key}' (known: {', '.join(sorted(SETTINGS))})")
        settings[key] = value
    names = context.driver.own           # the plan's namespaces and locations, as the target names them
    namespaces = [names(namespace) for namespace in parse_list(settings.get("namespaces", ""))]
    apps = context.scenario_state.apps
    engines = {apps[(cluster, ns)].engine for ns in namespaces if (cluster, ns) in apps}
    labels = parse_list(settings.get("exclude labels", ""))
    return PlanSpec(
        name=name, team=team, cluster=cluster, namespaces=namespaces,
        include_resources=parse_list(settings.get("resources", "")),
        exclude_resources=parse_list(settings.get("exclude resources", "")),
        label_selector=",".join(label.replace("=", "!=", 1) for label in labels) or None,
        every=parse_duration(settings["every"]),
        full_every=int(settings["full every"]) if "full every" in settings else None,
        retention_ttl=parse_duration(settings["retention"]) if "retention" in settings else None,
        keep_last=int(settings["keep last"]) if "keep last" in settings else None,
        locations=[names(location) for location in parse_list(settings["locations"])] if "locations" in settings
        else location_names(context, cluster),
        verify_on=settings.get("verify on") or None,
        data_only=data_only,
        engine=sorted(engines)[0] if engines else None)


def create_plan(context, name, team, cluster, data_only=False):
    spec = plan_spec(context, name, team, cluster, context.table, data_only)
    for location in spec.locations:
        location_of(context, cluster, location)
    state = context.scenario_state
    state.dmaas.create_plan(spec)
    state.plans[name] = spec
    state.plan_created[name] = context.driver.clock.now()
    state.plan_time_from[name] = state.time_passed


@given('team "{team:Name}" has a continuity plan "{name:Own}" on cluster "{cluster:Name}":')
def continuity_plan(context, team, name, cluster):
    create_plan(context, name, team, cluster)


@given('team "{team:Name}" has a data-only continuity plan "{name:Own}" on cluster "{cluster:Name}":')
def data_only_plan(context, team, name, cluster):
    create_plan(context, name, team, cluster, data_only=True)


@given('each backup of plan "{plan:Own}" is moved into namespace "{namespace:Own}" of cluster "{cluster:Name}"')
def moves_registered(context, plan, namespace, cluster):
    spec_of(context, plan)
    context.scenario_state.moves.setdefault(plan, []).append((cluster, namespace))


def take_backup(context, name, cluster, selection, location=None):
    record = context.scenario_state.dmaas.backup_now(cluster, name, selection, location)
    assert record.phase == "Completed", f"on-demand backup {name} on cluster {cluster} ended {record.phase}"
    record_backup(context, name, cluster)
    context.scenario_state.on_demand[name] = (cluster, location or location_names(context, cluster)[0])
    return record


@when('the team takes an on-demand backup "{name:Own}" of namespace "{namespace:Own}" on cluster "{cluster:Name}" '
      'to location "{location:Own}"')
def backup_namespace_to(context, name, namespace, cluster, location):
    location_of(context, cluster, location)
    take_backup(context, name, cluster, {"namespaces": [namespace]}, location)


@when('the team takes an on-demand backup "{name:Own}" of namespace "{namespace:Own}" on cluster "{cluster:Name}"')
def backup_namespace(context, name, namespace, cluster):
    take_backup(context, name, cluster, {"namespaces": [namespace]})


@when('the team takes an on-demand backup "{name:Own}" of resources "{resources:Name}" on cluster "{cluster:Name}"')
def backup_resources(context, name, resources, cluster):
    take_backup(context, name, cluster, {"include_resources": parse_list(resources)})


@when('the team takes an on-demand backup "{name:Own}" with the selection of plan "{plan:Own}"')
def backup_like_plan(context, name, plan):
    spec = spec_of(context, plan)
    take_backup(context, name, spec.cluster, {"plan": plan})


def plan_layouts(context, plan, profile):
    """The Velero layouts of the plan's locations in that bucket (as the scenario made them)."""
    spec = spec_of(context, plan)
    return [layout_of(context, location) for location in (location_of(context, spec.cluster, name)
                                                            for name in spec.locations)
            if location.profile == profile]


def completed_in_bucket(context, plan, profile):
    """The plan's Completed backups whose velero-backup.json is in that bucket,
    read from the bucket, of those made while scenario time passed."""
    layouts = plan_layouts(context, plan, profile)
    names = {b.name for b in context.scenario_state.dmaas.plan_backups(plan)
             if b.phase == "Completed" and made_while_time_passed(context, plan, b)}
    found = set()
    for layout in layouts:
        for name in set(layout.backup_names()) & names:
            if layout.metadata(name).get("status", {}).get("phase") == "Completed":
                found.add(name)
    return found


@then('plan "{plan:Own}" has {count:d} completed backups in the "{profile:Name}" bucket')
def completed_backups(context, plan, count, profile):
    """Counted in the bucket itself (the plan's backups whose velero-backup.json
    there says Completed): a backup the cluster lists but the bucket lost does not count."""
    assert_count(completed_in_bucket(context, plan, profile), count,
                 f"plan {plan}: expected {count} completed backups in the {profile} bucket")


@then('plan "{plan:Own}" never had more than {limit:d} backups in the bucket')
def never_more_than(context, plan, limit):
    history = context.scenario_state.counts.get(plan, [])
    assert history, f"plan {plan}: no observations (did time pass?)"
    worst = max(history, key=lambda item: item[1])
    assert worst[1] <= limit, (f"plan {plan}: expected at most {limit} backups in the bucket at any time, "
                               f"found {worst[1]} at {worst[0]:%Y-%m-%d %H:%M}")


@then('plan "{plan:Own}" has a completed backup for every hour of the run')
def backup_every_hour(context, plan):
    """Each run due at creation + k * every (the plan's own cadence, in the
    target's seconds) has a completed backup made before the next was due:
    on the lab at its minute, where time is real up to a period late (Velero
    makes a due run in its own check phase, once a minute)."""
    spec = spec_of(context, plan)
    assert spec.every <= 3600, f"plan {plan} runs every {spec.every} s, less often than hourly"
    clock = context.driver.clock
    # in whole seconds, as the plan made its Schedules (a time scale of 0.0167 is not 1/60)
    every = datetime.timedelta(seconds=round(clock.scaled(spec.every)))
    created = context.scenario_state.plan_created[plan].replace(second=0, microsecond=0)
    now = clock.now()
    oldest_kept = now - datetime.timedelta(seconds=clock.scaled(spec.retention_ttl)) if spec.retention_ttl else created
    made = [b.made.replace(second=0, microsecond=0)
            for b in context.scenario_state.dmaas.plan_backups(plan) if b.phase == "Completed"]
    due, missing, expected = created, [], 0
    while (due := due + every) <= now:
        if due > oldest_kept:
            expected += 1
            if not any(due <= moment < due + every for moment in made):
                missing.append(due)
    assert expected, f"plan {plan}: no run was due during the scenario"
    assert not missing, (f"plan {plan}: no completed backup for the run due at "
                         f"{', '.join(f'{m:%m-%d %H:%M}' for m in missing[:8])} ({len(missing)} of {expected} "
                         f"missing, {len(made)} completed)")


@then('the backups of plan "{plan:Own}" are of the kinds full, then {incrementals:d} incremental, '
      'then full again, in that order')
def kinds_in_order(context, plan, incrementals):
    kinds = [b.kind for b in sorted(_all_plan_backups(context, plan), key=lambda b: as_time(b.started))]
    expected = ["full"] + ["incremental"] * incrementals + ["full"]
    assert len(kinds) >= len(expected), (f"plan {plan}: expected at least {len(expected)} backups, "
                                         f"found {len(kinds)}: {_kind_text(kinds)}")
    period = incrementals + 1
    wrong = [(i, kind) for i, kind in enumerate(kinds)
             if kind != ("full" if i % period == 0 else "incremental")]
    assert not wrong, (f"plan {plan}: expected kinds full, then {incrementals} incremental, repeating; "
                       f"backup #{wrong[0][0] + 1} is {wrong[0][1]} (sequence: {_kind_text(kinds)})")


def _all_plan_backups(context, plan):
    """Every backup of the plan in the order it ran, expired ones included
    (observed after every clock step, so retention does not hide them)."""
    seen = plan_backups_seen(context, plan)
    for backup in context.scenario_state.dmaas.plan_backups(plan):
        seen[backup.name] = backup
    return [b for b in seen.values() if b.phase == "Completed"]


def _kind_text(kinds):
    text, run, previous = [], 0, None
    for kind in kinds + [None]:
        if kind == previous:
            run += 1
            continue
        if previous is not None:
            text.append(f"{'F' if previous == 'full' else 'I'}x{run}")
        previous, run = kind, 1
    return " ".join(text)


@then('only the backups of plan "{plan:Own}" from the last {retention:Duration} remain in the "{profile:Name}" bucket')
def only_recent_remain(context, plan, retention, profile):
    """Backups older than the retention are gone, except those a retained
    incremental stands on: on a snapshot engine a chain (a full and the
    incrementals after it, `full every` runs in the order they ran) stays
    whole while any of it is retained, and must (the OpenEBS plugin deletes a
    backup's snapshot with it, and an incremental restores only on its chain)."""
    now = context.driver.clock.now()
    cutoff = now - datetime.timedelta(seconds=context.driver.clock.scaled(retention))
    present = {}
    for layout in plan_layouts(context, plan, profile):
        for name in set(layout.backup_names()) & plan_backup_names(context, plan):
            present[name] = _started(layout.metadata(name))
    chains = _chains(context, plan)
    # a backup started exactly at the cutoff may or may not have been collected yet, and
    # Velero's garbage collector passes only every velero_gc_period (the lab's at expiration)
    collected_by = cutoff - datetime.timedelta(seconds=context.driver.target.velero_gc_period)
    kept_for = {name: chain for chain in chains for name in chain
                if any(started >= collected_by for started in chain.values())}
    too_old = sorted(name for name, started in present.items() if started < collected_by and name not in kept_for)
    assert not too_old, (f"plan {plan}: backups older than {retention // 3600} h (before "
                         f"{cutoff:%Y-%m-%d %H:%M}) still in the {profile} bucket, no retained backup standing on "
                         f"them: {', '.join(too_old[:5])}")
    expected = {name for name, record in _recorded(context, plan).items() if record.time > cutoff}
    missing = sorted(expected - set(present))
    assert not missing, (f"plan {plan}: backups of the last {retention // 3600} h missing from the {profile} "
                         f"bucket: {', '.join(missing[:5])}")
    for chain in chains:
        retained = [name for name, started in chain.items() if name in expected]
        base = [name for name in chain if name not in present and retained and chain[name] <= chain[retained[-1]]]
        assert not base, (f"plan {plan}: backup(s) {', '.join(base[:5])} missing from the {profile} bucket while "
                          f"the retained backup {retained[-1]} of their chain stands on them (a full and the "
                          f"incrementals up to it must remain for it to restore)")
    assert present, f"plan {plan}: no backup at all in the {profile} bucket"


def _chains(context, plan):
    """Every backup the plan made, in the order it ran, cut per location into
    chains of `full every` runs on a snapshot engine (one run each on a
    file-system engine, whose backups restore alone): [{name: started}]."""
    spec = spec_of(context, plan)
    snapshot = spec.engine and context.driver.engine(spec.engine).backup == "snapshot"
    length = int(spec.full_every or 1) if snapshot else 1
    by_location = {}
    for backup in sorted(_all_plan_backups(context, plan), key=lambda b: as_time(b.started)):
        by_location.setdefault(backup.location, []).append(backup)
    chains = []
    for backups in by_location.values():
        for start in range(0, len(backups), length):
            chains.append({b.name: as_time(b.started) for b in backups[start:start + length]})
    return chains


def _recorded(context, plan):
    return {name: record for name, record in context.scenario_state.records.items() if record.plan == plan}


def _started(metadata):
    text = (metadata.get("status") or {}).get("startTimestamp") or metadata["metadata"]["creationTimestamp"]
    return as_time(text)
