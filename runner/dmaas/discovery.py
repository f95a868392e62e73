"""Backups as the bucket holds them, and waiting for Velero's backup sync
to bring a location's backups into a cluster.

The bucket is the truth for a plan's backups (it outlives every cluster):
`bucket_backups` reads each backup's velero-backup.json once (a backup's
metadata does not change after upload). The backup kind: on file-system
engines the mark the DMaaS layer's schedules put on the Backup
(plans.KIND_LABEL, in velero-backup.json); on snapshot engines what the
OpenEBS plugin logs into the backup's log: the parent of an incremental
snapshot (", parent <id>"), none for a full one."""
from __future__ import annotations

import datetime
import re
import time

from runner.dmaas.plans import KIND_LABEL
from runner.dmaas.records import BackupRecord
from runner.driver import timeouts
from runner.driver.waits import FIRST_POLL, WaitTimeout, poll_sleep, wait_until
from runner.driver.layout import LayoutError, VeleroLayout
from runner.times import parse_time

INCREMENTAL_LOG = re.compile(r", parent [0-9A-Za-z]")
SYNC_NUDGE_SECONDS = 60          # Velero's default backup sync period
NUDGE_AFTER = 0.5                # real seconds without progress before nudging the clock


class BucketBackups:
    """Reads backups of locations from their buckets, caching what is immutable."""

    def __init__(self, driver):
        self.driver = driver
        self._records = {}          # (profile, prefix, name) -> BackupRecord

    def layout(self, location):
        return VeleroLayout(self.driver.bucket(location.profile), location.prefix)

    def _kind(self, layout, name, labels, snapshots):
        if labels.get(KIND_LABEL) in ("full", "incremental"):
            return labels[KIND_LABEL]
        if not snapshots:
            return None             # file-system volumes without the layer's mark: no kind
        text = layout.log(name)
        if text is None:            # no log (yet): the kind is unknown
            return None
        return "incremental" if INCREMENTAL_LOG.search(text) else "full"

    def record(self, location, name):
        cache_key = (location.profile, location.prefix, name)
        if cache_key in self._records:
            return self._records[cache_key]
        layout = self.layout(location)
        try:
            meta = layout.metadata(name)
        except (LayoutError, ValueError):
            return None
        status, spec = meta.get("status") or {}, meta.get("spec") or {}
        labels = (meta.get("metadata") or {}).get("labels") or {}
        kind = self._kind(layout, name, labels, status.get("volumeSnapshotsAttempted"))
        record = BackupRecord(name=name, location=location.name, started=parse_time(status.get("startTimestamp")),
                              completed=parse_time(status.get("completionTimestamp")), phase=status.get("phase"),
                              kind=kind, labels=labels, namespaces=list(spec.get("includedNamespaces") or []),
                              created=parse_time((meta.get("metadata") or {}).get("creationTimestamp")),
                              expires=parse_time(status.get("expiration")))
        if record.phase in ("Completed", "PartiallyFailed", "Failed"):
            self._records[cache_key] = record
        return record

    def backups(self, location, labels=None):
        """Records of the backups in a location whose labels include `labels`, oldest first."""
        found = []
        for name in self.layout(location).backup_names():
            record = self.record(location, name)
            if record and all(record.labels.get(k) == v for k, v in (labels or {}).items()):
                found.append(record)
        far = datetime.datetime.max.replace(tzinfo=datetime.timezone.utc)
        return sorted(found, key=lambda r: (r.started or far, r.name))

    def names(self, location):
        return self.layout(location).backup_names()


def wait_synced(driver, client, location, names, in_bucket=None, timeout="sync"):
    """Waits until `client` has a Backup object of `location` for every name
    (Velero's backup sync) -> the names it has. With `in_bucket` (a callable
    listing the location's backups now), a name that left the bucket
    meanwhile is no longer waited for: on a real cluster a plan's oldest
    backups expire and its garbage collector deletes them while the other
    cluster syncs, and sync brings only what the bucket holds. When nothing
    changes for a few seconds the clock is advanced by one sync period (the
    lab syncs on its virtual clock; a real target just waits that scaled period)."""
    limit, timeout = timeout, timeouts.seconds(timeout)
    deadline = time.monotonic() + timeout
    last_progress, seen = time.monotonic(), -1
    pause = FIRST_POLL
    wanted = set(names)
    while True:
        present = {b["metadata"]["name"] for b in client.velero.backups()
                   if (b.get("spec") or {}).get("storageLocation") == location.name}
        if in_bucket is not None and wanted - present:
            wanted &= set(in_bucket())
        missing = sorted(wanted - present)
        if not missing:
            return sorted(wanted)
        if len(present) != seen:
            seen, last_progress = len(present), time.monotonic()
        if time.monotonic() > deadline:
            raise WaitTimeout(f"timed out after {timeout:g} s waiting for cluster {client.name} to sync backups "
                              f"{', '.join(missing[:5])} of {location}{timeouts.label(limit)}")
        if time.monotonic() - last_progress > NUDGE_AFTER:
            driver.clock.advance(SYNC_NUDGE_SECONDS)
            last_progress = time.monotonic()
        poll_sleep(pause)
        pause = min(pause * 2, 0.2)


def wait_restorable(client, layout, name, timeout="restorable"):
    """The Backup `name` on `client` once a restore can use all of it. Velero's
    sync creates a Backup, then sets its status, then creates its
    PodVolumeBackups one by one; a restore that starts in between fails
    validation or silently restores no volume data. So wait for the phase
    and for as many PodVolumeBackups as the bucket records."""
    expected = len(layout.pod_volume_backups(name))

    def usable():
        backup = client.velero.get("Backup", name)
        if not backup or not (backup.get("status") or {}).get("phase"):
            return None
        synced = client.velero.list("PodVolumeBackup", f"velero.io/backup-name={name}")
        return backup if len(synced) >= expected else None
    return wait_until(f"backup {name} on cluster {client.name} to have its status and {expected} "
                      f"PodVolumeBackups", usable, timeout)
