"""Backup and Restore validation rule by rule as Velero 1.16.2 has it: every
row of validation_cases.py on a lab cluster of its own (the rows need one
with no other locations), with the row's objects made first and removed
after it."""
import string
import uuid

import pytest

from lab_http import control, wait_for
from velero_lab import Bucket, Cluster, unique
import validation_cases as cases

CLUSTER = {"name": "validation", "version": "1.29.4", "velero_version": "1.16.2"}
PLURALS = {"Backup": "backups", "Restore": "restores"}
SETUP_KEYS = ("namespaces", "snapshot_locations", "configmaps", "backups")
ROW_KEYS = {"name", "kind", "spec", "expected_errors", "expected_phase", "expected_spec", "location",
            "location_default", *SETUP_KEYS}
LOCATION_STATES = ("available", "read-only", "unavailable", "read-only-unavailable")
ALL_ROWS = (cases.BACKUP_CASES + cases.GOOD_BACKUP_CASES + cases.UNDECODABLE_BACKUP_CASES
            + cases.RESTORE_CASES + cases.GOOD_RESTORE_CASES)


@pytest.fixture(scope="module")
def cluster(lab):
    status, body = control(lab, "POST", "/clusters", CLUSTER)
    assert status == 201, body
    yield Cluster(lab, CLUSTER["name"])
    control(lab, "DELETE", f"/clusters/{CLUSTER['name']}")


@pytest.fixture(scope="module")
def validation_bucket(lab):
    return Bucket(lab, "minio", unique("validation"))


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _fill(value, names):
    if isinstance(value, str):
        return value.format_map(names)
    if isinstance(value, dict):
        return {_fill(key, names): _fill(item, names) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, names) for item in value]
    return value


class RowRun:
    """One row: its names, the objects it needs, the object under test."""

    def __init__(self, cluster, bucket, row):
        self.cluster, self.bucket = cluster, bucket
        keys = {"name", "location"} | {key for section in SETUP_KEYS for key in row.get(section) or {}}
        keys |= {field for text in _strings(row) for _, field, _, _ in string.Formatter().parse(text) if field}
        self.names = {key: f"{key.lower()}-{uuid.uuid4().hex[:6]}" for key in keys}
        self.row = _fill({k: v for k, v in row.items() if k not in SETUP_KEYS}, self.names)
        self.setup = {section: {self.names[key]: _fill(spec, self.names)
                                for key, spec in (row.get(section) or {}).items()}
                      for section in SETUP_KEYS}
        self.made = []          # (plural or "namespaces"/"configmaps", name), removed in reverse

    def prepare(self):
        cluster = self.cluster
        for name, spec in self.setup["namespaces"].items():
            cluster.namespace(name, labels=spec.get("labels"))
            self.made.append(("namespaces", name))
        for name, spec in self.setup["configmaps"].items():
            cluster.core.create_namespaced_config_map("velero", {"metadata": {"name": name}, "data": spec["data"]})
            self.made.append(("configmaps", name))
        state = self.row.get("location")
        if state:
            self._location(state)
        for name, spec in self.setup["snapshot_locations"].items():
            cluster.create("volumesnapshotlocations", name, spec)
            self.made.append(("volumesnapshotlocations", name))
        for name, backup in self.setup["backups"].items():
            cluster.create("backups", name, backup["spec"], labels=backup.get("labels"))
            phase = cluster.wait_phase("backups", name)["status"]["phase"]
            assert phase == backup["phase"], f"set-up backup {name} ended {phase}, the row needs {backup['phase']}"

    def _location(self, state):
        assert state in LOCATION_STATES, state
        name = self.names["location"]
        spec = {"accessMode": "ReadOnly"} if state.startswith("read-only") else {}
        if state.endswith("unavailable"):
            spec["objectStorage"] = {"bucket": unique("no-such-bucket"), "prefix": name}
        if self.row.get("location_default"):
            spec["default"] = True
        self.cluster.location(self.bucket, name=name, prefix=name, **spec)
        self.made.append(("backupstoragelocations", name))
        expected = "Unavailable" if state.endswith("unavailable") else "Available"
        phase = self.cluster.get("backupstoragelocations", name)["status"]["phase"]
        assert phase == expected, f"set-up location {name} is {phase}, the row needs {expected}"

    def run(self):
        """The object under test, once Velero has looked at it."""
        plural, name = PLURALS[self.row["kind"]], self.names["name"]
        self.cluster.create(plural, name, self.row["spec"])
        if self.row.get("expected_phase") == "":
            # a Backup Velero cannot decode gets no phase: wait until a later one got its own
            sentinel = unique("sentinel")
            self.cluster.create("backups", sentinel, {"storageLocation": "nowhere"})
            self.cluster.wait_phase("backups", sentinel)
            return self.cluster.get(plural, name)
        return self.cluster.wait_phase(plural, name)

    def cleanup(self):
        for kind, name in reversed(self.made):
            if kind == "namespaces":
                self.cluster.core.delete_namespace(name)
                wait_for(f"namespace {name} gone", lambda: name not in {
                    ns.metadata.name for ns in self.cluster.core.list_namespace().items})
            elif kind == "configmaps":
                self.cluster.core.delete_namespaced_config_map(name, "velero")
            else:
                self.cluster.delete(kind, name)


def check_row(cluster, bucket, row):
    run = RowRun(cluster, bucket, row)
    try:
        run.prepare()
        obj = run.run()
        expected = run.row
        status = obj.get("status") or {}
        phase = status.get("phase")
        if expected.get("expected_phase") == "":
            assert not phase, f"{row['name']}: Velero cannot decode this object, yet it reached {phase}: {status}"
            return
        assert (status.get("validationErrors") or []) == expected["expected_errors"]
        if "expected_phase" in expected:
            assert phase == expected["expected_phase"], status
        elif expected["expected_errors"]:
            assert phase == "FailedValidation", status
        else:
            assert phase != "FailedValidation", status
        for key, value in (expected.get("expected_spec") or {}).items():
            assert obj["spec"].get(key) == value, (key, obj["spec"])
    finally:
        run.cleanup()


def test_rows_are_plain_and_complete():
    names = [(row["kind"], row["name"]) for row in ALL_ROWS]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    for row in ALL_ROWS:
        assert set(row) <= ROW_KEYS, (row["name"], set(row) - ROW_KEYS)
        assert row["kind"] in PLURALS and isinstance(row["spec"], dict), row["name"]
        assert row.get("location") in (None, *LOCATION_STATES), row["name"]
    for row in cases.BACKUP_CASES + cases.RESTORE_CASES:
        assert row["expected_errors"], f"{row['name']} is in a table of bad specs and expects no error"
    for row in cases.GOOD_BACKUP_CASES + cases.GOOD_RESTORE_CASES:
        assert row["expected_errors"] == [], row["name"]


@pytest.mark.parametrize("row", cases.BACKUP_CASES, ids=lambda row: row["name"])
def test_bad_backup_fails_validation_as_velero_does(cluster, validation_bucket, row):
    check_row(cluster, validation_bucket, row)


@pytest.mark.parametrize("row", cases.GOOD_BACKUP_CASES, ids=lambda row: row["name"])
def test_good_backup_passes_validation(cluster, validation_bucket, row):
    check_row(cluster, validation_bucket, row)


@pytest.mark.parametrize("row", cases.UNDECODABLE_BACKUP_CASES, ids=lambda row: row["name"])
def test_backup_velero_cannot_decode_is_left_alone(cluster, validation_bucket, row):
    check_row(cluster, validation_bucket, row)


@pytest.mark.parametrize("row", cases.RESTORE_CASES, ids=lambda row: row["name"])
def test_bad_restore_fails_validation_as_velero_does(cluster, validation_bucket, row):
    check_row(cluster, validation_bucket, row)


@pytest.mark.parametrize("row", cases.GOOD_RESTORE_CASES, ids=lambda row: row["name"])
def test_good_restore_passes_validation(cluster, validation_bucket, row):
    check_row(cluster, validation_bucket, row)
