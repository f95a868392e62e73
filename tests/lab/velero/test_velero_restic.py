"""File-system backup with restic: PodVolumeBackups, parent selection per
PVC (and none for a DMaaS full backup), data restored byte-identical on
another cluster, restic snapshots forgotten when the backup is deleted."""
import gzip
import os

import pytest

from lab_http import wait_for
from velero_lab import advance, tree, unique, Bucket


@pytest.fixture(scope="module")
def fs_app(clusters, lab):
    src = clusters["src"]
    bucket = Bucket(lab, "aws", unique("restic"))
    location = src.location(bucket, prefix="fs")
    ns = src.namespace()
    src.claim(ns, "data", "openebs-hostpath")
    src.deployment(ns, "db", "data", annotations={"backup.velero.io/backup-volumes": "data"})
    volume = src.volume_dir(ns, "data")
    (volume / "rows").mkdir()
    (volume / "rows" / "table.bin").write_bytes(os.urandom(512 * 1024))
    (volume / "README").write_text("restic lab data\n")
    return {"src": src, "bucket": bucket, "location": location, "ns": ns, "volume": volume}


def backup(fs_app, labels=None, **spec):
    name = unique("fs")
    fs_app["src"].create("backups", name, dict({"includedNamespaces": [fs_app["ns"]],
                                                "storageLocation": fs_app["location"]}, **spec), labels=labels)
    result = fs_app["src"].wait_phase("backups", name, timeout=120)
    assert result["status"]["phase"] == "Completed", result["status"]
    return name


def log_text(fs_app, name):
    return gzip.decompress(fs_app["bucket"].get(f"fs/backups/{name}/{name}-logs.gz")).decode()


def test_pod_volume_backup_recorded(fs_app):
    name = backup(fs_app)
    pvbs = fs_app["src"].list("podvolumebackups", f"velero.io/backup-name={name}")
    assert len(pvbs) == 1
    pvb = pvbs[0]
    assert pvb["status"]["phase"] == "Completed" and pvb["status"]["snapshotID"]
    assert pvb["status"]["progress"]["totalBytes"] >= 512 * 1024
    assert pvb["spec"]["volume"] == "data" and pvb["spec"]["pod"]["namespace"] == fs_app["ns"]
    assert pvb["spec"]["repoIdentifier"].endswith(f"/{fs_app['bucket'].name}/fs/restic/{fs_app['ns']}")
    in_bucket = fs_app["bucket"].json_gz(f"fs/backups/{name}/{name}-podvolumebackups.json.gz")
    assert [p["status"]["snapshotID"] for p in in_bucket] == [pvb["status"]["snapshotID"]]
    assert fs_app["bucket"].keys(f"fs/restic/{fs_app['ns']}/config")
    repos = fs_app["src"].list("backuprepositories", f"velero.io/volume-namespace={fs_app['ns']}")
    assert repos and repos[0]["status"]["phase"] == "Ready"
    # no password or key in any log
    secret = fs_app["bucket"].s3["secret_key"]
    assert "static-passw0rd" not in log_text(fs_app, name) and secret not in log_text(fs_app, name)


def test_incremental_uses_parent_and_full_does_not(fs_app, lab):
    advance(lab, 60)        # restic picks the parent by snapshot time (the virtual clock)
    first = backup(fs_app)
    first_snap = fs_app["src"].list("podvolumebackups", f"velero.io/backup-name={first}")[0]["status"]["snapshotID"]
    advance(lab, 60)
    second = backup(fs_app)
    assert f"parent {first_snap}" in log_text(fs_app, second)
    full = backup(fs_app, labels={"dmaas.openebs.io/backup-kind": "full"})
    assert "(full, no parent)" in log_text(fs_app, full)


def test_restore_on_another_cluster_is_byte_identical(fs_app, clusters):
    expected = tree(fs_app["volume"])
    name = backup(fs_app)
    (fs_app["volume"] / "README").write_text("changed after the backup\n")
    dst = clusters["dst"]
    location = dst.location(fs_app["bucket"], prefix="fs")
    try:
        wait_for(f"backup {name} synced", lambda: dst.get("backups", name))
        wait_for("its PodVolumeBackups synced", lambda: dst.list("podvolumebackups", f"velero.io/backup-name={name}"))
        restore = unique("rs")
        dst.create("restores", restore, {"backupName": name})
        result = dst.wait_phase("restores", restore, timeout=120)
        assert result["status"]["phase"] == "Completed", result["status"]
        assert tree(dst.volume_dir(fs_app["ns"], "data")) == expected
        deployment = dst.apps.read_namespaced_deployment("db", fs_app["ns"])
        assert deployment.metadata.labels["velero.io/restore-name"] == restore
        assert deployment.metadata.labels["velero.io/backup-name"] == name
    finally:
        dst.delete("backupstoragelocations", location)


def test_delete_forgets_restic_snapshot(fs_app):
    name = backup(fs_app)
    snapshot_objects = set(fs_app["bucket"].keys(f"fs/restic/{fs_app['ns']}/snapshots/"))
    request = unique("del")
    fs_app["src"].create("deletebackuprequests", request, {"backupName": name})
    done = fs_app["src"].wait_phase("deletebackuprequests", request, phases=("Processed",), timeout=60)
    assert not done["status"].get("errors"), done["status"]
    assert not fs_app["bucket"].keys(f"fs/backups/{name}/")
    assert len(set(fs_app["bucket"].keys(f"fs/restic/{fs_app['ns']}/snapshots/"))) == len(snapshot_objects) - 1
    assert not fs_app["src"].list("podvolumebackups", f"velero.io/backup-name={name}")
    assert fs_app["src"].get("backups", name) is None


def test_empty_volume_completes_without_snapshot(fs_app, clusters):
    src = fs_app["src"]
    ns = src.namespace()
    src.claim(ns, "empty", "openebs-hostpath")
    src.deployment(ns, "idle", "empty", annotations={"backup.velero.io/backup-volumes": "data"})
    assert not any(src.volume_dir(ns, "empty").iterdir())
    name = unique("empty")
    src.create("backups", name, {"includedNamespaces": [ns], "storageLocation": fs_app["location"]})
    result = src.wait_phase("backups", name, timeout=60)
    assert result["status"]["phase"] == "Completed", result["status"]
    pvb = src.list("podvolumebackups", f"velero.io/backup-name={name}")[0]
    assert pvb["status"]["phase"] == "Completed" and not pvb["status"]["snapshotID"]
    assert pvb["status"]["message"] == "volume was empty so no snapshot was taken"
    restore = unique("rs")
    src.create("restores", restore, {"backupName": name, "namespaceMapping": {ns: unique("copy")}})
    assert src.wait_phase("restores", restore)["status"]["phase"] == "Completed"
