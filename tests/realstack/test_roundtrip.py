"""A real Velero backup on cluster one restores on cluster two, file contents
included: the volume's data goes through the node-agent pods of both nodes."""
import hashlib
import os
import time
from pathlib import Path

import boto3

NS = "roundtrip"
VELERO = ("velero.io", "v1", "velero")
PAYLOAD = os.urandom(256 * 1024) + b"end of payload\n"


def _clients(cluster):
    from kubernetes import client, config
    api = config.new_client_from_config(cluster["kubeconfig"])
    return client.CoreV1Api(api), client.CustomObjectsApi(api)


def _until(what, check, timeout=180, every=1.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def _phase(custom, plural, name):
    def check():
        obj = custom.get_namespaced_custom_object(*VELERO, plural, name)
        phase = obj.get("status", {}).get("phase")
        assert phase not in ("Failed", "PartiallyFailed", "FailedValidation"), obj.get("status")
        return obj if phase == "Completed" else None
    return check


def _volume_dir(core, cluster, namespace, claim):
    pvc = _until(f"PVC {namespace}/{claim} bound", lambda: (
        lambda c: c if c.status.phase == "Bound" else None)(core.read_namespaced_persistent_volume_claim(
            claim, namespace)))
    pv = core.read_persistent_volume(pvc.spec.volume_name)
    path = Path(pv.spec.local.path)
    assert path.parent == Path(cluster["node_dir"]), (path, cluster["node_dir"])
    return path


def _app(core, namespace):
    core.create_namespace({"metadata": {"name": namespace}})
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "settings"}, "data": {"mode": "fast"}})
    core.create_namespaced_persistent_volume_claim(namespace, {
        "metadata": {"name": "data"},
        "spec": {"storageClassName": "openebs-hostpath", "accessModes": ["ReadWriteOnce"],
                 "resources": {"requests": {"storage": "1Gi"}}}})
    _until("default service account", lambda: core.list_namespaced_service_account(namespace).items)
    core.create_namespaced_pod(namespace, {
        "metadata": {"name": "app", "labels": {"app": "roundtrip"}},
        "spec": {"containers": [{"name": "app", "image": "busybox:1.35", "command": ["sleep", "3600"],
                                 "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
                 "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]}})
    _until("app pod Running", lambda: core.read_namespaced_pod("app", namespace).status.phase == "Running")


def test_backup_on_one_restores_on_two_byte_for_byte(stack):
    one, two = stack["clusters"]["backup"], stack["clusters"]["restore"]
    core1, custom1 = _clients(one)
    core2, custom2 = _clients(two)
    _app(core1, NS)
    volume = _volume_dir(core1, one, NS, "data")
    (volume / "payload.bin").write_bytes(PAYLOAD)
    started = time.monotonic()

    custom1.create_namespaced_custom_object(*VELERO, "backups", {
        "apiVersion": "velero.io/v1", "kind": "Backup", "metadata": {"name": "rt-1", "namespace": "velero"},
        "spec": {"includedNamespaces": [NS], "defaultVolumesToFsBackup": True, "storageLocation": "default",
                 "ttl": "1h0m0s"}})
    _until("backup rt-1 Completed", _phase(custom1, "backups", "rt-1"))
    pvbs = custom1.list_namespaced_custom_object(*VELERO, "podvolumebackups",
                                                 label_selector="velero.io/backup-name=rt-1")["items"]
    assert [(p["spec"]["uploaderType"], p["status"]["phase"]) for p in pvbs] == [("kopia", "Completed")]

    # the objects real Velero writes: backups/<name>/..., kopia/<namespace>/...
    s3 = stack["s3"]["minio"]
    bucket = boto3.client("s3", endpoint_url=s3["endpoint"], region_name=s3["region"],
                          aws_access_key_id=s3["access_key"], aws_secret_access_key=s3["secret_key"])
    keys = [o["Key"] for page in bucket.get_paginator("list_objects_v2").paginate(Bucket="realstack")
            for o in page.get("Contents", [])]
    assert {f"backups/rt-1/{f}" for f in ("velero-backup.json", "rt-1.tar.gz", "rt-1-logs.gz",
                                          "rt-1-podvolumebackups.json.gz")} <= set(keys)
    assert any(k.startswith(f"kopia/{NS}/") for k in keys)

    # cluster two sees the backup through the shared bucket alone
    _until("rt-1 synced to cluster two", lambda: any(
        b["metadata"]["name"] == "rt-1" for b in custom2.list_namespaced_custom_object(*VELERO, "backups")["items"]),
        timeout=120)
    custom2.create_namespaced_custom_object(*VELERO, "restores", {
        "apiVersion": "velero.io/v1", "kind": "Restore", "metadata": {"name": "rt-1-r", "namespace": "velero"},
        "spec": {"backupName": "rt-1"}})
    _until("restore rt-1-r Completed", _phase(custom2, "restores", "rt-1-r"), timeout=300)
    round_trip = time.monotonic() - started
    # node-agent's pod on cluster two wrote the volume back
    pvrs = custom2.list_namespaced_custom_object(*VELERO, "podvolumerestores",
                                                 label_selector="velero.io/restore-name=rt-1-r")["items"]
    assert [(p["spec"]["uploaderType"], p["status"]["phase"]) for p in pvrs] == [("kopia", "Completed")]
    assert [p.status.phase for p in core2.list_namespaced_pod(
        "velero", label_selector="name=node-agent").items] == ["Running"]

    assert core2.read_namespaced_config_map("settings", NS).data == {"mode": "fast"}
    restored = _volume_dir(core2, two, NS, "data")
    assert hashlib.sha256((restored / "payload.bin").read_bytes()).hexdigest() == hashlib.sha256(PAYLOAD).hexdigest()
    # the restore-wait init container (velero-restore-helper) saw node-agent's done file and exited
    _until("restored pod Running", lambda: core2.read_namespaced_pod("app", NS).status.phase == "Running", timeout=30)
    [wait] = core2.read_namespaced_pod("app", NS).status.init_container_statuses
    assert (wait.name, wait.state.terminated.exit_code) == ("restore-wait", 0)
    assert "All restic restores are done" in core2.read_namespaced_pod_log("app", NS, container="restore-wait")
    print(f"backup+restore round trip: {round_trip:.0f}s")
