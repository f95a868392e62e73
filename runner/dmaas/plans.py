"""Continuity plans -> Velero objects (pure functions; no cluster access).

A plan = team + selection + schedule (every, full every N) + retention
(TTL or keep-last-N) + locations (+ optional verification cluster).

Schedules. Runs are numbered from the plan's creation minute: run k fires
at creation + k*every. Snapshot engines (cStor) get one Schedule per
location; the OpenEBS plugin makes runs 1, N+1, 2N+1... full through the
VSL's `incrBackupCount: N-1` (it counts the Schedule's snapshots in the
location), and the template labels each Backup with the chain length
dmaas.openebs.io/full-every=N, from which the layer reads the kinds
(discovery.py) and keeps whole chains (retention.py; HACKING "Backup kinds").
File-system engines get per location a `<base>` Schedule for the incremental runs and a `<base>-full` Schedule for
runs 1, N+1, ...; their templates label each Backup
dmaas.openebs.io/backup-kind=incremental|full (Velero copies template
labels onto the Backups it makes, and they travel in velero-backup.json).
Velero's pod volume backup has no per-backup "full": node-agent always
bases a snapshot on the volume's previous one, and kopia/restic snapshots
are complete trees of deduplicated content, each restorable on its own. So
on file-system engines "full every N" is the plan's cycle, the mark the
layer sets and reports, not a different upload.
Both fire times are computed over one day and written as cron lines; a
firing pattern that is not one cron line becomes several Schedules
(`<base>-2`, ...), which only file-system plans can use (a cStor chain is
counted per Schedule).
"""
from __future__ import annotations

import dataclasses
import datetime
import os
import re

from croniter import croniter

from runner.driver.layout import BucketKeys
from runner.durations import parse_duration
from runner.errors import UserError

TEAM_LABEL = "dmaas.openebs.io/team"
PLAN_LABEL = "dmaas.openebs.io/plan"
LOCATION_LABEL = "dmaas.openebs.io/location"
KIND_LABEL = "dmaas.openebs.io/backup-kind"
CHAIN_LABEL = "dmaas.openebs.io/full-every"     # snapshot plans: runs per chain (a full, N-1 incrementals)
DAY = 86400
DATA_ONLY_RESOURCES = ["persistentvolumeclaims", "persistentvolumes"]


class PlanError(UserError):
    """A plan Velero cannot carry out as given (message names the plan and field)."""


def seconds(value, field="duration"):
    """Seconds (an int, as the steps pass them) or a duration in the one
    grammar (runner/durations.py: "1h", "30 minutes", "3d") -> seconds."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return int(value)
    try:
        return parse_duration(value)
    except ValueError:
        raise PlanError(f"{field}: {value!r} is not a duration like 1h, 30m or 3d") from None


def go_duration(total):
    """Seconds -> Go's time.Duration text as Velero prints it ("72h0m0s")."""
    total = int(total)
    return f"{total // 3600}h{total % 3600 // 60}m{total % 60}s"


# --- selection ---------------------------------------------------------------

def _split_selector(text):
    parts, depth, current = [], 0, ""
    for char in text:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def label_selector(text):
    """A kubectl-style selector string -> metav1.LabelSelector dict.
    "k=v", "k==v" -> matchLabels; "k!=v" -> NotIn (objects without k match,
    as Kubernetes defines it: excluding a label keeps unlabelled objects);
    "k in (a,b)", "k notin (a,b)", "k", "!k" -> matchExpressions."""
    if not text:
        return None
    labels, expressions = {}, []
    for part in _split_selector(text):
        match = re.fullmatch(r"(\S+?)\s+(in|notin)\s+\((.*)\)", part)
        if match:
            values = [v.strip() for v in match.group(3).split(",") if v.strip()]
            expressions.append({"key": match.group(1), "operator": "In" if match.group(2) == "in" else "NotIn",
                                "values": values})
        elif "!=" in part:
            key, value = (s.strip() for s in part.split("!=", 1))
            expressions.append({"key": key, "operator": "NotIn", "values": [value]})
        elif "=" in part:
            key, value = (s.strip() for s in part.replace("==", "=").split("=", 1))
            labels[key] = value
        elif part.startswith("!"):
            expressions.append({"key": part[1:].strip(), "operator": "DoesNotExist"})
        elif re.fullmatch(r"[A-Za-z0-9./_-]+", part):
            expressions.append({"key": part, "operator": "Exists"})
        else:
            raise PlanError(f"label selector: cannot read {part!r} (use k=v, k!=v, k in (a,b), k or !k)")
    selector = {}
    if labels:
        selector["matchLabels"] = labels
    if expressions:
        selector["matchExpressions"] = expressions
    return selector


@dataclasses.dataclass(frozen=True)
class Selection:
    """What a backup takes: Velero's include/exclude lists and a label selector."""
    namespaces: tuple = ()
    include_resources: tuple = ()
    exclude_resources: tuple = ()
    label_selector: str | None = None
    data_only: bool = False

    @classmethod
    def of(cls, value):
        """A Selection from a Selection, a PlanSpec or a dict with the field names."""
        if isinstance(value, Selection):
            return value
        if isinstance(value, PlanSpec):
            return value.selection
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(value) - fields
        if unknown:
            raise PlanError(f"selection: unknown field(s) {', '.join(sorted(unknown))} (known: {', '.join(sorted(fields))})")
        return cls(**{k: (tuple(v) if isinstance(v, (list, tuple)) else v) for k, v in value.items()})

    def backup_spec(self):
        """The selection part of a Velero BackupSpec."""
        spec = {}
        if self.namespaces:
            spec["includedNamespaces"] = list(self.namespaces)
        resources = list(self.include_resources)
        if self.data_only:
            resources = DATA_ONLY_RESOURCES + [r for r in resources if r not in DATA_ONLY_RESOURCES]
        if resources:
            spec["includedResources"] = resources
        if self.exclude_resources:
            spec["excludedResources"] = list(self.exclude_resources)
        selector = label_selector(self.label_selector)
        if selector:
            spec["labelSelector"] = selector
        return spec


def volume_spec(engine_backup, vsl=None):
    """How a backup takes volume data: 'snapshot' (cStor: VSL snapshots) or
    'fs' (restic for every pod volume); None leaves Velero's defaults."""
    if engine_backup == "snapshot":
        return {"snapshotVolumes": True, "defaultVolumesToFsBackup": False,
                **({"volumeSnapshotLocations": [vsl]} if vsl else {})}
    if engine_backup == "fs":
        return {"snapshotVolumes": False, "defaultVolumesToFsBackup": True}
    return {}


# --- plans -------------------------------------------------------------------

@dataclasses.dataclass
class PlanSpec:
    name: str
    team: str
    cluster: str
    namespaces: list = dataclasses.field(default_factory=list)
    include_resources: list = dataclasses.field(default_factory=list)
    exclude_resources: list = dataclasses.field(default_factory=list)
    label_selector: str | None = None
    every: int | str = 3600                 # seconds or "1h"
    full_every: int | None = None           # runs per full backup (F, I x N-1, F...)
    retention_ttl: int | str | None = None  # seconds or "72h"
    keep_last: int | None = None
    locations: list = dataclasses.field(default_factory=list)
    verify_on: str | None = None
    data_only: bool = False
    engine: str | None = None               # engines.yaml name; decides snapshot vs fs

    @property
    def selection(self):
        return Selection(tuple(self.namespaces), tuple(self.include_resources), tuple(self.exclude_resources),
                         self.label_selector, self.data_only)

    def check(self):
        where = f"plan {self.name}"
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", self.name or "") or len(self.name) > 40:
            raise PlanError(f"{where}: name must be a DNS label of at most 40 characters")
        if not self.locations:
            raise PlanError(f"{where}: locations: at least one location is needed")
        if self.full_every is not None and int(self.full_every) < 1:
            raise PlanError(f"{where}: full every: must be at least 1")
        if self.keep_last is not None and int(self.keep_last) < 1:
            raise PlanError(f"{where}: keep last: must be at least 1")
        if seconds(self.every, f"{where}: every") < 60:
            raise PlanError(f"{where}: every: at least one minute")


@dataclasses.dataclass
class ScheduleObject:
    name: str
    location: str
    cron: str
    kind: str | None           # fs plans with full every N: "full" | "incremental"; else None
    spec: dict
    labels: dict


def fire_times(start, period, first_offset=None):
    """{(hour, minute)} at which start + first_offset + k*period fires within
    a day (start floored to the minute). period must divide a day."""
    if period % 60 or DAY % period:
        raise PlanError(f"a period of {period}s does not divide a day into whole minutes; "
                        f"choose every/full every so that every*full every divides 24h")
    start = start.replace(second=0, microsecond=0)
    first = start + datetime.timedelta(seconds=period if first_offset is None else first_offset)
    times = set()
    for k in range(DAY // period):
        t = first + datetime.timedelta(seconds=k * period)
        times.add((t.hour, t.minute))
    return times


def last_fire(cron, now):
    """The latest minute at or before `now` (aware) at which a cron line fires."""
    return croniter(cron, now + datetime.timedelta(seconds=1)).get_prev(datetime.datetime)


def due_within(cron, created, made, seconds):
    """Whether the run a Schedule made at `made` was due within `seconds` of
    the plan's creation (runs are due from its creation minute, fire_times).
    Velero makes a run up to a minute after it is due: the run is the latest
    fire at or before `made`."""
    origin = created.replace(second=0, microsecond=0)
    return last_fire(cron, made) <= origin + datetime.timedelta(seconds=seconds)


def cron_lines(times):
    """{(hour, minute)} -> cron lines, one per distinct set of minutes
    (hours sharing the same minutes share a line)."""
    by_hour = {}
    for hour, minute in times:
        by_hour.setdefault(hour, set()).add(minute)
    lines = {}
    for hour, minutes in by_hour.items():
        lines.setdefault(tuple(sorted(minutes)), []).append(hour)
    result = []
    for minutes, hours in sorted(lines.items(), key=lambda item: min(item[1])):
        hour_field = "*" if len(hours) == 24 else ",".join(map(str, sorted(hours)))
        result.append(f"{','.join(map(str, minutes))} {hour_field} * * *")
    return result


def schedule_crons(created, every, full_every, snapshot_engine):
    """[(kind, cron)]: for fs plans with full every N, "full" for runs 1, N+1, ...
    and "incremental" for the others; kind None otherwise."""
    if not full_every or full_every == 1 or snapshot_engine:
        crons = [(None, line) for line in cron_lines(fire_times(created, every))]
        if snapshot_engine and len(crons) > 1:
            raise PlanError(f"every {every}s from {created:%H:%M} is not one cron line; a cStor chain is "
                            f"counted per Schedule, so choose an every that divides the hour or the day evenly")
        if full_every == 1 and not snapshot_engine:
            return [("full", cron) for _, cron in crons]
        return crons
    cycle = every * int(full_every)
    full = fire_times(created, cycle, first_offset=every)
    regular = fire_times(created, every) - full
    return ([("full", line) for line in cron_lines(full)]
            + [("incremental", line) for line in cron_lines(regular)])


def chain_length(plan):
    """Runs per snapshot chain: the full and the incrementals standing on it."""
    return int(plan.full_every or 1)


def schedule_base(plan, location):
    """The plan's name, or with several locations `<plan>-<location>`, less
    the start the plan's and the locations' names share (a real target's
    scenario prefix), so the Backups' names stay short."""
    if len(plan.locations) == 1:
        return plan.name
    shared = os.path.commonprefix([plan.name, *plan.locations]).rpartition("-")[0]
    cut = len(shared) + 1 if shared else 0
    suffixes = [name[cut:] for name in plan.locations]
    unique = len(set(suffixes)) == len(suffixes) and all(suffixes)
    return f"{plan.name}-{location[cut:] if unique else location}"


def schedules(plan, created, every, ttl, vsl_of, engine_backup):
    """The Velero Schedules of a plan. every/ttl are target seconds (scaled);
    vsl_of(location) -> the VSL name for snapshot engines."""
    plan.check()
    snapshot = engine_backup == "snapshot"
    if plan.data_only and engine_backup != "snapshot":
        raise PlanError(f"plan {plan.name}: data only: needs a snapshot engine (Velero's file-system backup "
                        f"reads volumes through their pods, which a data-only backup leaves out)")
    crons = schedule_crons(created, every, plan.full_every, snapshot)
    objects = []
    for location in plan.locations:
        base = schedule_base(plan, location)
        counters = {}
        for kind, cron in crons:
            counters[kind] = counters.get(kind, 0) + 1
            name = base + ("-full" if kind == "full" else "") + (f"-{counters[kind]}" if counters[kind] > 1 else "")
            labels = {TEAM_LABEL: plan.team, PLAN_LABEL: plan.name, LOCATION_LABEL: location}
            template_labels = dict(labels, **({KIND_LABEL: kind} if kind else {}))
            if snapshot and chain_length(plan) > 1:
                template_labels[CHAIN_LABEL] = str(chain_length(plan))
            template = {**plan.selection.backup_spec(), "storageLocation": location,
                        **volume_spec(engine_backup, vsl_of(location) if snapshot else None),
                        "ttl": go_duration(ttl), "metadata": {"labels": template_labels}}
            objects.append(ScheduleObject(name, location, cron, kind,
                                          {"schedule": cron, "template": template,
                                           "useOwnerReferencesInBackup": False}, labels))
    return objects


def snapshot_path(prefix):
    """Where a location's cStor snapshot objects live (runner/driver/layout.py)."""
    return BucketKeys(prefix).snapshots_path()


def vsl_name(location, full_every):
    """The VSL a snapshot plan uses: one per location and chain length."""
    return location if not full_every or int(full_every) == 1 else f"{location}-full-every-{int(full_every)}"


def vsl_config(bsl_config, bucket, prefix, full_every):
    """openebs/velero-plugin cStor VSL config on the location's bucket: snapshot
    objects go to <prefix>/snapshots/backups/<backup>/cstor-<volume>-<backup>
    (backupPathPrefix is the path, `prefix` the plugin's file-name prefix):
    under the location's prefix but outside the BSL's backups/<backup>/,
    which Velero deletes whole when a backup is deleted (an incremental
    still needs its parent's snapshot)."""
    config = {"bucket": bucket, "prefix": "cstor", "backupPathPrefix": snapshot_path(prefix), "provider": "aws",
              "region": bsl_config.get("region", "us-east-1"), "restoreAllIncrementalSnapshots": "true",
              "namespace": "openebs"}
    for key in ("s3Url", "s3ForcePathStyle"):
        if key in bsl_config:
            config[key] = bsl_config[key]
    if full_every and int(full_every) > 1:
        config["incrBackupCount"] = str(int(full_every) - 1)
    return config
