"""The pure parts of lab/velero: bucket layout keys, include/exclude and
resource-name resolution, the tarball format, chain payloads, durations
and cron parsing."""
import datetime
import gzip
import io
import tarfile

import pytest

from lab.apiserver.registry import ResourceRegistry
from lab.velero import chains, kube, layout, restores, schedules, selection, tarball

UTC = datetime.timezone.utc


def test_backup_store_layout_keys():
    keys = layout.BackupStoreLayout("team/a/")
    assert keys.backup_contents("b1") == "team/a/backups/b1/b1.tar.gz"
    assert keys.backup_metadata("b1") == "team/a/backups/b1/velero-backup.json"
    assert keys.backup_log("b1") == "team/a/backups/b1/b1-logs.gz"
    assert keys.backup_dir("b1") == "team/a/backups/b1/"
    assert keys.restore_log("r1") == "team/a/restores/r1/restore-r1-logs.gz"
    assert keys.restore_results("r1") == "team/a/restores/r1/restore-r1-results.gz"
    assert keys.restic_repository("http://s3:9000/", "bkt", "ns1") == "s3:http://s3:9000/bkt/team/a/restic/ns1"
    root = layout.BackupStoreLayout("")
    assert root.backup_contents("b1") == "backups/b1/b1.tar.gz"
    assert root.backup_name_from_dir("backups/b1/") == "b1"


def test_snapshot_layout_follows_plugin_naming():
    keys = layout.SnapshotLayout({"prefix": "cstor", "backupPathPrefix": "plugin"})
    assert keys.snapshot("pvc-1", "b1") == "plugin/backups/b1/cstor-pvc-1-b1"
    assert layout.SnapshotLayout({"prefix": "cstor"}).snapshot("pvc-1", "b1") == "cstor/backups/b1/cstor-pvc-1-b1"
    assert layout.snapshot_id("pvc-1", "s-20260105010000") == "pvc-1-velero-bkp-s-20260105010000"
    assert layout.parse_snapshot_id("pvc-1-velero-bkp-s-20260105010000") == ("pvc-1", "s-20260105010000")


@pytest.mark.parametrize("includes,excludes,value,expected", [
    (None, None, "anything", True),
    (["*"], ["kube-system"], "kube-system", False),
    (["a", "b"], ["b"], "b", False),
    (["a"], None, "b", False),
    (["team-*"], ["team-x"], "team-y", True),
    (["team-*"], ["team-x"], "team-x", False),
])
def test_includes_excludes_exclude_wins(includes, excludes, value, expected):
    assert selection.IncludesExcludes(includes, excludes).should_include(value) is expected


@pytest.mark.parametrize("name,version,expected", [
    ("secrets", "1.29.4", "secrets"),
    ("Secret", "1.29.4", "secrets"),
    ("deploy", "1.29.4", "deployments.apps"),
    ("deployments.apps", "1.29.4", "deployments.apps"),
    ("ingresses", "1.29.4", "ingresses.networking.k8s.io"),
    ("ing", "1.29.4", "ingresses.networking.k8s.io"),
    ("psp", "1.23.17", "podsecuritypolicies.policy"),
    ("podsecuritypolicies", "1.29.4", "podsecuritypolicies"),
    ("*", "1.29.4", "*"),
])
def test_resource_names_resolve_like_discovery(name, version, expected):
    assert selection.resolve_resource(name, ResourceRegistry(version).served()) == expected


def test_unserved_resource_resolves_against_backup_contents():
    served = ResourceRegistry("1.29.4").served()
    assert selection.resolve_resource("podsecuritypolicies", served,
                                      ["podsecuritypolicies.policy"]) == "podsecuritypolicies.policy"


def test_validation_of_include_exclude_lists():
    # the whole rule tables run against the lab in test_velero_validation.py
    assert selection.validate_includes_excludes(["a"], ["*"]) == ["excludes list cannot contain '*'"]
    assert selection.validate_includes_excludes(["b", "a", "a"], ["a", "b"]) == [
        "excludes list cannot contain an item in the includes list: a",
        "excludes list cannot contain an item in the includes list: b"]
    assert not selection.validate_includes_excludes(["*"], ["a"])
    assert not selection.validate_namespace_includes_excludes(["team-*", ""], ["kube-system"])


@pytest.mark.parametrize("text,quoted", [("plain", '"plain"'), ('say "hi"', '"say \\"hi\\""'),
                                         ("tab\there", '"tab\\there"'), ("\x01é", '"\\x01é"')])
def test_go_quote(text, quoted):
    assert selection.go_quote(text) == quoted


def test_tarball_round_trip_and_layout():
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"}}
    sc = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "fast"}}
    data = tarball.write_tarball([
        {"group_resource": "configmaps", "version": "v1", "namespace": "n", "name": "c", "obj": obj},
        {"group_resource": "storageclasses.storage.k8s.io", "version": "v1", "namespace": None, "name": "fast",
         "obj": sc}], mtime=1767571200)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        names = set(tar.getnames())
    assert names == {"metadata/version",
                     "resources/configmaps/namespaces/n/c.json",
                     "resources/configmaps/v1-preferredversion/namespaces/n/c.json",
                     "resources/storageclasses.storage.k8s.io/cluster/fast.json",
                     "resources/storageclasses.storage.k8s.io/v1-preferredversion/cluster/fast.json"}
    version, items = tarball.read_tarball(data)
    assert version == "1.1.0"
    assert [(i["group_resource"], i["namespace"], i["name"]) for i in items] == [
        ("configmaps", "n", "c"), ("storageclasses.storage.k8s.io", None, "fast")]
    assert items[0]["obj"] == obj


def test_tarball_errors_are_one_line():
    with pytest.raises(tarball.TarballError, match="cannot read backup tarball"):
        tarball.read_tarball(b"not a tarball at all")
    with pytest.raises(tarball.TarballError, match="no metadata/version"):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            tar.addfile(tarfile.TarInfo("resources/x"), io.BytesIO(b""))
        tarball.read_tarball(gzip.compress(buffer.getvalue()))


def test_chain_payloads_replay_to_identical_tree(tmp_path):
    source, target = tmp_path / "src", tmp_path / "dst"
    source.mkdir()
    target.mkdir()
    (source / "keep.txt").write_text("one")
    (source / "dir").mkdir()
    (source / "dir" / "old.bin").write_bytes(b"\x00" * 100)
    (source / "empty").mkdir()
    base = chains.manifest(source)
    chains.apply_payload(chains.build_payload(source, list(base)), [], target)
    (source / "dir" / "old.bin").unlink()
    (source / "keep.txt").write_text("two")
    (source / "new.txt").write_text("new")
    current = chains.manifest(source)
    changed, deleted = chains.changes_since(base, current)
    assert sorted(changed) == ["keep.txt", "new.txt"] and deleted == ["dir/old.bin"]
    chains.apply_payload(chains.build_payload(source, changed), deleted, target)
    assert chains.manifest(target) == current


@pytest.mark.parametrize("name,schedule,expected", [
    ("hourly-20260105010000", "hourly", True),
    ("hourly-full-20260105010000", "hourly", False),
    ("manual", "hourly", False),
    ("hourly-20260105010000", "", False),
])
def test_schedule_backup_names(name, schedule, expected):
    assert chains._schedule_backup(name, schedule) is expected


@pytest.mark.parametrize("text,seconds", [("720h0m0s", 720 * 3600), ("1h30m", 5400), ("90s", 90),
                                          ("1.5h", 5400), ("0", 0), ("-0", 0), (".5m", 30), ("1.h", 3600),
                                          ("-1h", -3600), ("+2m", 120), ("1500ms", 1.5)])
def test_go_durations(text, seconds):
    assert kube.parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text,message", [("3 days", 'time: unknown unit " days" in duration "3 days"'),
                                          ("1", 'time: missing unit in duration "1"'),
                                          ("h", 'time: invalid duration "h"'),
                                          ("", 'time: invalid duration ""')])
def test_bad_duration_is_rejected_as_go_rejects_it(text, message):
    with pytest.raises(ValueError) as error:
        kube.go_duration(text)
    assert str(error.value) == message
    assert kube.parse_duration("") is None      # unset, where a caller has a default
    assert kube.format_duration(datetime.timedelta(hours=720)) == "720h0m0s"


def test_cron_next_run_and_backup_names():
    start = datetime.datetime(2026, 1, 5, 0, 30, tzinfo=UTC)
    assert schedules.parse_cron("0 * * * *")(start) == datetime.datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
    assert schedules.parse_cron("@every 2h")(start) == start + datetime.timedelta(hours=2)
    assert schedules.parse_cron("@daily")(start) == datetime.datetime(2026, 1, 6, tzinfo=UTC)
    with pytest.raises(ValueError):
        schedules.parse_cron("every hour please")
    assert schedules.backup_name("nightly", start) == "nightly-20260105003000"


def test_restore_priorities_follow_velero():
    order = sorted(["deployments.apps", "persistentvolumeclaims", "customresourcedefinitions.apiextensions.k8s.io",
                    "configmaps", "namespaces", "widgets.example.com", "persistentvolumes", "pods"],
                   key=restores.priority)
    assert order == ["customresourcedefinitions.apiextensions.k8s.io", "namespaces", "persistentvolumes",
                     "persistentvolumeclaims", "configmaps", "pods", "deployments.apps", "widgets.example.com"]


class MemoryStorage:
    """The ObjectStorage calls SnapshotChains makes, in memory."""

    def __init__(self):
        self.objects = {}

    def put(self, key, data):
        self.objects[key] = bytes(data)

    def get(self, key, etag=None):
        return self.objects[key]

    def exists(self, key):
        return key in self.objects

    def list_etags(self, prefix):
        return {k: str(hash(v)) for k, v in self.objects.items() if k.startswith(prefix)}

    def delete_keys(self, keys):
        for key in keys:
            self.objects.pop(key, None)


def test_chain_kinds_count_the_schedules_snapshots_in_the_location(tmp_path):
    """The ZFS-LocalPV plugin's rule (getPrevSnap): the next snapshot is full
    when the schedule's snapshots of the volume number a multiple of
    incrBackupCount + 1; deleting a whole chain keeps the count's cycle,
    deleting one snapshot of a chain shifts it (as on OpenEBS)."""
    (tmp_path / "f").write_text("x")
    store = chains.SnapshotChains(MemoryStorage(), layout.SnapshotLayout({"prefix": "cstor"}), incr_count=2)
    names = [f"hourly-202601050{h}0000" for h in range(1, 8)]
    kinds = [store.take(tmp_path, "pv1", name, "hourly", "t")["kind"] for name in names[:6]]
    assert kinds == ["full", "incremental", "incremental"] * 2
    assert store.take(tmp_path, "pv1", "manual", "", "t")["kind"] == "full"
    for name in names[:3]:
        store.delete(layout.snapshot_id("pv1", name))
    assert store.next_kind("pv1", "hourly")[0] == "full"
    store.delete(layout.snapshot_id("pv1", names[3]))
    kind, parent = store.next_kind("pv1", "hourly")
    assert (kind, parent["backup"]) == ("incremental", names[5])
    with pytest.raises(chains.ChainError, match="no longer in the location"):
        store.restore(layout.snapshot_id("pv1", names[5]), tmp_path / "out")
