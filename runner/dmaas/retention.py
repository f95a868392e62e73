"""Keep-last-N retention: Velero only expires by TTL, so the DMaaS layer
deletes a plan's oldest backups beyond N per location with
DeleteBackupRequests (what `velero backup delete` creates) and waits until
Velero has removed them from the bucket."""
from __future__ import annotations

from runner.driver.waits import wait_until


def beyond_keep_last(records, keep_last):
    """The records to delete so that the newest `keep_last` remain
    (records oldest first, as BucketBackups.backups returns them)."""
    if keep_last is None or len(records) <= keep_last:
        return []
    return list(records[:len(records) - keep_last])


def delete_backups(client, names):
    """One DeleteBackupRequest per backup (named and labelled as Velero's CLI does)."""
    for name in names:
        request = f"{name[:50]}-del"
        if client.velero.get("DeleteBackupRequest", request) is None:
            client.velero.create("DeleteBackupRequest", request, {"backupName": name},
                                 labels={"velero.io/backup-name": name[:63]})


def wait_deleted(client, layout, names, timeout="deleted"):
    """Waits until the backups are gone from the bucket and from the cluster."""
    def gone():
        in_bucket = set(layout.backup_names()) & set(names)
        in_cluster = {b["metadata"]["name"] for b in client.velero.backups()} & set(names)
        return not in_bucket and not in_cluster
    wait_until(f"backups {', '.join(sorted(names)[:5])} to be deleted from the bucket and cluster {client.name} "
               f"(DeleteBackupRequests)", gone, timeout)
