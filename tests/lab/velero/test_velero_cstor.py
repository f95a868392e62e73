"""The OpenEBS plugin's snapshots: F, I, I, F chains from a schedule with
incrBackupCount, chain replay on restore (byte-identical to each backup's
time), corruption detected on restore, the backup log in Velero's and the
plugin's words, and deletion taking a backup's snapshot with it, so that an
incremental standing on it no longer restores."""
import gzip
import json
import re

import pytest

from lab_http import control, wait_for
from velero_lab import advance, tree, unique, Bucket


def hour_boundary(lab):
    """Move the clock to the next whole hour (so an hourly cron fires next at +1h)."""
    now = control(lab, "GET", "/clock")[1]["now"]
    minutes, seconds = int(now[14:16]), int(now[17:19])
    if minutes or seconds:
        advance(lab, 3600 - minutes * 60 - seconds)


def write(path, rel, data):
    target = path / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


@pytest.fixture(scope="module")
def chain(clusters, lab):
    """An hourly schedule over a cStor volume, 4 runs with incrBackupCount 2:
    F, I, I, F; the data of the volume recorded at each backup."""
    src = clusters["src"]
    bucket = Bucket(lab, "minio", unique("cstor"))
    location = src.location(bucket, prefix="velero")
    vsl = src.snapshot_location(bucket, prefix="cstor", incrBackupCount=2, restoreAllIncrementalSnapshots="true")
    ns = src.namespace()
    src.claim(ns, "data", "openebs-cstor-csi")
    volume = src.volume_dir(ns, "data")
    write(volume, "a.txt", b"alpha v1\n")
    write(volume, "dir/b.bin", bytes(range(256)) * 1024)
    write(volume, "gone.txt", b"deleted before the second backup\n")
    hour_boundary(lab)
    schedule = unique("hourly")
    src.create("schedules", schedule, {"schedule": "0 * * * *", "template": {
        "includedNamespaces": [ns], "storageLocation": location, "volumeSnapshotLocations": [vsl]}})
    wait_for("schedule enabled", lambda: (src.get("schedules", schedule).get("status") or {}).get("phase"))
    expected, names = [], []
    edits = [lambda: None,
             lambda: ((volume / "gone.txt").unlink(), write(volume, "a.txt", b"alpha v2\n")),
             lambda: write(volume, "new/c.txt", b"added in the third\n"),
             lambda: write(volume, "a.txt", b"alpha v4\n")]
    for edit in edits:
        edit()
        expected.append(tree(volume))
        advance(lab, 3600)
        backups = sorted(b["metadata"]["name"] for b in src.list("backups", f"velero.io/schedule-name={schedule}"))
        names.append(backups[-1])
        assert len(backups) == len(names)
        backup = src.wait_phase("backups", names[-1])
        assert backup["status"]["phase"] == "Completed", backup["status"]
    src.custom.patch_namespaced_custom_object("velero.io", "v1", "velero", "schedules", schedule,
                                              {"spec": {"paused": True}})
    pv = volume.name
    yield {"src": src, "bucket": bucket, "location": location, "vsl": vsl, "ns": ns, "names": names,
           "expected": expected, "pv": pv, "schedule": schedule}
    src.delete("schedules", schedule)
    # one cStor VSL per cluster: with two and none named, Velero fails every backup's validation
    src.delete("volumesnapshotlocations", vsl)


def meta(chain, backup):
    return json.loads(chain["bucket"].get(f"cstor/backups/{backup}/cstor-{chain['pv']}-{backup}.meta.json"))


def test_schedule_names_and_labels(chain):
    for name in chain["names"]:
        assert name.startswith(chain["schedule"] + "-") and len(name) == len(chain["schedule"]) + 15
        backup = chain["src"].get("backups", name)
        assert backup["metadata"]["labels"]["velero.io/schedule-name"] == chain["schedule"]
    stamps = [n[-14:] for n in chain["names"]]
    assert stamps == sorted(stamps) and stamps[0].endswith("0000")
    assert chain["src"].get("schedules", chain["schedule"])["status"]["lastBackup"]


def test_chain_kinds_follow_incr_backup_count(chain):
    kinds = [meta(chain, n)["kind"] for n in chain["names"]]
    assert kinds == ["full", "incremental", "incremental", "full"]
    second = meta(chain, chain["names"][1])
    assert second["parent"] == f"{chain['pv']}-velero-bkp-{chain['names'][0]}"
    assert second["deleted"] == ["gone.txt"]
    full_size = meta(chain, chain["names"][0])["size"]
    assert meta(chain, chain["names"][2])["size"] < full_size / 4     # only the new file
    claim = json.loads(chain["bucket"].get(f"cstor/backups/{chain['names'][1]}/cstor-{chain['pv']}-"
                                           f"{chain['names'][1]}.pvc"))
    assert claim["metadata"]["name"] == "data" and "volumeName" not in claim["spec"]
    assert claim["spec"]["storageClassName"] == "openebs-cstor-csi" and "uid" not in claim["metadata"]
    records = chain["bucket"].json_gz(f"velero/backups/{chain['names'][1]}/{chain['names'][1]}-volumesnapshots.json.gz")
    assert records[0]["spec"]["providerVolumeID"] == chain["pv"]
    assert records[0]["status"] == {"providerSnapshotID": f"{chain['pv']}-velero-bkp-{chain['names'][1]}",
                                    "phase": "Completed"}
    backup = chain["src"].get("backups", chain["names"][1])
    assert backup["status"]["volumeSnapshotsAttempted"] == backup["status"]["volumeSnapshotsCompleted"] == 1


@pytest.fixture(scope="module")
def dst(chain, clusters):
    """The restore cluster connected to the same bucket (BSL + same-named VSL)."""
    dst = clusters["dst"]
    location = dst.location(chain["bucket"], prefix="velero")
    dst.snapshot_location(chain["bucket"], name=chain["vsl"], prefix="cstor", restoreAllIncrementalSnapshots="true")
    yield dst
    dst.delete("backupstoragelocations", location)
    dst.delete("volumesnapshotlocations", chain["vsl"])


@pytest.mark.parametrize("index", [0, 2, 3])
def test_restore_replays_chain_on_another_cluster(chain, dst, index):
    backup = chain["names"][index]
    wait_for(f"backup {backup} synced to dst", lambda: dst.get("backups", backup), timeout=30)
    target_ns = unique("restored")
    restore = unique("rs")
    dst.create("restores", restore, {"backupName": backup, "namespaceMapping": {chain["ns"]: target_ns}})
    result = dst.wait_phase("restores", restore)
    assert result["status"]["phase"] == "Completed", result["status"]
    assert tree(dst.volume_dir(target_ns, "data")) == chain["expected"][index]
    # the PV comes from the snapshot (Velero's PV restore), under its own name unless that is taken
    volume = dst.core.read_namespaced_persistent_volume_claim("data", target_ns).spec.volume_name
    assert volume == chain["pv"] or volume.startswith("velero-clone-")
    pv = dst.core.read_persistent_volume(volume)
    assert pv.metadata.labels["velero.io/restore-name"] == restore


def test_corrupted_snapshot_fails_restore_with_reason(chain, clusters, lab):
    src = chain["src"]
    first = chain["names"][0]
    key = f"cstor/backups/{first}/cstor-{chain['pv']}-{first}"
    original = chain["bucket"].get(key)
    chain["bucket"].corrupt(key)
    try:
        restore = unique("rs")
        target_ns = unique("corrupt")
        src.create("restores", restore, {"backupName": chain["names"][2],
                                         "namespaceMapping": {chain["ns"]: target_ns}})
        result = src.wait_phase("restores", restore)
        assert result["status"]["phase"] == "PartiallyFailed"
        assert result["status"]["errors"] >= 1
        results = chain["bucket"].json_gz(f"velero/restores/{restore}/restore-{restore}-results.gz")
        message = json.dumps(results["errors"])
        assert "checksum mismatch" in message and first in message
        # no volume was made from the broken snapshot, so the claim stays unbound (as with Velero)
        claim = src.core.read_namespaced_persistent_volume_claim("data", target_ns)
        assert claim.status.phase != "Bound"
    finally:
        chain["bucket"].client.put_object(Bucket=chain["bucket"].name, Key=key, Body=original)


def test_the_backup_log_says_what_velero_and_the_plugin_say(chain):
    """Velero's item backupper and the plugin's CreateSnapshot log these
    lines (item_backupper.go, pkg/cstor/cstor.go); neither names a kind or
    a parent, so nothing may read one from the log."""
    for name in chain["names"]:
        log = gzip.decompress(chain["bucket"].get(f"velero/backups/{name}/{name}-logs.gz")).decode()
        assert 'msg="Snapshotting persistent volume"' in log
        assert f'msg="creating snapshot{{{name}}}"' in log and 'msg="Snapshot Successfully Created"' in log
        assert not re.search(r"\b(parent|incremental|full)\b", log, re.IGNORECASE), log


def test_deleting_a_backup_deletes_its_snapshot_whatever_stands_on_it(chain, dst):
    """The plugin's DeleteSnapshot removes the snapshot object even while
    later incrementals stand on it; a restore of such an incremental then
    fails (zfs receive needs the incremental's source snapshot)."""
    src, bucket, names = chain["src"], chain["bucket"], chain["names"]
    snapshot_key = f"cstor/backups/{names[0]}/cstor-{chain['pv']}-{names[0]}"
    request = unique("del")
    src.create("deletebackuprequests", request, {"backupName": names[0]})
    # deleted without errors, Velero removes the backup's requests too
    wait_for(f"backup {names[0]} and request {request} gone",
             lambda: src.get("backups", names[0]) is None and src.get("deletebackuprequests", request) is None)
    assert not bucket.keys(f"velero/backups/{names[0]}/")
    # the plugin's DeleteSnapshot removes the snapshot; its copy of the claim stays
    assert [k for k in bucket.keys("cstor/") if names[0] in k] == [snapshot_key + ".pvc"]
    assert f"cstor/backups/{names[2]}/cstor-{chain['pv']}-{names[2]}" in bucket.keys("cstor/")
    restore, target_ns = unique("rs"), unique("baseless")
    dst.create("restores", restore, {"backupName": names[2], "namespaceMapping": {chain["ns"]: target_ns}})
    result = dst.wait_phase("restores", restore)
    assert result["status"]["phase"] == "PartiallyFailed", result["status"]
    message = json.dumps(bucket.json_gz(f"velero/restores/{restore}/restore-{restore}-results.gz")["errors"])
    assert f"{chain['pv']}-velero-bkp-{names[0]}" in message and "no longer in the location" in message


def test_read_only_location_refuses_deletion(chain):
    src = chain["src"]
    location = src.location(chain["bucket"], prefix="velero", accessMode="ReadOnly")
    backup = unique("ro-bk")
    # a backup object pointing at the read-only location (as sync would create it)
    src.create("backups", backup, {"storageLocation": chain["location"], "includedNamespaces": [chain["ns"]]})
    src.wait_phase("backups", backup)
    src.custom.patch_namespaced_custom_object("velero.io", "v1", "velero", "backups", backup,
                                              {"spec": {"storageLocation": location}})
    request = unique("del")
    src.create("deletebackuprequests", request, {"backupName": backup})
    done = src.wait_phase("deletebackuprequests", request, phases=("Processed",))
    assert "read-only" in done["status"]["errors"][0]
    assert src.get("backups", backup) is not None
