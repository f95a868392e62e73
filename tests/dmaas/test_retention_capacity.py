"""Keep-last-N selection and capacity math (pure)."""
from runner.dmaas import capacity, retention
from runner.dmaas.records import BackupRecord


def records(n):
    return [BackupRecord(f"b{i}", "minio", None, None, "Completed", "full") for i in range(n)]


def test_keep_last_deletes_the_oldest_beyond_n():
    assert [r.name for r in retention.beyond_keep_last(records(7), 5)] == ["b0", "b1"]
    assert retention.beyond_keep_last(records(5), 5) == []
    assert retention.beyond_keep_last(records(3), None) == []


def test_capacity_warns_only_when_the_backup_does_not_fit():
    warning = capacity.check("aws", 64 * 1024, 10 * 1024, 2 * 1024 * 1024)
    assert warning.free_bytes == 54 * 1024 and warning.needed_bytes == 2 * 1024 * 1024
    assert "aws" in str(warning)
    assert capacity.check("aws", 512 * 2**20, 10 * 1024, 2 * 2**20) is None
    assert capacity.check("aws", None, 0, 10**12) is None
    assert capacity.check("aws", 100, 150, 1).free_bytes == 0


def test_quantities():
    assert capacity.quantity_bytes("1Gi") == 2**30
    assert capacity.quantity_bytes("500M") == 500 * 10**6
    assert capacity.quantity_bytes("1024") == 1024
