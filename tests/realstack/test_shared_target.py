"""The real stack's clusters as a team's shared clusters (`kind: real`):
another team's namespaces of the names MYSQL, EXCLUDE-SECRET and
SOURCE-CLUSTER-GONE use, holding a workload, a ConfigMap and a Secret, a BSL
named like a bucket profile pointing at another bucket, and an object in the
run's bucket. A run of those stories passes; every planted object is byte
for byte what it was; nothing the run made is left, clusters its lifecycle
hooks created included (SOURCE-CLUSTER-GONE's source and rescue, made and
removed through `dmaas realstack cluster add|remove`)."""
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import boto3
from botocore.config import Config
from kubernetes import client, config

ROOT = Path(__file__).resolve().parents[2]
TAGS = "@mysql or @secrets or @cluster-gone"
THEIRS = {"team": "another-team"}
PLANTED_NAMESPACES = {"backup": ("mysql-prod", "billing", "orders"), "restore": ("mysql-prod",)}
VELERO = ("velero.io", "v1", "velero", "backupstoragelocations")
THEIR_KEY = "another-team/backups/nightly/velero-backup.json"
MINUTES = 60


def _api(entry):
    return config.new_client_from_config(entry["kubeconfig"], context=entry["context"])


def _plant(api, namespace):
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    core.create_namespace({"metadata": {"name": namespace, "labels": THEIRS}})
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "mysql-config", "labels": THEIRS},
                                                  "data": {"my.cnf": "[mysqld]\nmax_connections=7\n"}})
    core.create_namespaced_secret(namespace, {"metadata": {"name": "planted-credentials", "labels": THEIRS},
                                              "stringData": {"password": "their-own-password"}})
    apps.create_namespaced_deployment(namespace, {
        "metadata": {"name": "mysql", "labels": THEIRS},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "theirs"}},
                 "template": {"metadata": {"labels": {"app": "theirs"}},
                              "spec": {"containers": [{"name": "db", "image": "mysql:8"}]}}}})


def _settled(api, namespace):
    """Their Deployment once its controller has written what it writes (revision, status)."""
    deployment = client.AppsV1Api(api).read_namespaced_deployment("mysql", namespace)
    return (deployment.status.observed_generation == deployment.metadata.generation
            and "deployment.kubernetes.io/revision" in (deployment.metadata.annotations or {}))


def _snapshot(apis):
    """Every planted object as the API returns it, and the names of what their namespaces hold."""
    found = {}
    for cluster, namespaces in PLANTED_NAMESPACES.items():
        api = apis[cluster]
        core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
        for ns in namespaces:
            found[f"{cluster}/namespace/{ns}"] = api.sanitize_for_serialization(core.read_namespace(ns))
            found[f"{cluster}/{ns}/configmap"] = api.sanitize_for_serialization(
                core.read_namespaced_config_map("mysql-config", ns))
            found[f"{cluster}/{ns}/secret"] = api.sanitize_for_serialization(
                core.read_namespaced_secret("planted-credentials", ns))
            found[f"{cluster}/{ns}/deployment"] = api.sanitize_for_serialization(
                apps.read_namespaced_deployment("mysql", ns))
            found[f"{cluster}/{ns}/held"] = sorted(
                f"{kind}/{item.metadata.name}" for kind, items in (
                    ("configmap", core.list_namespaced_config_map(ns).items),
                    ("secret", core.list_namespaced_secret(ns).items),
                    ("pvc", core.list_namespaced_persistent_volume_claim(ns).items),
                    ("statefulset", apps.list_namespaced_stateful_set(ns).items),
                    ("deployment", apps.list_namespaced_deployment(ns).items)) for item in items)
    found["backup/bsl/minio"] = client.CustomObjectsApi(apis["backup"]).get_namespaced_custom_object(
        *VELERO[:3], VELERO[3], "minio")
    return json.loads(json.dumps(found, sort_keys=True, default=str))


def _left(api):
    """What carries a run's label, or a run's name prefix, on a cluster."""
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    left = [f"namespace/{n.metadata.name}" for n in core.list_namespace().items
            if "dmaas.openebs.io/run" in (n.metadata.labels or {}) or n.metadata.name.startswith("dmaas-")]
    left += [f"secret/{s.metadata.name}" for s in core.list_namespaced_secret("velero").items
             if s.metadata.name.startswith("dmaas-")]
    for plural in ("backupstoragelocations", "volumesnapshotlocations", "schedules", "backups", "restores",
                   "deletebackuprequests", "podvolumebackups", "backuprepositories", "serverstatusrequests"):
        items = custom.list_namespaced_custom_object("velero.io", "v1", "velero", plural)["items"]
        left += [f"{plural}/{o['metadata']['name']}" for o in items
                 if "dmaas.openebs.io/run" in (o["metadata"].get("labels") or {})
                 or o["metadata"]["name"].startswith("dmaas-")]
    return left


def _s3(entry):
    return boto3.client("s3", endpoint_url=entry["endpoint"], region_name=entry["region"],
                        aws_access_key_id=entry["access_key"], aws_secret_access_key=entry["secret_key"],
                        config=Config(s3={"addressing_style": "path"}))


def _profile(path, stack):
    from runner.realstack import build
    backup, restore = stack["clusters"]["backup"], stack["clusters"]["restore"]
    cli = f"{sys.executable} -m runner.cli --root {ROOT} realstack cluster"
    path.write_text(textwrap.dedent(f"""\
        kind: real
        description: the real stack's clusters as clusters a team shares with others
        clusters:
          prod: {{kubeconfig: {backup['kubeconfig']}, context: {backup['context']}}}
          lob: {{kubeconfig: {backup['kubeconfig']}, context: {backup['context']}}}
          verify: {{kubeconfig: {restore['kubeconfig']}, context: {restore['context']}}}
        lifecycle:
          create: {cli} add "$DMAAS_CLUSTER"
          install: {build.bin_dir(ROOT) / 'kubectl'} --kubeconfig "$KUBECONFIG" --context "$DMAAS_CONTEXT" -n velero get deployment/velero daemonset/node-agent -o name
          destroy: {cli} remove "$DMAAS_CLUSTER"
        buckets:
          minio: {{client: minio, endpoint: "{stack['s3']['minio']['endpoint']}", bucket: dmaas-minio,
                   access_key_env: SHARED_MINIO_ACCESS, secret_key_env: SHARED_MINIO_SECRET}}
          aws: {{client: boto3, endpoint: "{stack['s3']['aws']['endpoint']}", bucket: dmaas-aws,
                 access_key_env: SHARED_AWS_ACCESS, secret_key_env: SHARED_AWS_SECRET}}
        velero_namespace: velero
        time_scale: 0.0167
        velero_gc_period: 60
        unsupported_engines:
          cstor: no OpenEBS cStor pools or plugin on the real stack
        """))


def test_a_run_on_shared_clusters_changes_nothing_it_did_not_make_and_leaves_nothing(stack, tmp_path):
    stack_dir = Path(stack["clusters"]["backup"]["kubeconfig"]).parents[2]
    apis = {name: _api(stack["clusters"][name]) for name in PLANTED_NAMESPACES}
    minio = _s3(stack["s3"]["minio"])
    try:
        minio.create_bucket(Bucket="dmaas-minio")
    except minio.exceptions.BucketAlreadyOwnedByYou:
        pass
    minio.put_object(Bucket="dmaas-minio", Key=THEIR_KEY, Body=b'{"their": "backup"}')
    for cluster, namespaces in PLANTED_NAMESPACES.items():
        for ns in namespaces:
            _plant(apis[cluster], ns)
    # their BSL points at a bucket of theirs this endpoint does not have: Velero validates it once
    # (Unavailable) and, with validation off, never again, nor syncs from it, so it stays as it is
    client.CustomObjectsApi(apis["backup"]).create_namespaced_custom_object(*VELERO, {
        "apiVersion": "velero.io/v1", "kind": "BackupStorageLocation",
        "metadata": {"name": "minio", "namespace": "velero", "labels": THEIRS},
        "spec": {"provider": "aws", "objectStorage": {"bucket": "another-team-bucket", "prefix": "theirs"},
                 "config": {"region": "us-east-1", "s3ForcePathStyle": "true",
                            "s3Url": stack["s3"]["minio"]["endpoint"]},
                 "validationFrequency": "0s"}})
    try:
        _run_and_check(stack, stack_dir, apis, minio, tmp_path)
    finally:
        for cluster, namespaces in PLANTED_NAMESPACES.items():
            for ns in namespaces:
                client.CoreV1Api(apis[cluster]).delete_namespace(ns)
        client.CustomObjectsApi(apis["backup"]).delete_namespaced_custom_object(*VELERO, "minio")
        minio.delete_object(Bucket="dmaas-minio", Key=THEIR_KEY)


def _run_and_check(stack, stack_dir, apis, minio, tmp_path):
    """Once their objects are as their controllers leave them (for 10 s), the run, then the checks."""
    deadline, before = time.monotonic() + 120, None
    while True:
        now = None
        if all(_settled(apis[c], ns) for c, nss in PLANTED_NAMESPACES.items() for ns in nss):
            now = _snapshot(apis)
            if not now["backup/bsl/minio"].get("status"):      # Velero has not validated their BSL yet
                now = None
        if now is not None and now == before:
            break
        assert time.monotonic() < deadline, "their objects never settled"
        before = now
        time.sleep(10)
    profile = tmp_path / "shared.yaml"
    _profile(profile, stack)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DMAAS_REALSTACK_DIR": str(stack_dir)}
    for name in ("minio", "aws"):
        env[f"SHARED_{name.upper()}_ACCESS"] = stack["s3"][name]["access_key"]
        env[f"SHARED_{name.upper()}_SECRET"] = stack["s3"][name]["secret_key"]
    reports = tmp_path / "reports"
    done = subprocess.run([sys.executable, "-m", "runner.cli", "run", "--target", str(profile), "--tags", TAGS,
                           "--report-dir", str(reports)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60 * MINUTES)
    (run_dir,) = list(reports.iterdir())
    report = json.loads((run_dir / "report.json").read_text())
    statuses = {(s["tcid"], s["name"].split(" of ")[-1][:40]): (s["status"], s.get("reason"))
                for f in report["features"] for s in f["scenarios"]}
    # one short line per scenario that did not pass, first: a CI log keeps the message's head
    assert done.returncode == 0, "\n".join(
        [f"{tcid} {name}: {status}: {(reason or '')[:400]}" for (tcid, name), (status, reason) in statuses.items()
         if status != "passed"] + ["--- stderr (tail) ---", *done.stderr.splitlines()[-40:]])
    assert sorted(s for s, _ in statuses.values()) == ["passed", "passed", "passed", "skipped"], statuses
    after = _snapshot(apis)
    changed = {key: (before[key], after[key]) for key in before if after.get(key) != before[key]}
    assert not changed, f"planted objects changed: {json.dumps(changed, indent=1)[:4000]}"
    assert json.loads(minio.get_object(Bucket="dmaas-minio", Key=THEIR_KEY)["Body"].read()) == {"their": "backup"}
    for name, api in apis.items():
        assert _left(api) == [], f"the run left objects on cluster {name}"
    assert set(json.loads((stack_dir / "stack.json").read_text())["clusters"]) == {"backup", "restore"}, \
        "a cluster the lifecycle hooks created is still there"
    from runner.driver import slugify
    run_root = f"dmaas-e2e/{slugify(run_dir.name)}/"
    for name in ("minio", "aws"):
        s3 = _s3(stack["s3"][name])
        bucket = f"dmaas-{name}"
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=run_root).get("Contents", [])]
        assert keys == [], f"the run left {len(keys)} objects in the {name} bucket: {keys[:3]}"
