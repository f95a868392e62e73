"""Lifecycle on the virtual clock and across clusters: TTL expiry, sync into
a cluster created after the source is gone, restores across Kubernetes and
Velero versions, schedules' validation, restore policies."""
import gzip
import json

import pytest
from kubernetes import client

from lab_http import control, wait_for
from velero_lab import Bucket, Cluster, advance, tree, unique

PSP = {"apiVersion": "policy/v1beta1", "kind": "PodSecurityPolicy",
       "spec": {"privileged": False, "seLinux": {"rule": "RunAsAny"}, "runAsUser": {"rule": "MustRunAsNonRoot"},
                "supplementalGroups": {"rule": "RunAsAny"}, "fsGroup": {"rule": "RunAsAny"},
                "volumes": ["configMap", "persistentVolumeClaim"]}}


def test_ttl_expiry_deletes_backup_on_virtual_clock(clusters, lab, bucket):
    src = clusters["src"]
    location = src.location(bucket)
    ns = src.namespace()
    src.core.create_namespaced_config_map(ns, {"metadata": {"name": "c"}, "data": {"k": "v"}})
    name = unique("ttl")
    src.create("backups", name, {"storageLocation": location, "includedNamespaces": [ns], "ttl": "1h0m0s"})
    backup = src.wait_phase("backups", name)
    assert backup["status"]["phase"] == "Completed"
    assert backup["status"]["expiration"] > backup["status"]["startTimestamp"]
    advance(lab, 1800)
    assert src.get("backups", name) is not None and bucket.keys(f"backups/{name}/")
    advance(lab, 1801)
    wait_for("expired backup deleted", lambda: src.get("backups", name) is None)
    assert not bucket.keys(f"backups/{name}/")
    # the garbage collector's request went with the backup (deleted without errors)
    assert src.list("deletebackuprequests", f"velero.io/backup-name={name}") == []


def test_sync_into_cluster_created_after_source_is_gone(lab, bucket):
    assert control(lab, "POST", "/clusters", {"name": "doomed"})[0] == 201
    doomed = Cluster(lab, "doomed")
    location = doomed.location(bucket, name="shared", prefix="dr")
    ns = doomed.namespace()
    doomed.claim(ns, "data", "openebs-hostpath")
    doomed.deployment(ns, "app", "data", annotations={"backup.velero.io/backup-volumes": "data"})
    volume = doomed.volume_dir(ns, "data")
    (volume / "state.db").write_bytes(b"\x00\x01important" * 5000)
    expected = tree(volume)
    name = unique("dr")
    doomed.create("backups", name, {"storageLocation": location, "includedNamespaces": [ns]})
    assert doomed.wait_phase("backups", name, timeout=120)["status"]["phase"] == "Completed"
    assert control(lab, "DELETE", "/clusters/doomed")[0] == 200
    assert control(lab, "POST", "/clusters", {"name": "phoenix", "velero_version": "1.11.1"})[0] == 201
    try:
        phoenix = Cluster(lab, "phoenix")
        phoenix.location(bucket, name="shared", prefix="dr")
        # the sync creates the Backup, then sets its status from the bucket's copy
        synced = phoenix.wait_phase("backups", name)
        assert synced["metadata"]["labels"]["velero.io/storage-location"] == "shared"
        # Velero stamps lastSyncedTime once the whole sync pass is done, so it
        # may lag the first synced Backup: wait for it rather than race it.
        wait_for("BSL lastSyncedTime set",
                 lambda: (phoenix.get("backupstoragelocations", "shared").get("status") or {}).get("lastSyncedTime"))
        assert synced["status"]["phase"] == "Completed" and synced["status"]["version"] == 1
        wait_for("PodVolumeBackups synced", lambda: phoenix.list("podvolumebackups", f"velero.io/backup-name={name}"))
        restore = unique("rs")
        phoenix.create("restores", restore, {"backupName": name})
        assert phoenix.wait_phase("restores", restore, timeout=120)["status"]["phase"] == "Completed"
        assert tree(phoenix.volume_dir(ns, "data")) == expected
        # a backup deleted from the bucket goes from the cluster at the next sync
        bucket.client.delete_objects(Bucket=bucket.name, Delete={"Objects": [
            {"Key": k} for k in bucket.keys(f"dr/backups/{name}/")]})
        advance(lab, 61)
        wait_for("orphaned backup removed", lambda: phoenix.get("backups", name) is None)
    finally:
        control(lab, "DELETE", "/clusters/phoenix")


@pytest.fixture(scope="module")
def psp_backup(clusters, lab):
    old1 = clusters["old1"]
    bucket = Bucket(lab, "minio", unique("psp"))
    location = old1.location(bucket, name="psp")
    names = [unique("restricted"), unique("baseline")]
    for name in names:
        old1.custom.create_cluster_custom_object("policy", "v1beta1", "podsecuritypolicies",
                                                 dict(PSP, metadata={"name": name}))
    backup = unique("psp")
    old1.create("backups", backup, {"storageLocation": location, "includedResources": ["podsecuritypolicies"],
                                    "includeClusterResources": True})
    assert old1.wait_phase("backups", backup)["status"]["phase"] == "Completed"
    assert json.loads(bucket.get(f"backups/{backup}/velero-backup.json"))["status"]["version"] == 1
    return {"bucket": bucket, "backup": backup, "names": names}


def restore_psp(cluster, psp_backup):
    location = cluster.location(psp_backup["bucket"], name=unique("psp"))
    wait_for("PSP backup synced", lambda: cluster.get("backups", psp_backup["backup"]))
    restore = unique("rs")
    cluster.create("restores", restore, {"backupName": psp_backup["backup"]})
    result = cluster.wait_phase("restores", restore)
    cluster.delete("backupstoragelocations", location)
    return restore, result


def test_psp_restores_into_cluster_that_serves_it(clusters, psp_backup):
    old2 = clusters["old2"]
    _, result = restore_psp(old2, psp_backup)
    assert result["status"]["phase"] == "Completed", result["status"]
    for name in psp_backup["names"]:
        restored = old2.custom.get_cluster_custom_object("policy", "v1beta1", "podsecuritypolicies", name)
        assert restored["spec"] == PSP["spec"]


def test_psp_restore_into_1_29_with_velero_before_1_14_skips_the_resource(clusters, psp_backup):
    """Velero 1.11-1.13 logs that it cannot resolve the resource (Info) and
    skips it: no error, no warning, nothing in the resource list."""
    dst = clusters["dst"]
    restore, result = restore_psp(dst, psp_backup)
    assert result["status"]["phase"] == "Completed", result["status"]
    assert not result["status"].get("errors") and not result["status"].get("warnings")
    log = gzip.decompress(psp_backup["bucket"].get(f"restores/{restore}/restore-{restore}-logs.gz")).decode()
    assert ('level=info msg="Skipping restore of resource because it cannot be resolved via discovery" '
            'resource=podsecuritypolicies.policy restore=velero/') in log
    listed = psp_backup["bucket"].json_gz(f"restores/{restore}/restore-{restore}-resource-list.json.gz")
    assert not any("PodSecurityPolicy" in key for key in listed)


def test_psp_restore_into_1_29_with_velero_1_16_fails_each_item(clusters, psp_backup):
    """Velero 1.14 on logs the same (Info) and goes on: creating each item
    fails as the API server does not know the resource."""
    src = clusters["src"]
    restore, result = restore_psp(src, psp_backup)
    assert result["status"]["phase"] == "PartiallyFailed"
    assert result["status"]["errors"] == len(psp_backup["names"])
    log = gzip.decompress(psp_backup["bucket"].get(f"restores/{restore}/restore-{restore}-logs.gz")).decode()
    assert 'msg="resource cannot be resolved via discovery" resource=podsecuritypolicies.policy' in log
    results = psp_backup["bucket"].json_gz(f"restores/{restore}/restore-{restore}-results.gz")
    assert sorted(results["errors"]["cluster"]) == sorted(
        f"error restoring podsecuritypolicies.policy/{name}: the server could not find the requested resource"
        for name in psp_backup["names"])


def test_schedule_validation_and_pause(clusters, lab):
    src = clusters["src"]
    bad = unique("bad")
    src.create("schedules", bad, {"schedule": "every hour please", "template": {}})
    result = src.wait_phase("schedules", bad, phases=("FailedValidation",))
    assert "invalid schedule" in result["status"]["validationErrors"][0]
    paused = unique("paused")
    src.create("schedules", paused, {"schedule": "*/5 * * * *", "paused": True,
                                     "template": {"includedNamespaces": ["default"]}})
    advance(lab, 900)
    assert not src.list("backups", f"velero.io/schedule-name={paused}")
    # Velero's schedule controller filters paused Schedules out: not even a phase
    assert not src.get("schedules", paused).get("status") and "skipImmediately" not in src.get("schedules", paused)["spec"]
    src.delete("schedules", bad)
    src.delete("schedules", paused)


@pytest.mark.parametrize("cron,message", [
    ("", "Schedule must be a non-empty valid Cron expression"),
    ("every hour please", "invalid schedule: expected exactly 5 fields, found 3: [every hour please]"),
])
def test_schedule_validation_messages_are_veleros(clusters, cron, message):
    src = clusters["src"]
    bad = unique("bad")
    src.create("schedules", bad, {"schedule": cron, "template": {}})
    result = src.wait_phase("schedules", bad, phases=("FailedValidation",))
    assert result["status"]["validationErrors"] == [message]
    assert result["spec"]["skipImmediately"] is False          # Velero writes the server's default
    src.delete("schedules", bad)


def test_a_schedule_waits_while_its_backup_is_new_or_in_progress(clusters, lab, bucket):
    """checkIfBackupInNewOrProgress: a due run waits while a Backup of the
    schedule is New or InProgress, and is made (named for that moment, once)
    as soon as that one is done; skipImmediately skips the first run."""
    src = clusters["src"]
    location = src.location(bucket, prefix=unique("overlap"))
    schedule = unique("overlap")
    src.create("schedules", schedule, {"schedule": "@every 1h", "skipImmediately": True,
                                       "template": {"includedNamespaces": ["default"], "storageLocation": location}})
    src.wait_phase("schedules", schedule, phases=("Enabled",))
    made = src.get("schedules", schedule)
    assert made["spec"]["skipImmediately"] is False and made["status"]["lastSkipped"]
    # a Backup of the schedule that stays InProgress (as if its server were still at it)
    stuck = unique("stuck")
    src.create("backups", stuck, {"storageLocation": location}, labels={"velero.io/schedule-name": schedule})
    src.wait_phase("backups", stuck)
    # Velero's CRDs have no status subresource: status goes with the object
    src.custom.patch_namespaced_custom_object("velero.io", "v1", "velero", "backups", stuck,
                                              {"status": {"phase": "InProgress"}})
    advance(lab, 3 * 3600)
    assert [b["metadata"]["name"] for b in src.list("backups", f"velero.io/schedule-name={schedule}")] == [stuck]
    src.custom.patch_namespaced_custom_object("velero.io", "v1", "velero", "backups", stuck,
                                              {"status": {"phase": "Completed"}})
    now = control(lab, "GET", "/clock")[1]["now"]
    made = wait_for("the delayed run", lambda: [b for b in src.list("backups", f"velero.io/schedule-name={schedule}")
                                                if b["metadata"]["name"] != stuck])
    assert [b["metadata"]["name"] for b in made] == [f"{schedule}-{now[:19].replace('-', '').replace(':', '').replace('T', '')}"]
    src.delete("schedules", schedule)
    for backup in [stuck] + [b["metadata"]["name"] for b in made]:
        src.delete("backups", backup)


def test_existing_resources_policy(clusters, bucket):
    src = clusters["src"]
    location = src.location(bucket)
    ns = src.namespace()
    src.core.create_namespaced_config_map(ns, {"metadata": {"name": "conf"}, "data": {"v": "backed-up"}})
    name = unique("bk")
    src.create("backups", name, {"storageLocation": location, "includedNamespaces": [ns]})
    assert src.wait_phase("backups", name)["status"]["phase"] == "Completed"
    src.core.patch_namespaced_config_map("conf", ns, {"data": {"v": "changed"}})
    keep = unique("rs")
    src.create("restores", keep, {"backupName": name})
    result = src.wait_phase("restores", keep)
    assert result["status"]["phase"] == "Completed" and result["status"]["warnings"] >= 1
    assert src.core.read_namespaced_config_map("conf", ns).data == {"v": "changed"}
    update = unique("rs")
    src.create("restores", update, {"backupName": name, "existingResourcePolicy": "update"})
    assert src.wait_phase("restores", update)["status"]["phase"] == "Completed"
    assert src.core.read_namespaced_config_map("conf", ns).data == {"v": "backed-up"}
    missing = unique("rs")
    src.create("restores", missing, {"backupName": "no-such-backup"})
    failed = src.wait_phase("restores", missing)
    assert failed["status"]["phase"] == "FailedValidation"
    assert "no-such-backup" in failed["status"]["validationErrors"][0]


def test_corrupted_tarball_fails_restore_with_reason(clusters, bucket):
    src = clusters["src"]
    location = src.location(bucket)
    ns = src.namespace()
    src.core.create_namespaced_config_map(ns, {"metadata": {"name": "c"}, "data": {"k": "v" * 4000}})
    name = unique("bk")
    src.create("backups", name, {"storageLocation": location, "includedNamespaces": [ns]})
    assert src.wait_phase("backups", name)["status"]["phase"] == "Completed"
    bucket.corrupt(f"backups/{name}/{name}.tar.gz")
    restore = unique("rs")
    src.create("restores", restore, {"backupName": name, "namespaceMapping": {ns: unique("ns")}})
    result = src.wait_phase("restores", restore)
    assert result["status"]["phase"] == "Failed"
    assert "tarball" in result["status"]["failureReason"] and name in result["status"]["failureReason"]


def test_failed_volume_snapshot_makes_backup_partially_failed(clusters, lab, bucket):
    src = clusters["src"]
    location = src.location(bucket)
    snapshots = Bucket(lab, "minio", unique("snaps"))
    vsl = src.snapshot_location(snapshots)
    ns = src.namespace()
    src.claim(ns, "data", "openebs-cstor-csi")
    (src.volume_dir(ns, "data") / "f").write_text("x")
    snapshots.fault("cut")
    try:
        name = unique("bk")
        src.create("backups", name, {"storageLocation": location, "includedNamespaces": [ns],
                                     "volumeSnapshotLocations": [vsl]})
        backup = src.wait_phase("backups", name)
    finally:
        snapshots.fault("restore")
        src.delete("volumesnapshotlocations", vsl)
    assert backup["status"]["phase"] == "PartiallyFailed"
    assert backup["status"]["errors"] == 1
    assert backup["status"]["volumeSnapshotsAttempted"] == 1 and "volumeSnapshotsCompleted" not in backup["status"]
    log = gzip.decompress(bucket.get(f"backups/{name}/{name}-logs.gz")).decode()
    assert "Error taking snapshot of volume" in log and snapshots.name in log
    records = bucket.json_gz(f"backups/{name}/{name}-volumesnapshots.json.gz")
    assert records[0]["status"]["phase"] == "Failed"


def test_bucket_quota_fails_backup_with_reason(clusters, lab, bucket):
    src = clusters["src"]
    location = src.location(bucket)
    ns = src.namespace()
    src.core.create_namespaced_config_map(ns, {"metadata": {"name": "big"}, "data": {"k": "x" * 200000}})
    status, body = control(lab, "PUT", "/s3/minio/quota", {"bucket": bucket.name, "bytes": 1000})
    assert status == 200, body
    try:
        name = unique("bk")
        src.create("backups", name, {"storageLocation": location, "includedNamespaces": [ns]})
        backup = src.wait_phase("backups", name)
    finally:
        control(lab, "PUT", "/s3/minio/quota", {"bucket": bucket.name, "bytes": None})
    assert backup["status"]["phase"] == "Failed"
    assert "XMinioAdminBucketQuotaExceeded" in backup["status"]["failureReason"]
    assert not bucket.keys(f"backups/{name}/velero-backup.json")


def test_schedule_owner_references(clusters, lab, bucket):
    src = clusters["src"]
    location = src.location(bucket)
    name = unique("owned")
    schedule = src.create("schedules", name, {"schedule": "@every 1h", "useOwnerReferencesInBackup": True,
                                              "template": {"includedNamespaces": ["default"],
                                                           "storageLocation": location,
                                                           "metadata": {"labels": {"team": "blue"}}}})
    src.wait_phase("schedules", name, phases=("Enabled",))
    advance(lab, 3600)
    backups = src.list("backups", f"velero.io/schedule-name={name}")
    src.delete("schedules", name)
    assert len(backups) == 1
    meta = backups[0]["metadata"]
    assert meta["labels"]["team"] == "blue"
    assert meta["ownerReferences"][0]["kind"] == "Schedule"
    assert meta["ownerReferences"][0]["uid"] == schedule["metadata"]["uid"]


def test_two_snapshot_locations_need_one_named(clusters, bucket):
    src = clusters["src"]
    location = src.location(bucket)
    first, second = src.snapshot_location(bucket), src.snapshot_location(bucket)
    try:
        name = unique("bk")
        src.create("backups", name, {"storageLocation": location, "includedNamespaces": ["default"]})
        backup = src.wait_phase("backups", name)
        assert backup["status"]["phase"] == "FailedValidation"
        assert "more than one possible volume snapshot location" in backup["status"]["validationErrors"][0]
        named = unique("bk")
        src.create("backups", named, {"storageLocation": location, "includedNamespaces": ["default"],
                                      "volumeSnapshotLocations": [second]})
        assert src.wait_phase("backups", named)["status"]["phase"] == "Completed"
    finally:
        src.delete("volumesnapshotlocations", first)
        src.delete("volumesnapshotlocations", second)


def test_custom_resources_restore_after_their_crd(lab, clusters, bucket):
    """Also Velero's discovery: the server knows the kinds of its last
    refresh (at start, every 5 minutes, and after a restore creates CRDs),
    so a backup right after a new CRD lacks it and its custom resources."""
    src, dst = clusters["src"], clusters["dst"]
    group, plural = f"{unique('lab')}.example.com", "widgets"
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": f"{plural}.{group}"},
           "spec": {"group": group, "scope": "Namespaced",
                    "names": {"plural": plural, "singular": "widget", "kind": "Widget"},
                    "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                        "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}
    src.custom.create_cluster_custom_object("apiextensions.k8s.io", "v1", "customresourcedefinitions", crd)
    ns = src.namespace()
    wait_for("CRD served", lambda: _serves(src, group, plural, ns))
    src.custom.create_namespaced_custom_object(group, "v1", ns, plural, {
        "apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"size": 3}})
    location = src.location(bucket)
    crd_entry = f"resources/customresourcedefinitions.apiextensions.k8s.io/cluster/{plural}.{group}.json"
    widget_entry = f"resources/{plural}.{group}/namespaces/{ns}/w1.json"

    def backup(cluster, where):
        name = unique("bk")
        cluster.create("backups", name, {"storageLocation": where, "includedNamespaces": [ns]})
        assert cluster.wait_phase("backups", name)["status"]["phase"] == "Completed"
        return name, bucket.tar_members(f"backups/{name}/{name}.tar.gz")

    _, members = backup(src, location)
    assert crd_entry not in members and widget_entry not in members   # not discovered yet
    advance(lab, 300)
    name, members = backup(src, location)
    assert crd_entry in members and widget_entry in members
    dst_location = dst.location(bucket)
    try:
        wait_for("backup synced", lambda: dst.get("backups", name))
        restore = unique("rs")
        dst.create("restores", restore, {"backupName": name})
        assert dst.wait_phase("restores", restore)["status"]["phase"] == "Completed"
        widget = dst.custom.get_namespaced_custom_object(group, "v1", ns, plural, "w1")
        assert widget["spec"] == {"size": 3}
        # the restore created the CRD and refreshed discovery: dst backs the kind up at once
        _, members = backup(dst, dst_location)
        assert crd_entry in members and widget_entry in members
    finally:
        dst.delete("backupstoragelocations", dst_location)


def _serves(cluster, group, plural, namespace):
    try:
        cluster.custom.list_namespaced_custom_object(group, "v1", namespace, plural)
        return True
    except client.ApiException:
        return False
