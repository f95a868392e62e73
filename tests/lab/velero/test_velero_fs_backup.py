"""File-system backup by node-agent's uploader, as Velero runs it: kopia on
Velero 1.12 and later (cluster "src", 1.16.2), restic on 1.10/1.11 (cluster
"dst", 1.11.1). PodVolumeBackups and BackupRepositories as 1.16 writes them,
the repository where Velero puts it (read back with the uploader's own CLI),
parent selection per PVC, data restored byte-identical on the other cluster,
snapshots forgotten when the backup is deleted."""
import gzip
import json
import os
import subprocess
import tempfile

import pytest

from lab.tools import binary as _tool_binary
from lab_http import wait_for
from velero_lab import advance, tree, unique, Bucket

REPO_PASSWORD = "static-passw0rd"       # Velero's default velero-repo-credentials


@pytest.fixture(scope="module", params=[("kopia", "src", "dst"), ("restic", "dst", "src")],
                ids=["kopia", "restic"])
def fs_app(request, clusters, lab):
    uploader, source, other = request.param
    src = clusters[source]
    bucket = Bucket(lab, "aws", unique(uploader))
    location = src.location(bucket, prefix="fs")
    ns = src.namespace()
    src.claim(ns, "data", "openebs-hostpath")
    src.deployment(ns, "db", "data", annotations={"backup.velero.io/backup-volumes": "data"})
    volume = src.volume_dir(ns, "data")
    (volume / "rows").mkdir()
    (volume / "rows" / "table.bin").write_bytes(os.urandom(512 * 1024))
    (volume / "README").write_text("file-system backup lab data\n")
    return {"uploader": uploader, "src": src, "other": clusters[other], "bucket": bucket,
            "location": location, "ns": ns, "volume": volume}


def backup(fs_app, labels=None, **spec):
    name = unique("fs")
    fs_app["src"].create("backups", name, dict({"includedNamespaces": [fs_app["ns"]],
                                                "storageLocation": fs_app["location"]}, **spec), labels=labels)
    result = fs_app["src"].wait_phase("backups", name, timeout=120)
    assert result["status"]["phase"] == "Completed", result["status"]
    return name


def log_text(fs_app, name):
    return gzip.decompress(fs_app["bucket"].get(f"fs/backups/{name}/{name}-logs.gz")).decode()


def repository_snapshots(fs_app):
    """The snapshots in the namespace's repository, as the uploader's own
    CLI lists them (an independent reader of the bucket), oldest first:
    [{"id", "parent", "tags"}]."""
    s3, ns, bucket = fs_app["bucket"].s3, fs_app["ns"], fs_app["bucket"].name
    env = {"PATH": os.environ["PATH"], "AWS_ACCESS_KEY_ID": s3["access_key"],
           "AWS_SECRET_ACCESS_KEY": s3["secret_key"], "KOPIA_PASSWORD": REPO_PASSWORD,
           "RESTIC_PASSWORD": REPO_PASSWORD, "KOPIA_CHECK_FOR_UPDATES": "false"}
    with tempfile.TemporaryDirectory() as home:
        env["HOME"] = home
        if fs_app["uploader"] == "restic":
            repo = f"s3:{s3['endpoint']}/{bucket}/fs/restic/{ns}"
            out = subprocess.run(["restic", "-r", repo, "--cache-dir", home, "snapshots", "--json"], env=env,
                                 capture_output=True, text=True, check=True).stdout
            found = json.loads(out) or []
            # Velero records restic's short id (`restic snapshots` ShortID)
            return [{"id": s["short_id"], "full_id": s["id"], "parent": s.get("parent"), "tags": s.get("tags") or []}
                    for s in sorted(found, key=lambda s: s["time"])]
        kopia = [_tool_binary("kopia"), "--config-file", f"{home}/repo.config", "--log-dir", home,
                 "--no-persist-credentials"]
        endpoint = s3["endpoint"].split("://", 1)[1]
        subprocess.run([*kopia, "repository", "connect", "s3", "--bucket", bucket, "--prefix", f"fs/kopia/{ns}/",
                        "--endpoint", endpoint, "--disable-tls", "--readonly"], env=env,
                       capture_output=True, text=True, check=True)
        out = subprocess.run([*kopia, "snapshot", "list", "--all", "--json"], env=env,
                             capture_output=True, text=True, check=True).stdout
        found = json.loads(out) or []
        return [{"id": s["id"], "parent": None, "source": s["source"], "tags": s.get("tags") or {},
                 "cached_files": (s.get("stats") or {}).get("cachedFiles", 0), "pins": s.get("pins") or []}
                for s in sorted(found, key=lambda s: s["startTime"])]


def test_pod_volume_backup_recorded(fs_app):
    name = backup(fs_app)
    pvbs = fs_app["src"].list("podvolumebackups", f"velero.io/backup-name={name}")
    assert len(pvbs) == 1
    pvb = pvbs[0]
    uploader, ns, bucket = fs_app["uploader"], fs_app["ns"], fs_app["bucket"]
    assert pvb["status"]["phase"] == "Completed" and pvb["status"]["snapshotID"]
    assert pvb["status"]["progress"]["totalBytes"] >= 512 * 1024
    assert pvb["spec"]["volume"] == "data" and pvb["spec"]["pod"]["namespace"] == ns
    assert pvb["spec"]["uploaderType"] == uploader
    assert pvb["metadata"]["annotations"]["velero.io/pvc-name"] == "data"
    pod_uid = pvb["spec"]["pod"]["uid"]
    assert pvb["status"]["path"].startswith(f"/host_pods/{pod_uid}/volumes/")
    if uploader == "restic":
        assert pvb["spec"]["repoIdentifier"].endswith(f"/{bucket.name}/fs/restic/{ns}")
        assert bucket.keys(f"fs/restic/{ns}/config")
    else:       # Velero 1.16 leaves repoIdentifier empty for kopia; the repository is under <prefix>/kopia/<ns>/
        assert pvb["spec"]["repoIdentifier"] == ""
        assert bucket.keys(f"fs/kopia/{ns}/kopia.repository")
    in_bucket = bucket.json_gz(f"fs/backups/{name}/{name}-podvolumebackups.json.gz")
    assert [p["status"]["snapshotID"] for p in in_bucket] == [pvb["status"]["snapshotID"]]
    repos = fs_app["src"].list("backuprepositories", f"velero.io/volume-namespace={ns}")
    assert [r["spec"]["repositoryType"] for r in repos] == [uploader]
    assert repos[0]["status"]["phase"] == "Ready"
    assert repos[0]["spec"]["resticIdentifier"].endswith(f"/{bucket.name}/fs/restic/{ns}")
    assert repos[0]["spec"]["maintenanceFrequency"] == {"kopia": "1h0m0s", "restic": "168h0m0s"}[uploader]
    # the snapshot is in the repository, as the uploader's own CLI reads it
    snapshots = {s["id"]: s for s in repository_snapshots(fs_app)}
    assert pvb["status"]["snapshotID"] in snapshots
    snapshot = snapshots[pvb["status"]["snapshotID"]]
    if uploader == "kopia":
        assert snapshot["source"] == {"host": "default", "userName": "default", "path": pvb["status"]["path"]}
        assert snapshot["pins"] == ["velero-pin"]
        # Velero's uploader stores the tags as given (the kopia CLI would prefix them "tag:")
        assert snapshot["tags"]["backup"] == name and snapshot["tags"]["snapshot-uploader"] == "kopia"
        assert snapshot["tags"]["snapshot-requester"] == "pod-volume-backup-restore"
    else:
        assert f"backup={name}" in snapshot["tags"]
    # no password or key in any log
    secret = bucket.s3["secret_key"]
    assert REPO_PASSWORD not in log_text(fs_app, name) and secret not in log_text(fs_app, name)


def test_each_backup_is_based_on_the_volumes_previous_one(fs_app, lab):
    """Velero's getParentSnapshot (restic: --parent of the PVC's latest
    completed PodVolumeBackup) / kopia's previous snapshot of the same
    source: unchanged files are not read again. A Backup labelled
    full by the DMaaS layer is no exception: Velero has no per-backup full."""
    advance(lab, 60)
    first = backup(fs_app)
    advance(lab, 60)
    second = backup(fs_app, labels={"dmaas.openebs.io/backup-kind": "full"})
    snap = {n: fs_app["src"].list("podvolumebackups", f"velero.io/backup-name={n}")[0]["status"]["snapshotID"]
            for n in (first, second)}
    snapshots = {s["id"]: s for s in repository_snapshots(fs_app)}
    if fs_app["uploader"] == "restic":
        assert snapshots[snap[second]]["parent"] == snapshots[snap[first]]["full_id"]
    else:
        assert snapshots[snap[second]]["cached_files"] >= 2, snapshots[snap[second]]


def test_restore_on_another_cluster_is_byte_identical(fs_app):
    expected = tree(fs_app["volume"])
    name = backup(fs_app)
    (fs_app["volume"] / "README").write_text("changed after the backup\n")
    dst = fs_app["other"]
    location = dst.location(fs_app["bucket"], prefix="fs")
    try:
        wait_for(f"backup {name} synced", lambda: dst.get("backups", name))
        wait_for("its PodVolumeBackups synced", lambda: dst.list("podvolumebackups", f"velero.io/backup-name={name}"))
        restore = unique("rs")
        dst.create("restores", restore, {"backupName": name})
        result = dst.wait_phase("restores", restore, timeout=120)
        assert result["status"]["phase"] == "Completed", result["status"]
        # node-agent's done file stays where the restore helper runs as non-root (Velero 1.16+,
        # vmware-tanzu/velero#8973); an older helper removes it once the pod starts
        done = {f".velero/{result['metadata']['uid']}": b""} if dst.velero_version >= (1, 16) else {}
        assert tree(dst.volume_dir(fs_app["ns"], "data")) == {**expected, **done}
        deployment = dst.apps.read_namespaced_deployment("db", fs_app["ns"])
        assert deployment.metadata.labels["velero.io/restore-name"] == restore
        assert deployment.metadata.labels["velero.io/backup-name"] == name
    finally:
        dst.delete("backupstoragelocations", location)


def test_delete_forgets_the_snapshot(fs_app):
    name = backup(fs_app)
    snap = fs_app["src"].list("podvolumebackups", f"velero.io/backup-name={name}")[0]["status"]["snapshotID"]
    assert snap in {s["id"] for s in repository_snapshots(fs_app)}
    request = unique("del")
    fs_app["src"].create("deletebackuprequests", request, {"backupName": name})
    # deleted without errors, Velero removes the backup's requests too
    wait_for(f"backup {name} and request {request} gone", lambda: fs_app["src"].get("backups", name) is None
             and fs_app["src"].get("deletebackuprequests", request) is None, timeout=60)
    assert not fs_app["bucket"].keys(f"fs/backups/{name}/")
    assert snap not in {s["id"] for s in repository_snapshots(fs_app)}
    assert not fs_app["src"].list("podvolumebackups", f"velero.io/backup-name={name}")
    assert fs_app["src"].get("backups", name) is None


def test_empty_volume(fs_app):
    """restic refuses an empty snapshot, so Velero's restic path completes
    without one; Velero 1.16's kopia path snapshots the empty directory."""
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
    assert pvb["status"]["phase"] == "Completed"
    if fs_app["uploader"] == "restic":
        assert not pvb["status"]["snapshotID"]
        assert pvb["status"]["message"] == "volume was empty so no snapshot was taken"
    else:
        assert pvb["status"]["snapshotID"]
    restore = unique("rs")
    src.create("restores", restore, {"backupName": name, "namespaceMapping": {ns: unique("copy")}})
    assert src.wait_phase("restores", restore)["status"]["phase"] == "Completed"
