"""Backups as the bucket holds them, and waiting for Velero's backup sync
to bring a location's backups into a cluster.

The bucket is the truth for a plan's backups (it outlives every cluster):
`bucket_backups` reads each backup's velero-backup.json once (a backup's
metadata does not change after upload). The backup kind is what the layer
set, never what a log says (HACKING.md, "Backup kinds"): on file-system
engines the mark its Schedules put on each Backup (plans.KIND_LABEL); on
snapshot engines, for a plan with chains, the position of the backup among
its Schedule's backups with a snapshot in the location, counted in chains
of the length its Schedule put on it (plans.CHAIN_LABEL): the very count the
OpenEBS plugin makes with the incrBackupCount the layer gave it (the layer
deletes chains only whole, which keeps that count's cycle); any other
snapshot backup is full (the plugin makes a backup outside a chain full).
"""
from __future__ import annotations

import dataclasses
import datetime
import time

from runner.dmaas.plans import CHAIN_LABEL, KIND_LABEL
from runner.dmaas.records import BackupRecord
from runner.driver import timeouts
from runner.driver.waits import FIRST_POLL, WaitTimeout, poll_sleep, wait_until
from runner.driver.layout import LayoutError, VeleroLayout
from runner.times import parse_time

SCHEDULE_LABEL = "velero.io/schedule-name"      # Velero puts it on every Backup a Schedule makes
SYNC_NUDGE_SECONDS = 60          # Velero's default backup sync period
NUDGE_AFTER = 0.5                # real seconds without progress before nudging the clock


class BucketBackups:
    """Reads backups of locations from their buckets, caching what is immutable."""

    def __init__(self, driver):
        self.driver = driver
        self._records = {}          # (profile, prefix, name) -> BackupRecord

    def layout(self, location):
        return VeleroLayout(self.driver.bucket(location.profile), location.prefix)

    @staticmethod
    def _kind(labels, snapshots):
        """The kind known from one backup alone (None: by position, or none)."""
        if labels.get(KIND_LABEL) in ("full", "incremental"):
            return labels[KIND_LABEL]
        if not snapshots or (labels.get(CHAIN_LABEL) and labels.get(SCHEDULE_LABEL)):
            return None
        return "full"

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
        kind = self._kind(labels, status.get("volumeSnapshotsAttempted"))
        record = BackupRecord(name=name, location=location.name, started=parse_time(status.get("startTimestamp")),
                              completed=parse_time(status.get("completionTimestamp")), phase=status.get("phase"),
                              kind=kind, labels=labels, namespaces=list(spec.get("includedNamespaces") or []),
                              created=parse_time((meta.get("metadata") or {}).get("creationTimestamp")),
                              expires=parse_time(status.get("expiration")),
                              snapshots=int(status.get("volumeSnapshotsCompleted") or 0))
        if record.phase in ("Completed", "PartiallyFailed", "Failed"):
            self._records[cache_key] = record
        return record

    def backups(self, location, labels=None):
        """Records of the backups in a location whose labels include `labels`, oldest first."""
        every = [r for r in (self.record(location, name) for name in self.layout(location).backup_names()) if r]
        every = chain_kinds(every)
        found = [r for r in every if all(r.labels.get(k) == v for k, v in (labels or {}).items())]
        far = datetime.datetime.max.replace(tzinfo=datetime.timezone.utc)
        return sorted(found, key=lambda r: (r.started or far, r.name))

    def names(self, location):
        return self.layout(location).backup_names()


def chain_kinds(records):
    """The records, those of a snapshot chain with their kind by position:
    per Schedule, its backups with a snapshot, in name (= time) order, are
    a full and chain length - 1 incrementals, over and over."""
    by_schedule = {}
    for record in sorted(records, key=lambda r: r.name):
        if record.kind is None and record.snapshots and record.labels.get(CHAIN_LABEL):
            by_schedule.setdefault(record.labels.get(SCHEDULE_LABEL), []).append(record)
    kinds = {}
    for chain in by_schedule.values():
        length = int(chain[0].labels[CHAIN_LABEL])
        kinds.update((r.name, "full" if i % length == 0 else "incremental") for i, r in enumerate(chain))
    return [dataclasses.replace(r, kind=kinds[r.name]) if r.name in kinds else r for r in records]


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
