"""Backup and Restore validation rule by rule as Velero 1.16.2 has it: every
row of validation_cases.py on a lab cluster of its own (the rows need one
with no other locations), with the row's objects made first and removed
after it."""
import pytest

from lab_http import control
from velero_lab import Bucket, Cluster, unique
from validation_rows import LOCATION_STATES, PLURALS, ROW_KEYS, check_row
import validation_cases as cases

CLUSTER = {"name": "validation", "version": "1.29.4", "velero_version": "1.16.2"}
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
