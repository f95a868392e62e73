"""Restores, discovery from a bucket, and what a restore brought back."""
from runner.dmaas import restore_points
from scenario_state import App, RestoreDone
from scenario_time import plan_backup_names, plan_backups_seen
from steplib import as_time, assert_count, probe, record_of, spec_of, then, when

COMPONENT = "app.kubernetes.io/name"


def restore(context, backup, cluster, namespace=None, location=None):
    """Restore a backup on a cluster (into `namespace` if given); the restored
    applications become known to later steps under their new namespaces."""
    state = context.scenario_state
    record = state.records.get(backup)
    source_namespaces = sorted(record.states) if record else []
    mapping = {ns: namespace for ns in source_namespaces} if namespace else {}
    if namespace and not source_namespaces:
        # without a mapping Velero would restore into the backup's own namespaces, not into `namespace`
        raise AssertionError(f"backup {backup}: this scenario recorded no application namespace of it; "
                             f"cannot restore it into namespace {namespace}")
    if namespace and len(source_namespaces) > 1:
        raise AssertionError(f"backup {backup} holds {len(source_namespaces)} application namespaces; "
                             f"restoring into one namespace {namespace} is ambiguous")
    context.driver.cluster(cluster)
    asked = context.driver.clock.now()
    result = state.dmaas.restore(cluster, backup, namespace_mapping=mapping or None, location=location)
    identity = {ns: ns for ns in source_namespaces}
    done = RestoreDone(cluster, backup, {**identity, **mapping}, result, asked)
    state.restores.append(done)
    if record:
        for source, target in done.mapping.items():
            app = state.apps.get((record.cluster, source))
            if app:
                state.apps.setdefault((cluster, target), App(app.name, app.engine, app.replicas))
    return done


def plan_backups_by_time(context, plan, cluster):
    """The plan's completed backups that can still be restored on `cluster`,
    oldest first: those its own cluster lists, or, once that cluster is gone,
    those `cluster` discovered from the bucket; of them, those whose data this
    scenario recorded when it saw them made (where time is real, the plan's
    Schedule goes on making backups after the scenario stopped watching: a
    restore of one of those would have nothing to compare with)."""
    spec = spec_of(context, plan)
    seen = plan_backups_seen(context, plan)
    if spec.cluster in context.driver.destroyed():
        available = context.scenario_state.discovered.get(cluster, set())
        backups = [b for name, b in seen.items() if name in available and b.phase == "Completed"]
    else:
        backups = [b for b in context.scenario_state.dmaas.plan_backups(plan) if b.phase == "Completed"]
    assert backups, f"plan {plan}: no completed backup available to cluster {cluster}"
    recorded = context.scenario_state.records
    backups = [b for b in backups if b.name in recorded]
    assert backups, f"plan {plan}: none of the completed backups available to cluster {cluster} was seen made"
    return sorted(backups, key=lambda b: as_time(b.started))


def pick(context, plan, which, cluster):
    """The name of the plan's backup `which` names, among those available to `cluster`."""
    target = context.driver.target
    until = restore_points.outlive_until(context.driver.clock.now(), target.velero_gc_period) \
        if target.real_time else None
    day = context.driver.clock.scaled(86400)
    try:
        return restore_points.choose(plan_backups_by_time(context, plan, cluster), which, day, until).name
    except restore_points.NoRestorePoint as error:
        raise AssertionError(f"plan {plan}, restore on cluster {cluster}: {error}") from None


@when('backup "{backup:Own}" is restored on cluster "{cluster:Name}"')
def restore_named(context, backup, cluster):
    restore(context, backup, cluster)


@when('the {which:Which} backup of plan "{plan:Own}" is restored on cluster "{cluster:Name}"')
def restore_plan_backup(context, which, plan, cluster):
    restore(context, pick(context, plan, which, cluster), cluster)


@when('the {which:Which} backup of plan "{plan:Own}" is restored on cluster "{cluster:Name}" into '
      'namespace "{namespace:Own}"')
def restore_plan_backup_into(context, which, plan, cluster, namespace):
    restore(context, pick(context, plan, which, cluster), cluster, namespace=namespace)


@when('the latest backup of plan "{plan:Own}" is restored on clusters {clusters:Names}')
def restore_latest_on_many(context, plan, clusters):
    backup = pick(context, plan, "latest", clusters[0])
    for cluster in clusters:
        restore(context, backup, cluster)


@when('the latest backup of plan "{plan:Own}" in location "{location:Own}" is restored on cluster "{cluster:Name}"')
def restore_latest_from(context, plan, location, cluster):
    backups = [b for b in plan_backups_by_time(context, plan, cluster) if b.location == location]
    assert backups, f"plan {plan} has no completed backup in location {location}"
    restore(context, backups[-1].name, cluster, location=location)


def restore_on(context, cluster):
    done = [d for d in context.scenario_state.restores if d.cluster == cluster]
    assert done, f"no restore was done on cluster {cluster} in this scenario"
    return done[-1]


@then('the restore on cluster "{cluster:Name}" completed')
def restore_completed(context, cluster):
    done = restore_on(context, cluster)
    result = done.record
    assert result.phase == "Completed" and not result.errors, (
        f"restore {result.name} of {done.backup} on cluster {cluster}: expected Completed without errors, "
        f"found {result.phase}; errors: {'; '.join(map(str, result.errors)) or 'none'}")


@then('the restore on cluster "{cluster:Name}" reports that "{resource:Name}" is not served by that cluster')
def restore_reports_not_served(context, cluster, resource):
    """Velero's restore log (in the bucket) names the resource as one it
    could not resolve on that cluster, and the cluster's discovery indeed
    lacks it. Velero before 1.14 skips such a resource quietly (Info);
    later releases go on and fail to create each item."""
    done = restore_on(context, cluster)
    result = done.record
    assert resource in result.unresolved, (
        f"restore {result.name} on cluster {cluster} ({result.phase}): expected Velero's log to say it cannot "
        f"resolve {resource} via discovery; it says so of: {', '.join(result.unresolved) or 'nothing'}; "
        f"errors: {'; '.join(map(str, result.errors)) or 'none'}")
    group_resource = resource.split(".", 1)
    plural, group = group_resource[0], group_resource[1] if len(group_resource) > 1 else ""
    served = [r for r in done_cluster(context, cluster).served() if r.plural == plural
              and (r.group_version.split("/")[0] if "/" in r.group_version else "") == group]
    assert not served, f"cluster {cluster} does serve {resource} ({served[0].group_version}); test set-up is wrong"


def done_cluster(context, cluster):
    return context.driver.cluster(cluster)


@then('every restored resource on cluster "{cluster:Name}" is in an API version that cluster serves')
def restored_versions_served(context, cluster):
    done = restore_on(context, cluster)
    client = context.driver.cluster(cluster)
    served = {(r.group_version, r.kind) for r in client.served()}
    selector = f"velero.io/restore-name={done.record.name}"
    checked, wrong = 0, []
    for resource in client.served():
        if "list" not in resource.verbs:
            continue
        for obj in client.list(resource.group_version, resource.kind, label_selector=selector):
            checked += 1
            if (obj.get("apiVersion"), obj.get("kind")) not in served:
                wrong.append(f"{obj.get('kind')}/{obj['metadata']['name']} as {obj.get('apiVersion')}")
    assert checked, f"restore {done.record.name} on cluster {cluster}: no restored object carries its label"
    assert not wrong, f"cluster {cluster} holds restored objects in versions it does not serve: {', '.join(wrong)}"


@then('cluster "{cluster:Name}" discovers the {count:d} backups of plan "{plan:Own}" from the bucket alone')
def discovers_count(context, cluster, count, plan):
    """After Velero's backup sync of each of the cluster's locations; only the plan's backups count."""
    assert_count(discover(context, cluster, plan), count,
                 f"cluster {cluster}: expected to discover {count} backups of plan {plan}")


@then('cluster "{cluster:Name}" discovers the backups of plan "{plan:Own}" from the bucket alone')
def discovers_all(context, cluster, plan):
    dmaas = context.scenario_state.dmaas
    if spec_of(context, plan).cluster in context.driver.destroyed():
        expected = {n for n, b in plan_backups_seen(context, plan).items() if b.phase == "Completed"}
        found = discover(context, cluster, plan)
    else:
        # the plan's cluster still runs its Schedules: on a real one they keep making backups, and
        # expiring old ones, while this cluster syncs; what it must list are the backups that were
        # there when discovery began and still are
        expected = {b.name for b in dmaas.plan_backups(plan) if b.phase == "Completed"}
        found = discover(context, cluster, plan)
        expected &= {b.name for b in dmaas.plan_backups(plan)}
    missing = sorted(expected - found)
    assert found and not missing, (f"cluster {cluster}: did not discover {len(missing)} of plan {plan}'s "
                                   f"{len(expected)} backups: {', '.join(missing[:5]) or '(none found at all)'}")


def discover(context, cluster, plan):
    """Backup names of the plan that `cluster` lists after syncing its locations."""
    state = context.scenario_state
    names = set()
    for location in sorted(state.locations.get(cluster, {})):
        names |= set(state.dmaas.discover(cluster, location))
    state.discovered.setdefault(cluster, set()).update(names)
    return names & plan_backup_names(context, plan)


@then('every pod security policy of cluster "{source:Name}" is identical on clusters {clusters:Names}')
def psps_identical(context, source, clusters):
    api = ("policy/v1beta1", "PodSecurityPolicy")
    expected = {p["metadata"]["name"]: _spec_of(p) for p in context.driver.cluster(source).list(*api)}
    assert expected, f"cluster {source} has no PodSecurityPolicy"
    for cluster in clusters:
        client = context.driver.cluster(cluster)
        assert client.serves(*api), (f"cluster {cluster} (Kubernetes {client.version()}) does not serve "
                                     f"{'/'.join(api)}: the policies of {source} cannot be identical there")
        found = {p["metadata"]["name"]: _spec_of(p) for p in client.list(*api)}
        for name, spec in expected.items():
            assert name in found, f"cluster {cluster}: PodSecurityPolicy {name} missing (has: {sorted(found)})"
            assert found[name] == spec, (f"cluster {cluster}: PodSecurityPolicy {name} differs from {source}: "
                                         f"expected {spec}, found {found[name]}")


def _spec_of(psp):
    return {"spec": psp.get("spec"), "labels": {k: v for k, v in (psp["metadata"].get("labels") or {}).items()
                                                if not k.startswith("velero.io/")},
            "annotations": psp["metadata"].get("annotations") or {}}


@then('the custom resources were restored after their definitions')
def crs_after_crds(context):
    done = context.scenario_state.restores[-1]
    client = context.driver.cluster(done.cluster)
    selector = f"velero.io/restore-name={done.record.name}"
    crds = client.list("apiextensions.k8s.io/v1", "CustomResourceDefinition", label_selector=selector)
    assert crds, f"restore {done.record.name}: no CustomResourceDefinition restored on cluster {done.cluster}"
    for crd in crds:
        spec = crd["spec"]
        version = next(v["name"] for v in spec["versions"] if v.get("storage", True))
        crs = client.list(f"{spec['group']}/{version}", spec["names"]["kind"], label_selector=selector)
        assert crs, f"restore {done.record.name}: no {spec['names']['kind']} restored on cluster {done.cluster}"
        defined = as_time(crd["metadata"]["creationTimestamp"])
        for cr in crs:
            created = as_time(cr["metadata"]["creationTimestamp"])
            assert created >= defined and int(cr["metadata"]["resourceVersion"]) > \
                int(crd["metadata"]["resourceVersion"]), (
                f"{spec['names']['kind']} {cr['metadata']['name']} was restored before its definition "
                f"{crd['metadata']['name']} (rv {cr['metadata']['resourceVersion']} vs "
                f"{crd['metadata']['resourceVersion']})")


@then('every resource of namespace "{namespace:Own}" on cluster "{source:Name}" except ingresses and the deployment '
      '"{deployment:Name}" is on cluster "{target:Name}"')
def everything_restored_but(context, namespace, source, deployment, target):
    """The deployment's own objects are those of its component (labelled
    app.kubernetes.io/name=<deployment>, as the plan excludes them)."""
    source_client, target_client = context.driver.cluster(source), context.driver.cluster(target)
    made_by_cluster = {"Event", "Pod", "ReplicaSet", "Endpoints", "EndpointSlice", "ControllerRevision", "Lease"}
    missing, unwanted, checked = [], [], 0
    for resource in source_client.served():
        if not resource.namespaced or "list" not in resource.verbs or resource.kind in made_by_cluster:
            continue
        for obj in source_client.list(resource.group_version, resource.kind, namespace=namespace):
            name = obj["metadata"]["name"]
            if (resource.kind, name) in (("ServiceAccount", "default"), ("ConfigMap", "kube-root-ca.crt")):
                continue   # every namespace gets these from the cluster itself
            labels = obj["metadata"].get("labels") or {}
            excluded = resource.kind == "Ingress" or labels.get(COMPONENT) == deployment
            present = target_client.serves(resource.group_version, resource.kind) and \
                target_client.get(resource.group_version, resource.kind, name, namespace) is not None
            checked += 1
            if excluded and present:
                unwanted.append(f"{resource.kind}/{name}")
            elif not excluded and not present:
                missing.append(f"{resource.kind}/{name}")
    assert checked, f"namespace {namespace} on cluster {source} holds nothing to compare"
    assert not missing, f"cluster {target} lacks, in namespace {namespace}: {', '.join(missing)}"
    assert not unwanted, f"cluster {target} has excluded objects in namespace {namespace}: {', '.join(unwanted)}"


@when('backup "{backup:Own}" is verified by a restore on cluster "{cluster:Name}" and then promoted to the '
      '"{profile:Name}" bucket')
def verify_and_promote(context, backup, cluster, profile):
    record = record_of(context, backup)
    assert len(record.states) == 1, f"backup {backup} holds {len(record.states)} applications; expected one"
    expected = next(iter(record.states.values()))
    state = context.scenario_state
    state.promotion = state.dmaas.verify_then_promote(backup, cluster, expected=expected, target_bucket=profile)
    state.promotion_backup = backup


@when('plan "{plan:Own}" verifies its latest backup')
def plan_verifies(context, plan):
    context.scenario_state.verification = context.scenario_state.dmaas.verify_plan(plan)


@then("the verification found the data recorded at the time of that backup")
def promotion_data(context):
    result = context.scenario_state.promotion
    backup = context.scenario_state.promotion_backup
    assert result.verified, f"verification of {backup} failed: {result.reason}"
    expected = next(iter(record_of(context, backup).states.values()))
    assert result.state is not None, f"verification of {backup} read no data back"
    problems = expected.differences(result.state)
    assert not problems, (f"verification of {backup}: data differs from the time of the backup: "
                          f"{'; '.join(problems[:5])}")


@then("the verification failed with a reason")
def promotion_failed(context):
    result = context.scenario_state.promotion
    assert not result.verified, f"verification of {context.scenario_state.promotion_backup} passed; expected it to fail"
    assert result.reason and str(result.reason).strip(), "the verification failed without a reason"


@then('the verification restored statefulset "{statefulset:Name}" and configmap "{configmap:Name}" on '
      'cluster "{cluster:Name}"')
def verification_restored(context, statefulset, configmap, cluster):
    result = context.scenario_state.verification
    assert result.cluster == cluster, f"the verification ran on cluster {result.cluster}, expected {cluster}"
    for kind, name in (("StatefulSet", statefulset), ("ConfigMap", configmap)):
        found = result.found.get(kind, [])
        assert name in found, f"verification restore {result.restore}: {kind} {name} not restored (found: {found})"


@then("the verification found the rows recorded at the time of that backup")
def verification_rows(context):
    result = context.scenario_state.verification
    record = record_of(context, result.backup)
    assert result.state is not None, f"verification of {result.backup} read no data back"
    problems = []
    for namespace, expected in record.states.items():
        problems.extend(expected.differences(result.state))
    assert not problems, f"verification of {result.backup}: {'; '.join(problems[:5])}"


@then('the verification namespace is gone from cluster "{cluster:Name}"')
def verification_cleaned(context, cluster):
    result = context.scenario_state.verification
    client = context.driver.cluster(cluster)
    client.wait_for(f"verification namespace {result.namespace} to be deleted",
                    lambda: client.get("v1", "Namespace", result.namespace) is None, timeout="namespace_gone")


@then('every restore point of plan "{plan:Own}" restored on cluster "{cluster:Name}" is consistent for {title} '
      'and equals the data recorded at its time')
def every_restore_point(context, plan, cluster, title):
    backups = plan_backups_by_time(context, plan, cluster)
    spec = spec_of(context, plan)
    problems = []
    for index, backup in enumerate(backups):
        record = record_of(context, backup.name)
        for source in spec.namespaces:
            target = f"{source}-rp{index}"
            done = restore(context, backup.name, cluster, namespace=target)
            if done.record.phase != "Completed":
                # a restore point that does not restore is a problem of its own; its
                # application would never become ready, so it is not waited for
                problems.append(f"{backup.name}: restore {done.record.name} ended {done.record.phase}: "
                                + ("; ".join(done.record.messages[:2]) or "no reason"))
            else:
                app = context.scenario_state.apps[(cluster, target)]
                data = probe(context, cluster, target, app.name)
                context.driver.cluster(cluster).wait_for(f"{app.name} restored from {backup.name} to be ready",
                                                         data.ready, timeout="app_ready")
                problems += [f"{backup.name}: {p}" for p in data.consistency_problems()]
                problems += [f"{backup.name}: {d}" for d in record.states[source].differences(data.state())]
            context.driver.cluster(cluster).delete("v1", "Namespace", target)
    assert backups, f"plan {plan} has no restore point"
    assert not problems, (f"{len(problems)} problems over {len(backups)} restore points of plan {plan} "
                          f"({title}): {'; '.join(problems[:5])}")
