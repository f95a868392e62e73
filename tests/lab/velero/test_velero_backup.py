"""Backup: validation, Velero's bucket and tarball layout, include/exclude
precedence, locations (ReadOnly, cut bucket)."""
import json

import pytest

from lab_http import wait_for
from velero_lab import advance, unique

LAYOUT_FILES = ["velero-backup.json", "{b}.tar.gz", "{b}-logs.gz", "{b}-resource-list.json.gz",
                "{b}-volumesnapshots.json.gz", "{b}-podvolumebackups.json.gz", "{b}-results.gz",
                "{b}-itemoperations.json.gz", "{b}-volumeinfo.json.gz", "{b}-csi-volumesnapshots.json.gz",
                "{b}-csi-volumesnapshotcontents.json.gz", "{b}-csi-volumesnapshotclasses.json.gz"]


@pytest.fixture(scope="module")
def app(clusters, lab):
    """Two namespaces with a mix of resources, and a bucket + BSL on src."""
    from velero_lab import Bucket
    src = clusters["src"]
    bucket = Bucket(lab, "aws", unique("layout"))
    location = src.location(bucket, prefix="team-a/backups")
    ns1, ns2 = src.namespace(), src.namespace()
    for ns in (ns1, ns2):
        src.core.create_namespaced_config_map(ns, {"metadata": {"name": "settings", "labels": {"tier": "web"}},
                                                   "data": {"k": "v"}})
        src.core.create_namespaced_config_map(ns, {"metadata": {"name": "db-settings", "labels": {"tier": "db"}},
                                                   "data": {"k": "v"}})
        src.core.create_namespaced_secret(ns, {"metadata": {"name": "token"}, "stringData": {"password": "planted-value"}})
        src.apps.create_namespaced_deployment(ns, {
            "metadata": {"name": "nginx-controller", "labels": {"tier": "web"}},
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "nginx"}},
                     "template": {"metadata": {"labels": {"app": "nginx"}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
        src.custom.create_namespaced_custom_object("networking.k8s.io", "v1", ns, "ingresses", {
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "portal"},
            "spec": {"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}}})
    return {"bucket": bucket, "location": location, "ns1": ns1, "ns2": ns2, "src": src}


def run_backup(app, spec):
    src, name = app["src"], unique("bk")
    src.create("backups", name, dict(spec, storageLocation=app["location"]))
    backup = src.wait_phase("backups", name)
    return name, backup


def resources_in(app, name):
    members = app["bucket"].tar_members(f"team-a/backups/backups/{name}/{name}.tar.gz")
    return {m for m in members if m.startswith("resources/") and "-preferredversion/" not in m}


def test_backup_writes_velero_layout_and_status(app):
    name, backup = run_backup(app, {"includedNamespaces": [app["ns1"]], "ttl": "24h0m0s"})
    status = backup["status"]
    assert status["phase"] == "Completed"
    assert status["formatVersion"] == "1.1.0" and status["version"] == 1
    assert status["startTimestamp"] and status["completionTimestamp"]
    assert status["progress"]["totalItems"] == status["progress"]["itemsBackedUp"] > 0
    start = status["startTimestamp"]
    assert status["expiration"] > start
    assert backup["metadata"]["labels"]["velero.io/storage-location"] == app["location"]
    keys = set(app["bucket"].keys("team-a/backups/backups/" + name + "/"))
    assert keys == {f"team-a/backups/backups/{name}/" + f.format(b=name) for f in LAYOUT_FILES}
    stored = json.loads(app["bucket"].get(f"team-a/backups/backups/{name}/velero-backup.json"))
    assert stored["kind"] == "Backup" and stored["status"]["phase"] == "Completed"
    assert stored["status"]["version"] == 1
    members = app["bucket"].tar_members(f"team-a/backups/backups/{name}/{name}.tar.gz")
    ns = app["ns1"]
    assert members["metadata/version"] == b"1.1.0\n"
    assert f"resources/configmaps/namespaces/{ns}/settings.json" in members
    assert f"resources/configmaps/v1-preferredversion/namespaces/{ns}/settings.json" in members
    assert f"resources/deployments.apps/namespaces/{ns}/nginx-controller.json" in members
    assert f"resources/deployments.apps/v1-preferredversion/namespaces/{ns}/nginx-controller.json" in members
    assert f"resources/namespaces/cluster/{ns}.json" in members
    deployment = json.loads(members[f"resources/deployments.apps/namespaces/{ns}/nginx-controller.json"])
    assert deployment["apiVersion"] == "apps/v1" and deployment["kind"] == "Deployment"
    resource_list = app["bucket"].json_gz(f"team-a/backups/backups/{name}/{name}-resource-list.json.gz")
    assert f"{ns}/settings" in resource_list["v1/ConfigMap"]
    assert not any(app["ns2"] in member for member in members)


# (spec, names that must be in the backup, names that must not) -- "{1}"/"{2}" are the namespaces
SELECTION_TABLE = [
    ({"includedNamespaces": ["{1}"], "excludedResources": ["secrets"]},
     ["configmaps/namespaces/{1}/settings.json"], ["secrets/namespaces/{1}/token.json"]),
    ({"includedNamespaces": ["{1}"], "includedResources": ["configmaps", "secrets"], "excludedResources": ["secret"]},
     ["configmaps/namespaces/{1}/settings.json"],
     ["secrets/namespaces/{1}/token.json", "deployments.apps/namespaces/{1}/nginx-controller.json"]),
    ({"includedNamespaces": ["{1}"], "excludedResources": ["ingresses.networking.k8s.io", "deployments.apps"]},
     ["secrets/namespaces/{1}/token.json"],
     ["ingresses.networking.k8s.io/namespaces/{1}/portal.json", "deployments.apps/namespaces/{1}/nginx-controller.json"]),
    ({"includedNamespaces": ["{1}"], "includedResources": ["ing", "deploy"]},
     ["ingresses.networking.k8s.io/namespaces/{1}/portal.json", "deployments.apps/namespaces/{1}/nginx-controller.json"],
     ["configmaps/namespaces/{1}/settings.json"]),
    ({"includedNamespaces": ["{1}"], "labelSelector": {"matchLabels": {"tier": "db"}}},
     ["configmaps/namespaces/{1}/db-settings.json"],
     ["configmaps/namespaces/{1}/settings.json", "deployments.apps/namespaces/{1}/nginx-controller.json"]),
    ({"includedNamespaces": ["{1}"], "orLabelSelectors": [{"matchLabels": {"tier": "db"}},
                                                         {"matchExpressions": [{"key": "tier", "operator": "In",
                                                                                "values": ["web"]}]}]},
     ["configmaps/namespaces/{1}/db-settings.json", "deployments.apps/namespaces/{1}/nginx-controller.json"],
     ["secrets/namespaces/{1}/token.json"]),
    ({"includedNamespaces": ["{1}"], "includeClusterResources": True},
     ["storageclasses.storage.k8s.io/cluster/openebs-hostpath.json", "namespaces/cluster/{1}.json"],
     ["namespaces/cluster/{2}.json"]),
    ({"includedNamespaces": ["{1}"]},
     ["namespaces/cluster/{1}.json"], ["storageclasses.storage.k8s.io/cluster/openebs-hostpath.json",
                                       "namespaces/cluster/{2}.json"]),
    ({"includedNamespaces": ["*"], "excludedNamespaces": ["{2}"], "includeClusterResources": False,
      "includedResources": ["configmaps", "storageclasses"]},
     ["configmaps/namespaces/{1}/settings.json"],
     ["configmaps/namespaces/{2}/settings.json", "storageclasses.storage.k8s.io/cluster/openebs-hostpath.json"]),
]


@pytest.mark.parametrize("spec,present,absent", SELECTION_TABLE)
def test_include_exclude_precedence(app, spec, present, absent):
    def fill(value):
        if isinstance(value, str):
            return value.replace("{1}", app["ns1"]).replace("{2}", app["ns2"])
        if isinstance(value, list):
            return [fill(v) for v in value]
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return value
    name, backup = run_backup(app, fill(spec))
    assert backup["status"]["phase"] == "Completed", backup["status"]
    found = resources_in(app, name)
    for path in fill(present):
        assert "resources/" + path in found, (path, sorted(found))
    for path in fill(absent):
        assert "resources/" + path not in found, path


def test_excluded_secret_value_is_nowhere_in_bucket(app):
    name, _ = run_backup(app, {"includedNamespaces": [app["ns1"], app["ns2"]], "excludedResources": ["secrets"]})
    for key in app["bucket"].keys(f"team-a/backups/backups/{name}/"):
        data = app["bucket"].get(key)
        blobs = [data]
        if key.endswith(".tar.gz"):
            blobs = list(app["bucket"].tar_members(key).values())
        elif key.endswith(".gz"):
            import gzip
            blobs = [gzip.decompress(data)]
        assert not any(b"planted-value" in blob or b"cGxhbnRlZC12YWx1ZQ" in blob for blob in blobs), key


def test_validation_failures(app):
    src = app["src"]
    src.create("backups", "bad-location", {"storageLocation": "nowhere"})
    bad = src.wait_phase("backups", "bad-location")
    assert bad["status"]["phase"] == "FailedValidation"
    assert "nowhere" in " ".join(bad["status"]["validationErrors"])
    name = unique("bk")
    src.create("backups", name, {"storageLocation": app["location"], "includedResources": ["configmaps"],
                                 "excludedResources": ["*"]})
    assert src.wait_phase("backups", name)["status"]["phase"] == "FailedValidation"
    name = unique("bk")
    src.create("backups", name, {"storageLocation": app["location"], "includedNamespaces": [app["ns1"]],
                                 "excludedNamespaces": [app["ns1"]]})
    both = src.wait_phase("backups", name)
    assert both["status"]["phase"] == "FailedValidation"
    assert app["ns1"] in both["status"]["validationErrors"][0]


def test_read_only_location_takes_no_backup(app, lab):
    src = app["src"]
    location = src.location(app["bucket"], prefix="team-a/backups", accessMode="ReadOnly")
    name = unique("ro")
    src.create("backups", name, {"storageLocation": location, "includedNamespaces": [app["ns1"]]})
    backup = src.wait_phase("backups", name)
    assert backup["status"]["phase"] == "FailedValidation"
    assert "read-only" in " ".join(backup["status"]["validationErrors"])
    assert not app["bucket"].keys(f"team-a/backups/backups/{name}/")


def test_cut_bucket_fails_backup_then_location_unavailable_fails_validation(clusters, lab, bucket):
    """Velero 1.16.2: an Available location whose bucket does not answer fails
    the backup (runBackup's BackupExists check); once the location is
    Unavailable, a new backup fails validation."""
    src = clusters["src"]
    location = src.location(bucket)
    assert src.get("backupstoragelocations", location)["status"]["phase"] == "Available"
    bucket.fault("cut")
    try:
        name = unique("cut")
        src.create("backups", name, {"storageLocation": location, "includedNamespaces": ["default"]})
        backup = src.wait_phase("backups", name)
        assert backup["status"]["phase"] == "Failed"
        reason = backup["status"]["failureReason"]
        assert reason.startswith("error checking if backup already exists in object storage: ") and \
            bucket.name in reason, reason
        advance(lab, 61)
        bsl = wait_for("BSL unavailable", lambda: (lambda b: b if b["status"]["phase"] == "Unavailable" else None)(
            src.get("backupstoragelocations", location)))
        assert bucket.name in bsl["status"]["message"]
        name = unique("cut")
        src.create("backups", name, {"storageLocation": location, "includedNamespaces": ["default"]})
        backup = src.wait_phase("backups", name)
        assert backup["status"]["phase"] == "FailedValidation"
        assert backup["status"]["validationErrors"] == [
            f"backup can't be created because BackupStorageLocation {location} is in Unavailable status. please "
            f"create a new backup after the BSL becomes available"]
    finally:
        bucket.fault("restore")
    advance(lab, 61)
    wait_for("BSL available again", lambda: src.get("backupstoragelocations", location)["status"]["phase"]
             == "Available")


def test_backup_already_in_the_bucket_fails(clusters, bucket):
    src = clusters["src"]
    location = src.location(bucket, prefix="taken")
    wait_for("first sync", lambda: (src.get("backupstoragelocations", location).get("status") or {})
             .get("lastSyncedTime"))
    name = unique("bk")
    # as another cluster sharing the location would have left it (the next sync would import it)
    bucket.client.put_object(Bucket=bucket.name, Key=f"taken/backups/{name}/velero-backup.json", Body=b"{}")
    src.create("backups", name, {"storageLocation": location, "includedNamespaces": ["default"]})
    backup = src.wait_phase("backups", name)
    assert backup["status"]["phase"] == "Failed"
    assert backup["status"]["failureReason"] == "backup already exists in object storage"
    assert bucket.keys(f"taken/backups/{name}/") == [f"taken/backups/{name}/velero-backup.json"]


def test_namespaces_as_velero_1_16_collects_them(app):
    """A pattern in includedNamespaces is not expanded, and an included
    namespace no namespace is named after is an error (results in Velero's
    log-hook form); a namespace excluded by the filter but holding listed
    items goes in with its items left out (item_collector.go, as the real
    stack showed)."""
    ns1, ns2 = app["ns1"], app["ns2"]
    name, backup = run_backup(app, {"includedNamespaces": [ns1 + "*", ns2]})
    assert backup["status"]["phase"] == "PartiallyFailed" and backup["status"]["errors"] == 1
    results = app["bucket"].json_gz(f"team-a/backups/backups/{name}/{name}-results.gz")
    assert results == {"errors": {"velero": [f" resource: /namespaces message: /fail to get the namespace {ns1}* "
                                             f"specified in backup.Spec.IncludedNamespaces"]}, "warnings": {}}
    found = resources_in(app, name)
    assert f"resources/namespaces/cluster/{ns1}.json" in found                      # the filter's glob takes it
    assert not any(f"/namespaces/{ns1}/" in path for path in found)               # its items are not listed
    assert f"resources/configmaps/namespaces/{ns2}/settings.json" in found
    name, backup = run_backup(app, {"includedNamespaces": ["*"], "excludedNamespaces": [ns2],
                                    "includedResources": ["configmaps", "namespaces"]})
    found = resources_in(app, name)
    assert f"resources/namespaces/cluster/{ns2}.json" in found
    assert not any(f"/namespaces/{ns2}/" in path for path in found)
