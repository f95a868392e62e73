"""Faults in what a backup location holds, done through the driver's bucket
clients and Velero's own objects only (so they work on a real target too):
losing the full snapshot an incremental chain stands on, deleting the full
backup under a retained incremental (as a TTL shorter than the chain would),
corrupting a backup's stored volume data, and a backup copied to a bucket by
hand, outside the verified promotion."""

from runner.dmaas import retention
from runner.driver.layout import BucketKeys
from scenario_time import plan_backups_seen
from steplib import as_time, layout_of, location_of, spec_of, when


def _plan_layouts(context, plan, profile):
    """The VeleroLayout of each location of the plan in that bucket."""
    spec = spec_of(context, plan)
    found = [layout_of(context, location) for location in (location_of(context, spec.cluster, name)
                                                             for name in spec.locations)
             if location.profile == profile]
    assert found, f"plan {plan} has no location in the {profile} bucket"
    return found


def _completed(context, plan):
    backups = [b for b in context.scenario_state.dmaas.plan_backups(plan) if b.phase == "Completed"]
    assert backups, f"plan {plan} has no completed backup"
    return sorted(backups, key=lambda b: as_time(b.started))


@when('the full snapshot under the oldest backup of plan "{plan:Own}" is deleted from the "{profile:Name}" bucket')
def full_base_deleted(context, plan, profile):
    """The full backup the oldest retained backup's chain starts from (that
    backup itself when it is full) loses its stored volume data."""
    oldest = _completed(context, plan)[0]
    seen = [b for b in plan_backups_seen(context, plan).values()
            if b.kind == "full" and as_time(b.started) <= as_time(oldest.started)]
    assert seen, f"plan {plan}: no full backup seen at or before its oldest backup {oldest.name}"
    base = max(seen, key=lambda b: as_time(b.started)).name
    deleted = []
    for layout in _plan_layouts(context, plan, profile):
        for info in layout.snapshot_keys(base):
            layout.bucket.delete(info.key)
            deleted.append(info.key)
    assert deleted, (f"plan {plan}: no stored volume data of full backup {base} (base of {oldest.name}) "
                     f"in the {profile} bucket")


@when('the full backup under the oldest incremental backup of plan "{plan:Own}" is deleted')
def full_backup_deleted(context, plan):
    """A DeleteBackupRequest (what Velero's garbage collector makes when a TTL
    runs out) for the full backup the plan's oldest incremental stands on."""
    backups = _completed(context, plan)
    incremental = next((b for b in backups if b.kind == "incremental"), None)
    assert incremental, f"plan {plan} has no incremental backup"
    fulls = [b for b in backups if b.kind == "full" and b.location == incremental.location
             and as_time(b.started) < as_time(incremental.started)]
    assert fulls, f"plan {plan}: no full backup under its oldest incremental {incremental.name} is left"
    base = fulls[-1]
    spec = spec_of(context, plan)
    client = context.driver.cluster(spec.cluster)
    retention.delete_backups(client, [base.name])
    retention.wait_deleted(client, layout_of(context, location_of(context, spec.cluster, base.location)),
                           [base.name])


@when('the stored volume data of the {which:Which} backup of plan "{plan:Own}" is corrupted in the '
      '"{profile:Name}" bucket')
def plan_backup_corrupted(context, which, plan, profile):
    backups = _completed(context, plan)
    assert which in ("oldest", "latest"), f"choose the oldest or the latest backup, not {which!r}"
    backup = (backups[0] if which == "oldest" else backups[-1]).name
    corrupted = []
    for layout in _plan_layouts(context, plan, profile):
        for key in layout.volume_data_keys(backup):
            context.driver.corrupt(profile, key)
            corrupted.append(key)
    assert corrupted, f"plan {plan}: no stored volume data of backup {backup} in the {profile} bucket"


@when('backup "{backup:Own}" is copied to the "{profile:Name}" bucket without verification')
def copied_by_hand(context, backup, profile):
    """Copy an on-demand backup's Velero objects to where a promotion to that
    bucket puts them (<scenario root>/<bucket profile>/backups/<name>/)."""
    on_demand = context.scenario_state.on_demand.get(backup)
    assert on_demand, f"no on-demand backup {backup} in this scenario"
    cluster, location_name = on_demand
    source = layout_of(context, location_of(context, cluster, location_name))
    target, target_keys = context.driver.bucket(profile), BucketKeys(f"{context.driver.scenario_root}/{profile}")
    keys = source.keys(backup)
    assert keys, f"backup {backup} has no objects in location {location_name}"
    for info in keys:
        target.put(target_keys.key(source.relative(info.key)), source.bucket.get(info.key))
