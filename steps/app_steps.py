"""Applications: deploying them from the catalogue, writing data, readiness,
and comparing their data with what was recorded at a backup's time."""
import secrets

from runner import apps
from runner.driver.waits import WaitTimeout
from scenario_state import App
from steplib import app_at, given, last_restore, probe, record_of, step, then


def deploy(context, app_name, namespace, cluster_name, engine_name, replicas=None):
    apps.install(context.driver, cluster_name, app_name, namespace, engine_name, replicas)
    context.scenario_state.apps[(cluster_name, namespace)] = App(app_name, engine_name, replicas)
    data = wait_ready(context, cluster_name, namespace, app_name)
    # a running application has data: its first write happens as it starts
    context.scenario_state.ticks[(cluster_name, namespace)] = 1
    data.write(1)
    context.driver.let_velero_discover(cluster_name)


def wait_ready(context, cluster_name, namespace, app_name):
    """Wait until the app's workloads are ready; on a restored copy, the
    components its backup excluded by label are not expected. A copy whose
    restore did not complete gets a short wait and a reason naming the
    restore's outcome, not the full timeout."""
    data = probe(context, cluster_name, namespace, app_name)
    skip = excluded_components(context, cluster_name, namespace)
    failed = unfinished_restore_into(context, cluster_name, namespace)
    try:
        context.driver.cluster(cluster_name).wait_for(
            f"application {app_name} in namespace {namespace} to be ready"
            + (f" (without {', '.join(skip)})" if skip else ""),
            lambda: data.ready(skip=skip), timeout="app_ready_after_failed_restore" if failed else "app_ready")
    except WaitTimeout as timeout:
        outcome = (f"restore {failed.name} ended {failed.phase}: {'; '.join(failed.messages[:3]) or 'no reason'}; "
                   if failed else "")
        raise AssertionError(f"{outcome}{timeout}: {'; '.join(data.ready_problems(skip))}") from None
    return data


def unfinished_restore_into(context, cluster, namespace):
    """The latest restore into this namespace if it ended other than Completed."""
    for done in reversed(context.scenario_state.restores):
        if done.cluster == cluster and namespace in done.mapping.values():
            return done.record if done.record.phase != "Completed" else None
    return None


def excluded_components(context, cluster, namespace):
    """Components (app.kubernetes.io/name values) the plan of the backup
    restored into this namespace excluded with `exclude labels`."""
    state = context.scenario_state
    for done in reversed(state.restores):
        if done.cluster == cluster and namespace in done.mapping.values():
            record = state.records.get(done.backup)
            spec = state.plans.get(record.plan) if record and record.plan else None
            selector = (spec.label_selector or "") if spec else ""
            return tuple(term.split("!=", 1)[1] for term in selector.split(",")
                         if term.startswith("app.kubernetes.io/name!="))
    return ()


@given('the application "{app:Name}" runs in namespace "{namespace:Own}" of cluster "{cluster:Name}" on '
       '"{engine:Name}" volumes')
def app_runs(context, app, namespace, cluster, engine):
    deploy(context, app, namespace, cluster, engine)


@given('the application "{app:Name}" runs in namespace "{namespace:Own}" of cluster "{cluster:Name}" '
       'on "{engine:Name}" volumes with {replicas:d} replicas')
def app_runs_replicas(context, app, namespace, cluster, engine, replicas):
    deploy(context, app, namespace, cluster, engine, replicas)


@given('the application "{app:Name}" runs in namespace "{namespace:Own}" of cluster "{cluster:Name}" '
       'on "{engine:Name}" volumes with 1 replica')
def app_runs_one_replica(context, app, namespace, cluster, engine):
    deploy(context, app, namespace, cluster, engine, 1)


def write_bytes(context, app, cluster, size):
    namespaces = [ns for (c, ns), known in context.scenario_state.apps.items() if c == cluster and known.name == app]
    assert namespaces, f"application {app} is not deployed on cluster {cluster} in this scenario"
    for namespace in namespaces:
        probe(context, cluster, namespace).write_bytes(size)


@step('{size:Size} of data are written to the application "{app:Name}" on cluster "{cluster:Name}"')
def data_written(context, size, app, cluster):
    write_bytes(context, app, cluster, size)


@step('{size:Size} of dataset files are written to the application "{app:Name}" on cluster "{cluster:Name}"')
def dataset_written(context, size, app, cluster):
    write_bytes(context, app, cluster, size)


@given('namespaces {namespaces:Owns} of cluster "{cluster:Name}" hold secrets with freshly generated values')
def secrets_planted(context, namespaces, cluster):
    client = context.driver.cluster(cluster)
    planted = context.scenario_state.secret_values
    for namespace in namespaces:
        client.ensure_namespace(namespace)
        value = f"dmaas-secret-{secrets.token_hex(16)}"
        planted.append(value)
        client.apply({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                      "metadata": {"name": "planted-credentials", "namespace": namespace},
                      "stringData": {"password": value}})


@then('the application "{app:Name}" in namespace "{namespace:Own}" of cluster "{cluster:Name}" is ready')
def app_ready(context, app, namespace, cluster):
    wait_ready(context, cluster, namespace, app)


@then('the application "{app:Name}" in namespace "{namespace:Own}" of cluster "{cluster:Name}" still has '
      '{replicas:d} replica')
@then('the application "{app:Name}" in namespace "{namespace:Own}" of cluster "{cluster:Name}" still has '
      '{replicas:d} replicas')
def app_replicas(context, app, namespace, cluster, replicas):
    found = probe(context, cluster, namespace, app).replicas()
    assert found == replicas, (f"application {app} in {namespace} on cluster {cluster}: expected {replicas} "
                               f"replica(s) (its own sizing), found {found}")


def compare_restored(context, byte_for_byte=False):
    done = last_restore(context)
    record = record_of(context, done.backup)
    assert done.mapping, f"restore of backup {done.backup} restored no application namespace"
    for source, target in done.mapping.items():
        if source not in record.states:
            continue
        app = app_at(context, done.cluster, target)
        restored = probe(context, done.cluster, target, app.name).state()
        expected = record.states[source]
        differences = expected.differences(restored)
        assert not differences, (
            f"backup {done.backup} restored into {target} on cluster {done.cluster}: data differs from "
            f"what {source} held at {record.time:%Y-%m-%d %H:%M}: " + "; ".join(differences[:5]))
        if byte_for_byte:
            assert expected == restored, f"{target} on cluster {done.cluster}: not byte-identical"


@then("its data equals the data recorded at the time of that backup")
def data_equals(context):
    compare_restored(context)


@then("its data equals the data recorded at the time of that backup, byte for byte")
def data_equals_bytes(context):
    compare_restored(context, byte_for_byte=True)


@then('each day the data in namespace "{namespace:Own}" of cluster "{target:Name}" equalled the data of cluster '
      '"{source:Name}" at that day\'s backup')
def moved_each_day(context, namespace, target, source):
    moved = [m for m in context.scenario_state.moved
             if m.target_cluster == target and m.namespace == namespace and m.source_cluster == source]
    assert moved, f"no backup of cluster {source} was moved into {namespace} of cluster {target}"
    problems = []
    for move in moved:
        record = record_of(context, move.backup)
        for source_namespace, expected in record.states.items():
            problems += [f"{move.backup} ({record.time:%m-%d %H:%M}): {d}"
                         for d in expected.data_differences(move.state)]
    assert not problems, f"{len(problems)} differences after moving data into {target}: {'; '.join(problems[:5])}"
