"""What the buckets hold, read from the buckets themselves; quotas,
capacity warnings and corrupting stored data."""
from runner.driver.layout import BucketKeys, VeleroLayout
from steplib import encodings, given, layout_of, location_of, readable_forms, spec_of, then, when
from scenario_time import made_while_time_passed, plan_backup_names


def scenario_buckets(context):
    """Every bucket profile this target has, as Bucket clients."""
    return {profile: context.driver.bucket(profile) for profile in context.driver.target.profile_buckets}


def scenario_layouts(context):
    """(where, VeleroLayout) for every location of every cluster in the scenario,
    one per distinct bucket prefix."""
    seen = {}
    root = f"{context.driver.scenario_root}/"
    for cluster, named in context.scenario_state.locations.items():
        for name, location in named.items():
            key = (location.profile, location.prefix)
            if key not in seen:
                seen[key] = (f"{location.profile}:{location.prefix[len(root):]}", layout_of(context, location))
    return list(seen.values())


@then('no backup in any bucket contains a Secret object')
def no_secret_objects(context):
    checked, found = 0, []
    for where, layout in scenario_layouts(context):
        for name in layout.backup_names():
            checked += 1
            contents = layout.contents(name)
            found += [f"{where} {name}: {i.namespace}/{i.name}" for i in contents.of("secrets")]
            listed = [key for key in layout.resource_list(name) if key.endswith("/Secret")]
            found += [f"{where} {name}: resource list names {key}" for key in listed]
    assert checked, "no backup found in any bucket of this scenario"
    assert not found, f"Secret objects in backups: {', '.join(found[:5])}"


@then('no generated secret value appears in any object of any bucket, in plain, base64 or compressed form')
def no_secret_values(context):
    values = context.scenario_state.secret_values
    assert values, "no secret values were planted in this scenario"
    needles = {value: encodings(value) for value in values}
    checked, leaks = 0, []
    for profile, bucket in scenario_buckets(context).items():
        for info in bucket.list(context.driver.scenario_root + "/"):
            # a live Velero deletes objects meanwhile (expired backups, kopia's
            # compacted indexes): one gone since the listing holds nothing now
            data = bucket.get_if_present(info.key)
            if data is None:
                continue
            checked += 1
            for form in readable_forms(data):
                leaks += [f"{profile}:{info.key}" for value, forms in needles.items()
                          if any(needle in form for needle in forms)]
    assert checked, "no object in any bucket under this scenario's root"
    assert not leaks, f"a planted secret value appears in {', '.join(sorted(set(leaks))[:5])}"


@then('every object plan "{plan:Own}" wrote is under prefix "{prefix:Name}" of the "{profile:Name}" bucket')
def objects_under_prefix(context, plan, prefix, profile):
    root = f"{context.driver.scenario_root}/"
    inside = BucketKeys(f"{root}{prefix}")
    names = plan_backup_names(context, plan)
    assert names, f"plan {plan} made no backups"
    outside, backed_up = [], set()
    for other, bucket in scenario_buckets(context).items():
        for info in bucket.list(root):
            if other != profile or not info.key.startswith(inside.prefix + "/"):
                outside.append(f"{other}:{info.key[len(root):]}")
                continue
            backed_up |= {name for name in names if info.key.startswith(inside.backup_dir(name))}
    assert backed_up, f"plan {plan}: none of its backups is under {prefix}/ of the {profile} bucket"
    assert not outside, (f"plan {plan}: objects outside {prefix}/ of the {profile} bucket: "
                         f"{', '.join(outside[:5])}")


@then('locations {names:Owns} each hold a complete copy of every backup of plan "{plan:Own}"')
def complete_copies(context, names, plan):
    spec = spec_of(context, plan)
    runs = {}       # by the minute the Schedules made the Backups: a real Velero starts them one after another
    for backup in context.scenario_state.dmaas.plan_backups(plan):
        if backup.phase == "Completed" and made_while_time_passed(context, plan, backup):
            runs.setdefault(_minute(backup.made), {})[backup.location] = backup.name
    assert runs, f"plan {plan} has no completed backup"
    layouts = {name: layout_of(context, location_of(context, spec.cluster, name)) for name in names}
    for when_run, by_location in sorted(runs.items()):
        copies = {}
        for name, layout in layouts.items():
            backup = by_location.get(name)
            assert backup, (f"plan {plan}: the run at {when_run} has no backup in location {name} "
                            f"(it has: {', '.join(f'{k}={v}' for k, v in sorted(by_location.items()))})")
            assert backup in layout.backup_names(), f"location {name} does not hold backup {backup} of plan {plan}"
            copies[name] = sorted(f"{i.group_resource}/{i.namespace or ''}/{i.name}"
                                  for i in layout.contents(backup).items)
        first, *others = names
        for other in others:
            assert copies[other] == copies[first], (
                f"plan {plan}, run at {when_run}: location {other} holds {len(copies[other])} items, {first} "
                f"{len(copies[first])}; differing: {sorted(set(copies[other]) ^ set(copies[first]))[:5]}")


def _minute(moment):
    text = moment if isinstance(moment, str) else moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return text[:16]


@then('no backup in any location contains an ingress or the deployment "{deployment:Name}"')
def no_ingress_no_deployment(context, deployment):
    checked, found = 0, []
    for where, layout in scenario_layouts(context):
        for name in layout.backup_names():
            checked += 1
            contents = layout.contents(name)
            found += [f"{where} {name}: ingress {i.namespace}/{i.name}"
                      for i in contents.items if i.group_resource.startswith("ingresses.")]
            found += [f"{where} {name}: deployment {i.namespace}/{i.name}"
                      for i in contents.of("deployments.apps") if i.name == deployment]
    assert checked, "no backup in any location of this scenario"
    assert not found, f"excluded objects in backups: {', '.join(found[:5])}"


@then('no backup of plan "{plan:Own}" contains a workload resource')
def no_workloads(context, plan):
    workloads = ("deployments.apps", "statefulsets.apps", "replicasets.apps", "daemonsets.apps", "pods",
                 "jobs.batch", "cronjobs.batch")
    names = plan_backup_names(context, plan)
    checked, found = 0, []
    for where, layout in scenario_layouts(context):
        for name in set(layout.backup_names()) & names:
            checked += 1
            found += [f"{name}: {i.group_resource} {i.namespace}/{i.name}"
                      for i in layout.contents(name).items if i.group_resource in workloads]
    assert checked, f"no backup of plan {plan} in any bucket"
    assert not found, f"workload resources in data-only backups of plan {plan}: {', '.join(found[:5])}"


def on_demand_layout(context, backup):
    """The layout of the location an on-demand backup of this scenario went to."""
    on_demand = context.scenario_state.on_demand.get(backup)
    assert on_demand, f"no on-demand backup {backup} in this scenario"
    return layout_of(context, location_of(context, *on_demand))


@then('backup "{backup:Own}" holds the configmaps, statefulsets and volumes of cortex and cassandra')
def cortex_backup_holds(context, backup):
    layout = on_demand_layout(context, backup)
    contents = layout.contents(backup)
    statefulsets = {i.name for i in contents.of("statefulsets.apps")}
    configmaps = {i.name for i in contents.of("configmaps")}
    claims = {i.name for i in contents.of("persistentvolumeclaims")}
    volumes = layout.pod_volume_backups(backup) or layout.volume_snapshots(backup)
    for component in ("cortex", "cassandra"):
        assert any(component in n for n in statefulsets), (
            f"backup {backup}: no statefulset of {component} (statefulsets: {sorted(statefulsets)})")
        assert any(component in n for n in configmaps), (
            f"backup {backup}: no configmap of {component} (configmaps: {sorted(configmaps)})")
        assert any(component in n for n in claims), (
            f"backup {backup}: no volume claim of {component} (claims: {sorted(claims)})")
    assert volumes, f"backup {backup}: no volume data (no pod volume backups, no volume snapshots)"
    backed_up = " ".join(str(v) for v in volumes)
    for component in ("cortex", "cassandra"):
        assert component in backed_up, f"backup {backup}: no volume data of {component}"


@then('backup "{backup:Own}" is not in the "{profile:Name}" bucket')
def backup_not_in(context, backup, profile):
    bucket = context.driver.bucket(profile)
    found = [i.key for i in bucket.list(context.driver.scenario_root + "/")
             if f"/{BucketKeys().backup_dir(backup)}" in i.key]
    assert not found, f"backup {backup} is in the {profile} bucket: {', '.join(found[:3])}"


@then('backup "{backup:Own}" is in the "{profile:Name}" bucket, uploaded after the verification passed')
def backup_promoted(context, backup, profile):
    result = context.scenario_state.promotion
    assert result.verified, f"verification of {backup} did not pass: {result.reason}"
    assert result.uploaded, f"backup {backup} was not uploaded to the {profile} bucket: {result.reason}"
    bucket = context.driver.bucket(profile)
    layout = VeleroLayout(bucket, result.prefix)
    assert backup in layout.backup_names(), (
        f"backup {backup}: no {layout.backup_metadata_key(backup)} in the {profile} bucket")
    verified_at = result.verified_at.replace(microsecond=0)
    early = [i.key for i in layout.keys(backup) if i.last_modified < verified_at]
    assert not early, (f"backup {backup}: objects in the {profile} bucket written before the verification passed "
                       f"at {result.verified_at:%H:%M:%S}: {', '.join(early[:3])}")


@when('the stored volume data of backup "{backup:Own}" is corrupted in the "{profile:Name}" bucket')
def corrupt_volume_data(context, backup, profile):
    layout = on_demand_layout(context, backup)
    assert layout.bucket.profile == profile, f"backup {backup} is in the {layout.bucket.profile} bucket, not {profile}"
    keys = layout.volume_data_keys(backup)
    assert keys, f"backup {backup}: no stored volume data found to corrupt in the {profile} bucket"
    for key in keys:
        context.driver.corrupt(profile, key)


@given('the "{profile:Name}" bucket has a quota of {size:Size}')
def bucket_quota(context, profile, size):
    context.scenario_state.dmaas.set_capacity(profile, size)


@when('the team asks whether the "{profile:Name}" bucket has room for a backup of namespace "{namespace:Own}" '
      'on cluster "{cluster:Name}"')
def capacity_asked(context, profile, namespace, cluster):
    context.scenario_state.capacity = context.scenario_state.dmaas.capacity_check(cluster, [namespace], profile)


@then('the team is warned that the "{profile:Name}" bucket has not enough space')
def warned(context, profile):
    warning = context.scenario_state.capacity
    assert warning is not None, f"no capacity warning for the {profile} bucket"
    assert profile in str(warning), f"the warning does not name the {profile} bucket: {warning}"


@then('the team is not warned')
def not_warned(context):
    warning = context.scenario_state.capacity
    assert warning is None, f"unexpected capacity warning: {warning}"
