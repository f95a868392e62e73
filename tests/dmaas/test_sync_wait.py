"""wait_synced: what a cluster must sync is what its location's bucket holds."""
import types

from runner.dmaas.discovery import wait_synced


def _client(names):
    backups = [{"metadata": {"name": n}, "spec": {"storageLocation": "aws"}} for n in names]
    return types.SimpleNamespace(name="separate", velero=types.SimpleNamespace(backups=lambda: backups))


def test_a_backup_that_left_the_bucket_while_syncing_is_not_waited_for():
    """On a real cluster the plan's oldest backup expires and is collected
    while the other cluster syncs: sync brings what the bucket holds."""
    location = types.SimpleNamespace(name="aws")
    synced = wait_synced(None, _client(["new"]), location, ["old", "new"], in_bucket=lambda: ["new"], timeout=5)
    assert synced == ["new"]


def test_a_backup_still_in_the_bucket_is_waited_for():
    location = types.SimpleNamespace(name="aws")
    clock = types.SimpleNamespace(advance=lambda seconds: None)
    try:
        wait_synced(types.SimpleNamespace(clock=clock), _client(["new"]), location, ["old", "new"],
                    in_bucket=lambda: ["old", "new"], timeout=0.3)
    except AssertionError as timeout:
        assert "to sync backups old of" in str(timeout)
    else:
        raise AssertionError("waited for nothing")
