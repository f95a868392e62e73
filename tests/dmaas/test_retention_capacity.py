"""Retention's choice of what to delete (keep-last-N, whole snapshot chains)
and capacity math (pure)."""
import datetime

from runner.dmaas import capacity, retention
from runner.dmaas.records import BackupRecord

T0 = datetime.datetime(2026, 1, 5, tzinfo=datetime.timezone.utc)


def records(n, kinds=None):
    return [BackupRecord(f"b{i}", "minio", T0 + datetime.timedelta(hours=i), None, "Completed",
                         (kinds or "F" * n)[i] == "F" and "full" or "incremental") for i in range(n)]


def names(chosen):
    return [r.name for r in chosen]


def test_keep_last_deletes_the_oldest_beyond_n():
    assert names(retention.doomed(records(7), keep_last=5)) == ["b0", "b1"]
    assert retention.doomed(records(5), keep_last=5) == []
    assert retention.doomed(records(3)) == []


def test_a_chain_goes_only_as_a_whole_once_none_of_it_is_retained():
    """F I I F I I F: 4 h of retention at hour 8 retain b4 on (started at
    or after hour 4): b3 (F) stays for b4 and b5, b0..b2 go together."""
    chain = records(7, "FIIFIIF")
    now = T0 + datetime.timedelta(hours=8)
    assert names(retention.doomed(chain, chained=True, retention=4 * 3600, now=now)) == ["b0", "b1", "b2"]
    # at hour 7, b3 is retained too, and b0..b2 go; at hour 6 b2 is retained, and nothing goes
    assert names(retention.doomed(chain, chained=True, retention=4 * 3600,
                                  now=T0 + datetime.timedelta(hours=6))) == []
    # keep last 2 keeps b5 and b6, so b3 and b4 (b5's chain) stay as well
    assert names(retention.doomed(chain, chained=True, keep_last=2)) == ["b0", "b1", "b2"]
    # file-system backups restore alone: their marks make no chains
    assert names(retention.doomed(chain, chained=False, retention=4 * 3600, now=now)) == ["b0", "b1", "b2", "b3"]


def test_a_chain_ttl_outlasts_the_plan_retention_by_a_chain_and_a_run():
    assert retention.chain_ttl(72 * 3600, 3600, 24) == (72 + 25) * 3600


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
