"""Snapshot or file-system backup follows the lab's engine entries, not a
driver name in code: a volume of an engine whose entry says `backup:
snapshot` is snapshotted by the OpenEBS plugin's stand-in through the VSL
(by its CSI driver, the entry's provisioner), one whose entry says `fs` goes
to file-system backup although it is a CSI volume too; both come back byte
for byte on another cluster."""
import pytest

from lab_http import wait_for
from velero_lab import ENGINES, Bucket, tree, unique


@pytest.fixture(scope="module")
def backed_up(clusters, lab):
    src = clusters["src"]
    bucket = Bucket(lab, "minio", unique("engines"))
    location = src.location(bucket, prefix="velero")
    vsl = src.snapshot_location(bucket, prefix="snapshots")
    ns = src.namespace()
    expected = {}
    for claim, engine, annotations in (("zfs", "zfs-local", None),
                                       ("lvm", "lvm-local", {"backup.velero.io/backup-volumes": "data"})):
        src.claim(ns, claim, ENGINES[engine]["storage_class"])
        src.deployment(ns, f"{claim}-app", claim, annotations=annotations)
        volume = src.volume_dir(ns, claim)
        (volume / "table.bin").write_bytes(claim.encode() * 4096)
        expected[claim] = tree(volume)
    name = unique("engines")
    try:
        src.create("backups", name, {"includedNamespaces": [ns], "storageLocation": location,
                                     "volumeSnapshotLocations": [vsl]})
        backup = src.wait_phase("backups", name, timeout=120)
    finally:
        src.delete("volumesnapshotlocations", vsl)     # one plugin VSL per cluster, or Velero must be told which
    assert backup["status"]["phase"] == "Completed", backup["status"]
    pvs = {claim: src.core.read_namespaced_persistent_volume_claim(claim, ns).spec.volume_name
           for claim in expected}
    return {"src": src, "bucket": bucket, "ns": ns, "name": name, "backup": backup, "pvs": pvs,
            "expected": expected, "vsl": vsl}


def test_the_snapshot_engines_volume_is_snapshotted_and_the_fs_engines_is_not(backed_up):
    name, bucket, pvs = backed_up["name"], backed_up["bucket"], backed_up["pvs"]
    snapshots = bucket.json_gz(f"velero/backups/{name}/{name}-volumesnapshots.json.gz")
    assert [s["spec"]["persistentVolumeName"] for s in snapshots] == [pvs["zfs"]]
    assert snapshots[0]["status"]["phase"] == "Completed"
    assert backed_up["backup"]["status"]["volumeSnapshotsCompleted"] == 1
    assert any(key.endswith(".meta.json") and pvs["zfs"] in key for key in bucket.keys("snapshots/"))
    pvbs = backed_up["src"].list("podvolumebackups", f"velero.io/backup-name={name}")
    assert [p["spec"]["pod"]["name"].split("-")[0] for p in pvbs] == ["lvm"]
    assert pvbs[0]["status"]["phase"] == "Completed"


def test_both_come_back_byte_for_byte_on_another_cluster(backed_up, clusters):
    dst = clusters["dst"]
    location = dst.location(backed_up["bucket"], prefix="velero")
    dst.snapshot_location(backed_up["bucket"], name=backed_up["vsl"], prefix="snapshots")
    try:
        name = backed_up["name"]
        wait_for(f"backup {name} synced", lambda: dst.get("backups", name))
        wait_for("its PodVolumeBackups synced", lambda: dst.list("podvolumebackups", f"velero.io/backup-name={name}"))
        target = unique("restored")
        restore = unique("rs")
        dst.create("restores", restore, {"backupName": name, "namespaceMapping": {backed_up["ns"]: target}})
        result = dst.wait_phase("restores", restore, timeout=120)
        assert result["status"]["phase"] == "Completed", result["status"]
        for claim, expected in backed_up["expected"].items():
            assert tree(dst.volume_dir(target, claim)) == expected, claim
        zfs_pv = dst.core.read_persistent_volume(dst.core.read_namespaced_persistent_volume_claim(
            "zfs", target).spec.volume_name)
        assert zfs_pv.spec.csi.driver == "zfs.csi.openebs.io"
    finally:
        dst.delete("backupstoragelocations", location)
        dst.delete("volumesnapshotlocations", backed_up["vsl"])
