"""Retention the DMaaS layer adds to Velero's TTL.

Keep-last-N: Velero only expires by TTL, so the layer deletes a plan's
oldest backups beyond N per location with DeleteBackupRequests (what
`velero backup delete` creates) and waits until Velero has removed them
from the bucket.

Snapshot chains: the OpenEBS plugin deletes a backup's snapshot with the
backup, and an incremental does not restore without the snapshots it
stands on. So for a snapshot plan with chains (full every N > 1) the layer
owns retention: its Schedules give Backups a TTL one chain longer than the
plan's retention (`chain_ttl`, so Velero's garbage collector never takes a
chain's full first), and the layer deletes a chain only as a whole, once no
backup of it is retained (`doomed`). A backup past retention thus remains
while a retained incremental depends on it (HACKING.md, "Backup kinds").
"""
from __future__ import annotations

import datetime

from runner.driver.waits import wait_until


def chain_ttl(retention, every, chain_length):
    """The TTL of a snapshot plan's Backups (seconds): the plan's retention
    plus a chain and one run more, so the layer deletes each chain (when its
    newest backup passes retention) before Velero would expire its full."""
    return retention + (chain_length + 1) * every


def chains(records, chained):
    """Records (oldest first) grouped into chains: each full with the
    incrementals after it; every record alone when not `chained` (file-system
    backups restore on their own whatever their mark)."""
    groups = []
    for record in records:
        if chained and groups and record.kind == "incremental":
            groups[-1].append(record)
        else:
            groups.append([record])
    return groups


def doomed(records, chained=False, keep_last=None, retention=None, now=None):
    """The records to delete: the whole chains none of whose backups is
    retained, a backup being retained when it is among the newest
    `keep_last`, or started within `retention` (seconds) before `now`."""
    retained = set()
    if keep_last is not None:
        retained |= {r.name for r in records[-int(keep_last):]}
    if retention is not None:
        cutoff = now - datetime.timedelta(seconds=retention)
        retained |= {r.name for r in records if r.started is None or r.started >= cutoff}
    if keep_last is None and retention is None:
        return []
    return [r for chain in chains(records, chained) if not retained & {m.name for m in chain} for r in chain]


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
