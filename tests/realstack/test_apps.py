"""The catalogue's applications on the real node: each component whose image
is built here is Ready with its server as PID 1; the MySQL family answers
SQL and Cassandra CQL through `kubectl exec`; and a Velero backup taken
with the catalogue's hooks (or none: Kafka's own crash recovery) restores a
database that reads its data back, which the consistency check (SQL, CQL,
Kafka's clients) tells apart from one whose data was changed."""
import os
import subprocess
import types
from pathlib import Path

import pytest

from runner.apps import catalogue
from runner.apps.probes import DataProbe
from runner.realstack import images
from runner.realstack.stack import Stack

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = "restore"                     # the round-trip test uses "backup" as its source
PLACEHOLDER = images.normalise(f"{images.LOCAL_REGISTRY}/app-placeholder:1")
# the process each image built here runs as PID 1 (/proc/1/comm)
SERVERS = {"mariadb": "mariadbd", "nginx": "nginx", "redis": "redis-server", "wordpress": "apache2",
           "python": "python3", "cassandra": "java", "kafka": "java", "cortex": "cortex",
           "traefik": "traefik"}


def _namespace(app):
    return f"apps-{app}"


def _components():
    """(app, component, image as manifests name it) of every catalogue workload."""
    found = []
    for app in catalogue.names():
        for doc in catalogue.get(app).manifests(_namespace(app), "openebs-hostpath"):
            if doc["kind"] in ("StatefulSet", "Deployment"):
                [container] = doc["spec"]["template"]["spec"]["containers"]
                found.append((app, doc["metadata"]["name"], container["image"]))
    return found


@pytest.fixture(scope="module")
def installed(stack, realstack_built):
    """Every catalogue application, each in a namespace of its own on one
    cluster, as the driver installs them; removed afterwards."""
    from runner.driver.clusters import ClusterClient
    cluster = stack["clusters"][CLUSTER]
    client = ClusterClient(types.SimpleNamespace(name=CLUSTER, kubeconfig=cluster["kubeconfig"], context=None))
    env = dict(os.environ, KUBECONFIG=cluster["kubeconfig"])
    try:
        for app in catalogue.names():
            client.ensure_namespace(_namespace(app))
            for manifest in catalogue.get(app).manifests(_namespace(app), "openebs-hostpath"):
                client.apply(manifest)
        yield types.SimpleNamespace(client=client, kubectl=str(realstack_built / "kubectl"),
                                    velero=str(realstack_built / "velero"), env=env)
    finally:
        for app in catalogue.names():
            for doc in catalogue.get(app).manifests(_namespace(app), "openebs-hostpath"):
                if doc["kind"] == "CustomResourceDefinition":
                    client.delete(doc["apiVersion"], doc["kind"], doc["metadata"]["name"])
            client.delete("v1", "Namespace", _namespace(app))


@pytest.mark.parametrize("app,component,image", _components(), ids=lambda v: v if isinstance(v, str) else "")
def test_each_component_runs_its_server_as_pid_1(installed, app, component, image):
    local = Stack(ROOT).image_mirror().get(images.normalise(image))
    if local == PLACEHOLDER:
        pytest.skip(f"{image} is not built here yet: the real stack runs a placeholder for it")
    probe = DataProbe(installed.client, _namespace(app), app)
    probe.wait_ready(timeout=300, skip=[name for _, name in catalogue.get(app).workloads() if name != component])
    pods = installed.client.core.list_namespaced_pod(
        _namespace(app), label_selector=f"{catalogue.COMPONENT}={component}").items
    assert pods, f"no pod of {app}/{component}"
    name = local.rsplit("/", 1)[-1].split(":")[0]
    for pod in pods:
        rc, out, err = installed.client.exec(_namespace(app), pod.metadata.name, ["cat", "/proc/1/comm"])
        assert rc == 0, err
        assert (out.decode() if isinstance(out, bytes) else out).strip() == SERVERS[name], (pod.metadata.name, out)


def test_kubectl_exec_runs_sql_in_the_catalogues_mysql(installed):
    probe = DataProbe(installed.client, _namespace("mysql"), "mysql")
    probe.wait_ready(timeout=300)
    probe.write(1)
    probe.write(2)
    out = subprocess.run(
        [installed.kubectl, "exec", "-n", _namespace("mysql"), "mysql-0", "--", "sh", "-c",
         'MYSQL_PWD="$MYSQL_ROOT_PASSWORD" mysql -uroot -N -B -e "SELECT COUNT(*), MAX(tick) FROM shop.orders"'],
        env=installed.env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["6", "2"]


def test_kubectl_exec_runs_cql_in_the_catalogues_cassandra(installed):
    probe = DataProbe(installed.client, _namespace("cassandra"), "cassandra")
    probe.wait_ready(timeout=300)
    probe.write(1)
    probe.write(2)
    out = subprocess.run(
        [installed.kubectl, "exec", "-n", _namespace("cassandra"), "cassandra-0", "--",
         "cqlsh", "-e", "SELECT COUNT(*) FROM metrics.samples"],
        env=installed.env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[2] == "8", out.stdout


# app, its data volume (component/volume) and its summary after 3 ticks, the backup hooks its
# pods run, the pod, a change to the restored data and the problem it is
ROUND_TRIPS = [
    ("percona", "percona/datadir", {"rows": 9}, 2, "percona-0",
     'MYSQL_PWD="$MYSQL_ROOT_PASSWORD" mysql -uroot -e "UPDATE sales.orders SET qty = qty + 1 WHERE id = \'2-1\'"',
     "datadir-percona-0: sales.orders_manifest checksum does not match the rows of sales.orders"),
    ("cassandra", "cassandra/data", {"rows": 12}, 2, "cassandra-0",
     "cqlsh -e \"UPDATE metrics.samples SET value = 'changed' WHERE tick = 2 AND id = '2-1'\"",
     "data-cassandra-0: metrics.samples partition tick=2: checksum does not match its rows"),
    # a record added to tick 2 (key 2: partition 2 of 3 by the producer's murmur2 hash)
    ("kafka", "kafka/data", {"records": 6}, 0, "kafka-0",
     "printf '2\\t2|2-9|forged\\n' | kafka-console-producer.sh --bootstrap-server localhost:9092 --topic events "
     "--property parse.key=true",
     "data-kafka-0: events-2 tick=2 says 2 records, has 3"),
]


@pytest.mark.parametrize("app,volume,summary,hooks,pod,change,problem", ROUND_TRIPS, ids=[r[0] for r in ROUND_TRIPS])
def test_a_restored_database_reads_its_data_back_and_changed_data_fails_the_check(
        installed, app, volume, summary, hooks, pod, change, problem):
    """Backed up by Velero with the catalogue's hooks, restored into another
    namespace: the restored server answers with the same data; data changed
    after the restore fails the consistency check."""
    source = DataProbe(installed.client, _namespace(app), app)
    source.wait_ready(timeout=300)
    for tick in (1, 2, 3):
        source.write(tick)
    before = source.state()
    velero, backup_name, restore_name = installed.velero, f"apps-{app}", f"apps-{app}-r"
    backup = subprocess.run([velero, "backup", "create", backup_name, "--include-namespaces", _namespace(app),
                             "--default-volumes-to-fs-backup", "--wait"],
                            env=installed.env, capture_output=True, text=True, timeout=600)
    assert "Completed" in backup.stdout, backup.stdout + backup.stderr
    status = installed.client.custom.get_namespaced_custom_object(
        "velero.io", "v1", "velero", "backups", backup_name)["status"]
    assert (status.get("hookStatus") or {}).get("hooksAttempted", 0) == hooks, status.get("hookStatus")
    restored_ns = f"apps-{app}-restored"
    restore = subprocess.run([velero, "restore", "create", restore_name, "--from-backup", backup_name,
                              "--namespace-mappings", f"{_namespace(app)}:{restored_ns}", "--wait"],
                             env=installed.env, capture_output=True, text=True, timeout=600)
    try:
        assert "Completed" in restore.stdout, restore.stdout + restore.stderr
        restored = DataProbe(installed.client, restored_ns, app)
        restored.wait_ready(timeout=300)
        assert restored.consistency_problems() == []
        assert before.data_differences(restored.state()) == []
        assert {key: before.summary[volume][key] for key in summary} == summary
        rc, _, err = installed.client.exec(restored_ns, pod, ["sh", "-c", change])
        assert rc == 0, err
        assert restored.consistency_problems() == [problem]
    finally:
        subprocess.run([installed.kubectl, "delete", "namespace", restored_ns, "--wait=false"],
                       env=installed.env, capture_output=True)
        for kind, name in (("backup", backup_name), ("restore", restore_name)):
            subprocess.run([velero, kind, "delete", name, "--confirm"], env=installed.env, capture_output=True)
