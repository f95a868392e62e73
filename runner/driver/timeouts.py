"""Every wait's limit, in one place: defaults here, overridden per target
profile under `timeouts:` (seconds), configured once per run by behave's
before_all. A wait names its limit (`timeout="backup"`), so its failure
message says which setting to raise: "timed out after 600 s waiting for
Backup x on cluster a to reach Completed (timeouts.backup)".

Limits are real seconds, not scenario time: they bound how long the target
may take to do work (a backup, a restore, a sync), which the profile's
time_scale does not shorten. A target slower than these defaults (a busy
real cluster, a big application) raises them in its profile.
"""
from __future__ import annotations

DEFAULTS = {
    "backup": 600,              # a Backup the DMaaS layer started reaches a terminal phase
    "restore": 600,             # a Restore reaches a terminal phase
    "velero_phase": 300,        # any other Velero object reaches a phase
    "location_available": 60,   # a BackupStorageLocation becomes Available
    "sync": 120,                # Velero's backup sync shows a bucket's backups on a cluster
    "restorable": 60,           # a synced Backup has its status and PodVolumeBackups
    "deleted": 120,             # retention's DeleteBackupRequests are done
    "namespace_gone": 120,      # a deleted namespace is gone
    "app_ready": 300,           # a deployed or restored application is ready
    "app_ready_after_failed_restore": 20,   # how long a failed restore's app gets to prove it is not ready
    "data_movement": 180,       # the objects of a data-only restore are there
    "exec": 120,                # a command in a pod ends
    "cluster_wait": 120,        # any other wait on a cluster's objects
}

_limits = dict(DEFAULTS)


def configure(overrides: dict | None) -> None:
    """The run's limits: the defaults, then the profile's `timeouts:` (the
    target schema allows only the names above, as positive numbers)."""
    _limits.clear()
    _limits.update(DEFAULTS)
    _limits.update({name: float(seconds) for name, seconds in (overrides or {}).items()})


def seconds(limit: str | float) -> float:
    """A limit's seconds; a number stands for itself."""
    return float(_limits[limit] if isinstance(limit, str) else limit)


def label(limit: str | float) -> str:
    """What a timeout message appends: the setting that raises this limit."""
    return f" (timeouts.{limit})" if isinstance(limit, str) else ""
