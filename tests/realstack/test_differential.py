"""The lab's Velero held to real Velero 1.16 by value: the same operations on
a lab cluster and on a real-stack cluster, and what each wrote compared
after normalising only what must differ (stack_sides.normalise: generated
names, timestamps, UIDs, resourceVersions, the node, kopia's IDs, the order
of lists without one), and backups crossing between the two through one
bucket, both ways.

The real side is the stack's cluster "backup" (and "restore" for the
crossings); the lab side a cluster of the lab process that serves the
stack's S3, at the same versions. Both write to one bucket, each under its
own prefix (a shared one for the crossings). Compared: the Backup object,
velero-backup.json, the resource list, every JSON document of the tarball,
the results, the PodVolumeBackups, a Restore with its results, resource
list, PodVolumeRestores and restored objects; include/exclude and label
selectors; a restore PartiallyFailed by a resource the target does not
serve; DeleteBackupRequest; TTL expiry and garbage collection (real side:
a one-minute TTL); a Schedule's first runs (real: one a minute).

Where the two set-ups (not the two Velero) differ, the comparison leaves a
part out and says why in SETUP; each is listed in README, "Where the lab
simplifies"."""
import datetime
import gzip
import json
import os
import re
import uuid

import boto3
import pytest
from botocore.config import Config

from runner.dmaas import wording
from stack_sides import (BUCKET, PAYLOAD, RUN, Side, control, differences, normalise, setup_only, unordered, until,
                         without_write_counts)

LOC = f"diff-{RUN}"
SAME = f"same-{RUN}"
NS = f"diff-{RUN}"

# Where the two set-ups differ, not the two Velero: {path regex: why}. Each is in README,
# "Where the lab simplifies"
DEFAULTED = ("kube-apiserver defaults fields the request left out, and its admission plugins add finalizers; "
             "the lab's API server does neither")
SETUP = {
    r"\.spec\.(progressDeadlineSeconds|revisionHistoryLimit|strategy|volumeMode)$": DEFAULTED,
    r"\.spec\.template\.metadata\.creationTimestamp$": DEFAULTED,
    r"\.spec\.template\.spec\.(dnsPolicy|restartPolicy|schedulerName|securityContext|serviceAccount|"
    r"terminationGracePeriodSeconds)$": DEFAULTED,
    r"\.spec\.template\.spec\.containers\[\d+\]\.(imagePullPolicy|resources|terminationMessagePath|"
    r"terminationMessagePolicy)$": DEFAULTED,
    r"^(resources/persistentvolumeclaims/.*|PersistentVolumeClaim/\S+): \.metadata\.finalizers$": DEFAULTED,
    r"^resources/persistentvolumes/": "each set-up provisions its PVs its own way: the lab as OpenEBS LocalPV "
                                      "does (labels, annotations, hostPath), the real stack's local-PV "
                                      "provisioner as local PVs",
    r"kube-root-ca\.crt(\.json)?: \.data\.ca\.crt$": "the lab serves plain HTTP: no cluster CA",
    r"^resources/pods/.*: \.(spec|status)\.": "pods run on each set-up's node: the lab's runtime, the real "
                                              "stack's kubelet and containerd (status, IPs) and kube-apiserver's "
                                              "defaults and admission (service account token volume, tolerations)",
    r"^resources/pods/.*: \.metadata\.generation$": "the lab binds a pod by updating it, the scheduler through "
                                                      "the binding subresource",
}


def _ttl_beyond_both_clocks(lab):
    """The same TTL for both sides that keeps either side's backup alive on
    the other's clock. The lab stamps expiration from its virtual clock
    (months behind the wall clock); real Velero's GC controller deletes a
    synced backup whose expiration has passed on its own clock at once,
    kopia snapshot included."""
    lab_now = datetime.datetime.fromisoformat(control(lab.control_url, "GET", "/clock")["now"].replace("Z", "+00:00"))
    behind = datetime.datetime.now(datetime.timezone.utc) - lab_now
    hours = max(0, int(behind.total_seconds() // 3600)) + 720      # + 30 days, Velero's default TTL
    return f"{hours}h0m0s"


@pytest.fixture(scope="module")
def sides(stack):
    s3 = stack["s3"]["minio"]
    bucket = boto3.client("s3", endpoint_url=s3["endpoint"], region_name=s3["region"],
                          aws_access_key_id=s3["access_key"], aws_secret_access_key=s3["secret_key"],
                          config=Config(s3={"addressing_style": "path"}))
    bucket.create_bucket(Bucket=BUCKET)
    real = stack["clusters"]["backup"]
    made = []

    def lab_cluster(prefix, version=None):
        name = f"{prefix}-{uuid.uuid4().hex[:4]}"
        entry = control(stack["s3_control"], "POST", "/clusters",
                        {"name": name, "version": version or real["version"],
                         "velero_version": real["velero_version"]})
        made.append(name)
        return Side("lab", entry, s3, bucket, stack["s3_control"])
    try:
        yield {"real": Side("real", real, s3, bucket), "lab": lab_cluster("labside"),
               "restore": Side("real", stack["clusters"]["restore"], s3, bucket), "lab_cluster": lab_cluster}
    finally:
        if not os.environ.get("DMAAS_REALSTACK_DIR"):       # an attached stack keeps them, to look at
            for name in made:
                control(stack["s3_control"], "DELETE", f"/clusters/{name}")


@pytest.fixture(scope="module")
def backups(sides):
    """The same app and the same Backup on both sides, each to its own
    prefix; also the long real waits, begun here so they overlap: a
    Schedule firing every minute and a Backup with a one-minute TTL."""
    ttl = _ttl_beyond_both_clocks(sides["lab"])
    for kind in ("real", "lab"):
        side = sides[kind]
        side.location(LOC, prefix=kind)
        side.app(NS)
    started = {kind: _start_schedule_and_ttl(sides[kind]) for kind in ("real", "lab")}
    done = {kind: sides[kind].backup(SAME, {"includedNamespaces": [NS], "storageLocation": LOC, "ttl": ttl})
            for kind in ("real", "lab")}
    return {"objects": done, "ttl": ttl, "started": started}


def _names(side, backup=SAME):
    """Side-specific strings of a backup: the node, and the PodVolumeBackups' generated names."""
    names = side.names()
    for pvb in side.list("podvolumebackups", f"velero.io/backup-name={backup}"):
        names[pvb["metadata"]["name"]] = f"{backup}-<pvb>"
    return names


def _compare(lab, real, what):
    found = setup_only(differences(lab, real), SETUP)
    assert not found, f"{what}: the lab differs from real Velero in {len(found)} places:\n" + "\n".join(found[:40])


# -- one backup ----------------------------------------------------------------------
def test_the_backup_objects_agree(sides, backups):
    objects = backups["objects"]
    assert objects["real"]["status"]["phase"] == "Completed", objects["real"]["status"]
    lab, real = (normalise(_backup_object(objects[k]), _names(sides[k])) for k in ("lab", "real"))
    _compare(lab, real, "Backup")


def _backup_object(obj):
    """A Backup as compared: its progress counts, which count the set-up's events, left out."""
    obj = without_write_counts(obj)
    obj.get("status", {}).pop("progress", None)
    return obj


def test_velero_backup_json_and_the_results_agree(sides, backups):
    for name in (f"backups/{SAME}/velero-backup.json",):
        lab, real = (normalise(json.loads(sides[k].get(f"{k}/{name}")), _names(sides[k])) for k in ("lab", "real"))
        _compare(_backup_object(lab), _backup_object(real), name)
    for name in (f"backups/{SAME}/{SAME}-results.gz", f"backups/{SAME}/{SAME}-volumesnapshots.json.gz",
                 f"backups/{SAME}/{SAME}-itemoperations.json.gz",
                 f"backups/{SAME}/{SAME}-csi-volumesnapshots.json.gz"):
        lab, real = (normalise(sides[k].gz_json(f"{k}/{name}"), _names(sides[k])) for k in ("lab", "real"))
        _compare(lab, real, name)


def _keys(side, kind):
    """The side's keys of the backup SAME, its restore and the kopia repository, by name; kopia's
    blobs by kind (content-addressed names differ)."""
    found = set()
    for key in side.keys(f"{kind}/"):
        parts = key[len(kind) + 1:].split("/")
        if parts[0] == "kopia":
            blob = parts[-1]
            found.add("kopia/<ns>/" + (blob if blob.startswith("kopia.") else re.sub(r"[0-9a-f]{8,}.*", "*", blob)))
        elif parts[:2] in (["backups", SAME], ["restores", f"{SAME}-r"]):
            found.add(normalise("/".join(parts)))
    return found


def test_the_bucket_keys_agree(sides, restored):
    lab, real = _keys(sides["lab"], "lab"), _keys(sides["real"], "real")
    assert sorted(lab - real) == [] and sorted(real - lab) == []


def _resource_list(side, key):
    listed = normalise(side.gz_json(key), _names(side))
    return {kind: unordered(items) for kind, items in listed.items() if not kind.endswith("/Event")}


def test_the_resource_lists_agree(sides, backups):
    key = f"backups/{SAME}/{SAME}-resource-list.json.gz"
    _compare(_resource_list(sides["lab"], f"lab/{key}"), _resource_list(sides["real"], f"real/{key}"), key)


def test_the_tarball_documents_agree(sides, backups):
    """Every entry and every JSON document in it (events: SETUP)."""
    def documents(kind):
        members = sides[kind].tarball(f"{kind}/backups/{SAME}/{SAME}.tar.gz")
        names = _names(sides[kind])
        return {normalise(name, names): (json.loads(data) if name.endswith(".json") else data.decode())
                for name, data in members.items() if "/events/" not in name and "/events.events.k8s.io/" not in name}
    lab, real = documents("lab"), documents("real")
    assert sorted(lab) == sorted(real)
    found = []
    for name in sorted(lab):
        found += [f"{name}: {d}" for d in differences(normalise(lab[name], _names(sides["lab"])),
                                                     normalise(real[name], _names(sides["real"])))]
    found = setup_only(found, SETUP)
    assert not found, f"{len(found)} differences:\n" + "\n".join(found[:60])


def test_the_pod_volume_backups_agree(sides, backups):
    def pvbs(kind):
        key = f"{kind}/backups/{SAME}/{SAME}-podvolumebackups.json.gz"
        return normalise(sides[kind].gz_json(key), _names(sides[kind]))
    _compare(without_write_counts(pvbs("lab")), without_write_counts(pvbs("real")), "PodVolumeBackups in the bucket")
    in_cluster = {k: without_write_counts(normalise(sides[k].list("podvolumebackups", f"velero.io/backup-name={SAME}"),
                                                    _names(sides[k]))) for k in ("lab", "real")}
    _compare(in_cluster["lab"], in_cluster["real"], "PodVolumeBackups in the cluster")


# -- its restore -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def restored(sides, backups):
    name = f"{SAME}-r"
    done = {}
    for kind in ("real", "lab"):
        side = sides[kind]
        done[kind] = side.restore(name, {"backupName": SAME, "namespaceMapping": {NS: NS + "-r"}})
        assert side.payload(NS + "-r") == PAYLOAD, f"{kind}: the restored volume's data differs"
    return {"name": name, "objects": done}


def _restore_names(side, name):
    names = side.names()
    for pvr in side.list("podvolumerestores", f"velero.io/restore-name={name}"):
        names[pvr["metadata"]["name"]] = f"{name}-<pvr>"
    return names


def test_the_restore_and_its_results_agree(sides, restored):
    name = restored["name"]
    lab, real = (without_write_counts(normalise(restored["objects"][k], _restore_names(sides[k], name)))
                 for k in ("lab", "real"))
    _compare(lab, real, "Restore")
    for file in (f"restores/{name}/restore-{name}-results.gz", f"restores/{name}/{name}-volumeinfo.json.gz",
                 f"restores/{name}/restore-{name}-itemoperations.json.gz"):
        lab, real = (normalise(sides[k].gz_json(f"{k}/{file}"), _restore_names(sides[k], name)) for k in ("lab", "real"))
        _compare(lab, real, file)
    file = f"restores/{name}/restore-{name}-resource-list.json.gz"
    _compare(_resource_list(sides["lab"], f"lab/{file}"), _resource_list(sides["real"], f"real/{file}"), file)


def test_the_pod_volume_restores_agree(sides, restored):
    name = restored["name"]
    lab, real = (without_write_counts(normalise(sides[k].list("podvolumerestores", f"velero.io/restore-name={name}"),
                                                _restore_names(sides[k], name))) for k in ("lab", "real"))
    _compare(lab, real, "PodVolumeRestores")


def test_the_restored_objects_agree(sides, restored):
    def objects(kind):
        side, ns = sides[kind], NS + "-r"
        found = {}
        for what, items in (("ConfigMap", side.core.list_namespaced_config_map(ns).items),
                            ("Secret", side.core.list_namespaced_secret(ns).items),
                            ("ServiceAccount", side.core.list_namespaced_service_account(ns).items),
                            ("PersistentVolumeClaim", side.core.list_namespaced_persistent_volume_claim(ns).items),
                            ("Deployment", side.apps.list_namespaced_deployment(ns).items)):
            for item in items:
                doc = side.core.api_client.sanitize_for_serialization(item)
                found[normalise(f"{what}/{item.metadata.name}")] = normalise(doc, _restore_names(side, restored["name"]))
        return found
    lab, real = objects("lab"), objects("real")
    assert sorted(lab) == sorted(real)
    found = setup_only([f"{key}: {d}" for key in sorted(lab) for d in differences(lab[key], real[key])], SETUP)
    assert not found, f"{len(found)} differences:\n" + "\n".join(found[:60])


# -- selection ------------------------------------------------------------------------
SELECTIONS = {
    "exclude-secrets": {"includedNamespaces": [NS], "excludedResources": ["secrets", "events", "events.events.k8s.io"]},
    "include-two-kinds": {"includedNamespaces": [NS], "includedResources": ["configmaps", "secrets"]},
    "label-selector": {"includedNamespaces": [NS], "labelSelector": {"matchLabels": {"tier": "db"}}},
    "or-label-selectors": {"includedNamespaces": [NS], "orLabelSelectors": [
        {"matchLabels": {"tier": "db"}},
        {"matchExpressions": [{"key": "app", "operator": "In", "values": ["diff"]}]}]},
    "namespace-label-only": {"includedNamespaces": [NS], "labelSelector": {"matchLabels": {"team": "diff"}}},
    "cluster-resources": {"includedNamespaces": [NS], "includeClusterResources": True,
                          "includedResources": ["storageclasses", "namespaces", "configmaps"]},
    "no-cluster-resources": {"includedNamespaces": [NS], "includeClusterResources": False,
                             "excludedResources": ["events", "events.events.k8s.io"]},
    "a-namespace-that-is-not-there": {"includedNamespaces": [NS, f"absent-{RUN}"], "includedResources": ["configmaps"]},
}


@pytest.mark.parametrize("selection", sorted(SELECTIONS))
def test_a_selection_takes_the_same_items(sides, backups, selection):
    name = f"sel-{selection[:40]}-{RUN}"
    done = {k: sides[k].backup(name, dict(SELECTIONS[selection], storageLocation=LOC)) for k in ("lab", "real")}
    for what in ("phase", "errors", "warnings"):
        assert done["lab"]["status"].get(what) == done["real"]["status"].get(what), (what, done)
    key = f"backups/{name}/{name}-resource-list.json.gz"
    _compare(_resource_list(sides["lab"], f"lab/{key}"), _resource_list(sides["real"], f"real/{key}"), key)
    key = f"backups/{name}/{name}-results.gz"
    _compare(normalise(sides["lab"].gz_json(f"lab/{key}")), normalise(sides["real"].gz_json(f"real/{key}")), key)


# -- a restore of what the target does not serve, crossing from the lab -------------------
def test_a_restore_of_a_resource_the_target_does_not_serve(sides, backups):
    """A lab cluster at Kubernetes 1.23 backs up PodSecurityPolicies; real
    Velero on Kubernetes 1.33 and a lab cluster at 1.33 restore them: both
    PartiallyFailed, each item an error, the log naming the resource as one
    Velero cannot resolve."""
    legacy = sides["lab_cluster"]("legacy", version="1.23.17")
    prefix, name = f"psp-{RUN}", f"psp-{RUN}"
    legacy.location(prefix, prefix=prefix)
    for policy in ("restricted", "privileged"):
        legacy.custom.create_cluster_custom_object("policy", "v1beta1", "podsecuritypolicies", {
            "apiVersion": "policy/v1beta1", "kind": "PodSecurityPolicy", "metadata": {"name": f"{policy}-{RUN}"},
            "spec": {"privileged": policy == "privileged", "seLinux": {"rule": "RunAsAny"},
                     "runAsUser": {"rule": "RunAsAny"}, "supplementalGroups": {"rule": "RunAsAny"},
                     "fsGroup": {"rule": "RunAsAny"}, "volumes": ["*"]}})
    made = legacy.backup(name, {"includedResources": ["podsecuritypolicies"], "includeClusterResources": True,
                                "storageLocation": prefix, "ttl": backups["ttl"]})
    assert made["status"]["phase"] == "Completed", made["status"]
    result, files = {}, {}
    for kind, side in (("real", sides["restore"]), ("lab", sides["lab"])):
        side.location(prefix, prefix=prefix)
        until(f"{kind} backup {name} synced", lambda: (side.velero("backups", name) or {}).get("status"),
              nudge=side.nudge)
        restore = f"{name}-{kind}"
        done = side.restore(restore, {"backupName": name})
        names = {restore: "<restore>"}
        base = f"{prefix}/restores/{restore}/restore-{restore}"
        result[kind] = without_write_counts(normalise(done, names))
        files[kind] = {"results": normalise(side.gz_json(f"{base}-results.gz"), names),
                       "resources": normalise(side.gz_json(f"{base}-resource-list.json.gz"), names),
                       "unresolved": sorted(wording.unresolved_resources(
                           gzip.decompress(side.get(f"{base}-logs.gz")).decode()))}
    _compare(result["lab"], result["real"], "Restore")
    assert result["real"]["status"]["phase"] == "PartiallyFailed" and result["real"]["status"]["errors"] == 2
    assert "podsecuritypolicies.policy" in files["real"]["unresolved"]
    _compare(files["lab"], files["real"], "the restore's results, resource list and unresolved resources")


# -- deleting --------------------------------------------------------------------------
def test_a_delete_backup_request_deletes_alike(sides, backups):
    name = f"doomed-{RUN}"
    for kind in ("lab", "real"):
        side = sides[kind]
        assert side.backup(name, {"includedNamespaces": [NS], "storageLocation": LOC,
                                  "ttl": backups["ttl"]})["status"]["phase"] == "Completed"
        assert side.keys(f"{kind}/backups/{name}/")
        side.create("deletebackuprequests", "DeleteBackupRequest", f"{name}-del", {"backupName": name},
                    labels={"velero.io/backup-name": name})
    gone = {}
    for kind in ("lab", "real"):
        side = sides[kind]
        # Velero deletes the Backup, marks the request Processed, then deletes the backup's requests
        until(f"{kind} backup {name} and its DeleteBackupRequests gone",
              lambda: side.velero("backups", name) is None
              and not side.list("deletebackuprequests", f"velero.io/backup-name={name}"), nudge=side.nudge)
        gone[kind] = {"bucket": side.keys(f"{kind}/backups/{name}/"),
                      "pvbs": side.list("podvolumebackups", f"velero.io/backup-name={name}"),
                      "requests": without_write_counts(normalise(side.list("deletebackuprequests",
                                                                           f"velero.io/backup-name={name}")))}
    _compare(gone["lab"], gone["real"], "after a DeleteBackupRequest")
    assert gone["real"]["bucket"] == [] and gone["real"]["pvbs"] == []


def _start_schedule_and_ttl(side):
    """A Schedule firing every minute and a Backup with a one-minute TTL."""
    side.create("schedules", "Schedule", f"minutely-{RUN}", {
        "schedule": "*/1 * * * *", "template": {"includedNamespaces": [NS], "storageLocation": LOC,
                                                 "includedResources": ["configmaps"], "ttl": "720h0m0s",
                                                 "metadata": {"labels": {"plan": "minutely"}}}})
    return side.backup(f"short-{RUN}", {"includedNamespaces": [NS], "storageLocation": LOC, "ttl": "1m0s",
                                        "includedResources": ["configmaps"]})


def test_a_backup_expires_and_is_collected_alike(sides, backups):
    """Real side: a one-minute TTL and the stack's one-minute GC period; the
    lab's clock is moved past the expiration."""
    name = f"short-{RUN}"
    made = backups["started"]
    for kind in ("lab", "real"):
        status = made[kind]["status"]
        start, expires = (datetime.datetime.fromisoformat(status[k].replace("Z", "+00:00"))
                          for k in ("startTimestamp", "expiration"))
        assert abs((expires - start).total_seconds() - 60) <= 1, (kind, status)
    sides["lab"].nudge(120)
    gone = {}
    for kind in ("lab", "real"):
        side = sides[kind]
        until(f"{kind} backup {name} collected", lambda: side.velero("backups", name) is None, timeout=300,
              nudge=side.nudge)
        gone[kind] = {"bucket": side.keys(f"{kind}/backups/{name}/"),
                      "requests": without_write_counts(normalise(side.list("deletebackuprequests",
                                                                           f"velero.io/backup-name={name}")))}
    _compare(gone["lab"], gone["real"], "after garbage collection")


def test_a_schedules_first_runs_agree(sides, backups):
    """Real Velero checks its Schedules once a minute; the lab's clock is
    moved two minutes on. Two runs each: the Schedule, the Backups' names,
    labels, spec and phase."""
    schedule = f"minutely-{RUN}"
    sides["lab"].nudge(60)
    sides["lab"].nudge(60)
    runs = {}
    for kind in ("lab", "real"):
        side = sides[kind]
        runs[kind] = until(f"{kind} two runs of {schedule}", lambda: (
            lambda found: found if len(found) >= 2 else None)(
                [side.finished("backups", b["metadata"]["name"])
                 for b in side.list("backups", f"velero.io/schedule-name={schedule}")]), timeout=200)[:2]
    lab, real = ({"schedule": without_write_counts(normalise(sides[k].velero("schedules", schedule))),
                  "runs": [normalise(_backup_object(b)) for b in sorted(runs[k], key=lambda b: b["metadata"]["name"])]}
                 for k in ("lab", "real"))
    _compare(lab, real, "a Schedule and its first two Backups")
    for kind in ("lab", "real"):
        sides[kind].delete("schedules", schedule)


# -- crossings ------------------------------------------------------------------------------
def test_a_backup_the_lab_wrote_restores_with_real_velero(sides, backups):
    """Real Velero syncs the lab's backup from the bucket and restores it,
    volume data (a kopia snapshot the lab's uploader took) included."""
    restore = sides["restore"]
    restore.location(f"from-lab-{RUN}", prefix="lab")
    restore.synced(SAME)
    done = restore.restore(f"lab-made-{RUN}", {"backupName": SAME})
    assert done["status"]["phase"] == "Completed", done["status"]
    assert restore.payload(NS) == PAYLOAD
    assert restore.core.read_namespaced_config_map("settings", NS).data == {"mode": "fast"}


def test_a_backup_real_velero_wrote_restores_on_the_lab(sides, backups):
    """The lab syncs real Velero's backup and restores it, volume data (a
    kopia snapshot real node-agent took) included."""
    real, lab = sides["real"], sides["lab"]
    made = f"real-made-{RUN}"
    assert real.backup(made, {"includedNamespaces": [NS], "storageLocation": LOC,
                              "ttl": "720h0m0s"})["status"]["phase"] == "Completed"
    lab.location(f"from-real-{RUN}", prefix="real")
    lab.synced(made)
    assert lab.velero("backups", made)["spec"]["storageLocation"] == f"from-real-{RUN}"
    done = lab.restore(made, {"backupName": made, "namespaceMapping": {NS: NS + "-x"}})
    assert done["status"]["phase"] == "Completed", done["status"]
    assert lab.payload(NS + "-x") == PAYLOAD


def test_the_server_status_agrees(sides):
    """What `velero version` and `velero plugin get` read, and the DMaaS
    preflight too: a ServerStatusRequest the server answers with its version
    and its plugins. The lab's lists, besides, the cStor snapshotter it
    stands in for (the OpenEBS plugin's)."""
    answers = {}
    for kind in ("real", "lab"):
        side = sides[kind]
        side.create("serverstatusrequests", "ServerStatusRequest", f"status-{RUN}", {})
        answers[kind] = side.finished("serverstatusrequests", f"status-{RUN}")["status"]
        side.delete("serverstatusrequests", f"status-{RUN}")
    real, lab = answers["real"], answers["lab"]
    assert (lab["phase"], lab["serverVersion"]) == (real["phase"], real["serverVersion"]) == ("Processed", "v1.16.2")
    cstor = {"name": "openebs.io/cstor-blockstore", "kind": "VolumeSnapshotter"}
    # Velero lists its plugins in no fixed order (its registry is a map)
    ordered = lambda plugins: sorted(plugins, key=lambda p: (p["kind"], p["name"]))   # noqa: E731
    assert ordered(p for p in lab["plugins"] if p != cstor) == ordered(real["plugins"])
