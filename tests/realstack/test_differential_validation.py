"""Every row of tests/lab/velero/validation_cases.py on real Velero 1.16.2
and on a lab cluster: the phase, status.validationErrors and the spec
fields Velero writes must be the row's on both (the rows quote Velero's
source; here real Velero says whether they quote it right).

One real cluster serves every row: the stack's cluster "restore", whose
BackupStorageLocation "default" (the stack's own, marked default) is set
aside for the module, as the rows need a cluster without one, and put back
after. The lab side is a cluster of the lab process that serves the stack's
S3, at the same Kubernetes and Velero versions. Both reach one bucket."""
import uuid

import pytest

from lab_http import wait_for
from validation_rows import observe_row
from velero_lab import Bucket, Cluster
import validation_cases as cases

from stack_sides import control

ALL_ROWS = (cases.BACKUP_CASES + cases.GOOD_BACKUP_CASES + cases.UNDECODABLE_BACKUP_CASES
            + cases.RESTORE_CASES + cases.GOOD_RESTORE_CASES)
REAL_UNDECODED_WAIT = 5.0       # real Velero processes a new Backup within a second or two
REAL_SETTLE = 2.0               # its informer caches see a new VSL, ConfigMap or Namespace a moment later


@pytest.fixture(scope="module")
def real(stack):
    """The stack's cluster "restore" without a default BackupStorageLocation."""
    cluster = Cluster(None, "restore", state=stack["clusters"]["restore"])
    others = [b for b in cluster.list("backupstoragelocations")
              if (b.get("spec") or {}).get("default") and b["metadata"]["name"] != "default"]
    assert not others and not cluster.list("volumesnapshotlocations"), (
        "the rows need a cluster with no other default location and no VolumeSnapshotLocation")
    default = cluster.get("backupstoragelocations", "default")
    if default is not None:
        cluster.delete("backupstoragelocations", "default")
        wait_for("BSL default set aside", lambda: cluster.get("backupstoragelocations", "default") is None)
    yield cluster
    if default is not None:
        cluster.create("backupstoragelocations", "default", default["spec"], labels=default["metadata"].get("labels"))
        wait_for("BSL default back and Available", lambda: (
            cluster.get("backupstoragelocations", "default").get("status") or {}).get("phase") == "Available",
            timeout=60)


@pytest.fixture(scope="module")
def lab(stack, real):
    name = f"validation-{uuid.uuid4().hex[:4]}"
    entry = control(stack["s3_control"], "POST", "/clusters",
                    {"name": name, "version": real.state["version"], "velero_version": real.state["velero_version"]})
    yield Cluster(None, name, state=entry)
    control(stack["s3_control"], "DELETE", f"/clusters/{name}")


@pytest.fixture(scope="module")
def bucket(stack):
    return Bucket(None, "minio", f"validation-{uuid.uuid4().hex[:6]}", s3=stack["s3"]["minio"])


def expected(row):
    """What the row says Velero makes of it (a good row: any phase but FailedValidation)."""
    phase = row.get("expected_phase", "FailedValidation" if row["expected_errors"] else None)
    return {"phase": phase, "errors": row["expected_errors"] or [], "spec": row.get("expected_spec") or {}}


@pytest.mark.parametrize("row", ALL_ROWS, ids=lambda row: f"{row['kind']}-{row['name']}")
def test_the_row_on_real_velero_and_on_the_lab(real, lab, bucket, row):
    on_real = observe_row(real, bucket, row, undecoded_wait=REAL_UNDECODED_WAIT, settle=REAL_SETTLE)
    on_lab = observe_row(lab, bucket, row)
    want = expected(row)
    got = dict(on_real)
    if want["phase"] is None:
        assert got["phase"] != "FailedValidation", got
        want["phase"] = got["phase"]
    assert got == want, f"real Velero differs from the row: {got}"
    assert on_lab == on_real, f"the lab differs from real Velero: lab {on_lab}, real {on_real}"
