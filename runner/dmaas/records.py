"""What the DMaaS layer reports back: plain dataclasses, JSON-friendly."""
from __future__ import annotations

import dataclasses
import datetime


@dataclasses.dataclass
class BackupRecord:
    name: str
    location: str
    started: datetime.datetime | None
    completed: datetime.datetime | None
    phase: str | None
    kind: str | None                 # "full" | "incremental" (see discovery: the layer's mark or chain position)
    labels: dict = dataclasses.field(default_factory=dict)
    namespaces: list = dataclasses.field(default_factory=list)
    created: datetime.datetime | None = None   # when the Schedule (or a user) made the Backup object
    expires: datetime.datetime | None = None   # status.expiration: Velero's GC deletes it after that
    snapshots: int = 0                          # status.volumeSnapshotsCompleted

    @property
    def made(self) -> datetime.datetime | None:
        """When the Schedule (or a user) made the Backup object. Not when Velero
        started it: Velero runs one backup at a time, so a plan with two
        locations has one of its runs wait in New while the other runs."""
        return self.created or self.started


@dataclasses.dataclass
class RestoreRecord:
    name: str
    phase: str | None
    errors: list                     # messages from the restore's results in the bucket
    warnings: list
    messages: list                   # validation errors, failure reason, errors and warnings
    backup: str = ""
    cluster: str = ""
    namespace_mapping: dict = dataclasses.field(default_factory=dict)
    unresolved: list = dataclasses.field(default_factory=list)  # resources the log says Velero could not resolve


@dataclasses.dataclass
class Verification:
    backup: str
    cluster: str
    namespace: str                   # the (first) scratch namespace the backup was restored into
    restore: RestoreRecord | None
    state: object                    # DataState of the app found there (None if none)
    found: dict                      # {"StatefulSet": [names], "ConfigMap": [...], ...} before cleanup
    cleaned_up: bool
    problems: list
    passed: bool
    namespaces: dict = dataclasses.field(default_factory=dict)   # source -> scratch


@dataclasses.dataclass
class PromotionResult:
    verified: bool
    uploaded: bool
    reason: str | None
    verified_at: datetime.datetime | None     # wall clock, UTC
    uploaded_at: datetime.datetime | None     # wall clock, UTC, after the last object was written
    state: object = None
    keys: list = dataclasses.field(default_factory=list)
    prefix: str = ""
    verification: Verification | None = None


@dataclasses.dataclass
class CapacityWarning:
    bucket: str                      # bucket profile
    needed_bytes: int
    free_bytes: int
    capacity_bytes: int
    used_bytes: int
    message: str

    def __str__(self):
        return self.message


@dataclasses.dataclass
class MoveResult:
    backup: str
    cluster: str
    namespace: str
    restore: RestoreRecord
    copied: dict                     # target PVC -> source PVC
    replicas: dict                   # "Kind/name" -> replicas kept
