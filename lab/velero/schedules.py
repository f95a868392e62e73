"""The Schedule controller (Velero 1.16.2 pkg/controller/schedule_controller.go):
validate the cron expression; when the next cron time after the latest of
creation, the last backup and the last skip has come on the virtual clock,
create the Backup <schedule>-<YYYYMMDDhhmmss> from the template, unless a
Backup of the schedule is still New or InProgress (checkIfBackupInNewOrProgress:
the run waits, and the Backup is made when that one is done, at that time,
with no catching up); `skipImmediately` skips the first due run. A paused
Schedule is not looked at (it keeps whatever status it had)."""
import datetime

from croniter import CroniterBadCronError, croniter

from lab.apiserver.errors import AlreadyExists
from lab.velero import kube

PLURAL = "schedules"


def parse_cron(expression):
    """-> function(as_of) giving the next run time, or raise ValueError with
    Velero's validation message (parseCronSchedule over robfig/cron v3's
    ParseStandard: 5-field cron, @hourly-style descriptors, @every <duration>)."""
    if not expression:
        raise ValueError("Schedule must be a non-empty valid Cron expression")
    expression = expression.strip()
    if expression.startswith("@every "):
        period = kube.parse_duration(expression[len("@every "):].strip())
        if period <= datetime.timedelta(0):
            raise ValueError(f"invalid schedule: period must be positive: {expression}")
        return lambda as_of: as_of + period
    fields = expression.split()
    if not expression.startswith("@") and len(fields) != 5:
        raise ValueError(f"invalid schedule: expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    if not croniter.is_valid(expression):
        raise ValueError(f"invalid schedule: {expression}")

    def next_run(as_of):
        try:
            return croniter(expression, as_of).get_next(datetime.datetime)
        except CroniterBadCronError as exc:
            raise ValueError(f"invalid schedule {expression!r}: {exc}") from None
    return next_run


def backup_name(schedule_name, moment):
    return f"{schedule_name}-{moment.astimezone(datetime.timezone.utc):%Y%m%d%H%M%S}"


def _next_run(schedule):
    """The schedule's next run time, or None if paused / invalid."""
    spec, status = schedule.get("spec") or {}, schedule.get("status") or {}
    if spec.get("paused"):
        return None
    try:
        next_run = parse_cron(spec.get("schedule"))
    except ValueError:
        return None
    created = kube.parse_stamp(schedule["metadata"].get("creationTimestamp"))
    last = kube.parse_stamp(status.get("lastBackup"))
    skipped = kube.parse_stamp(status.get("lastSkipped"))
    as_of = max(t for t in (created, last, skipped) if t is not None)
    return next_run(as_of)


def _in_new_or_progress(store, name):
    """Whether a Backup of the schedule is New or InProgress."""
    return any((b.get("status") or {}).get("phase") in ("New", "InProgress")
               for b in store.list(kube.GROUP, "backups", kube.NAMESPACE,
                                   label_selector={"matchLabels": {kube.LABEL_SCHEDULE: name}}))


def backup_from_schedule(schedule, moment):
    """The Backup a schedule creates at `moment` (Velero's getBackup)."""
    spec = dict((schedule.get("spec") or {}).get("template") or {})
    template_meta = spec.get("metadata") or {}
    name = kube.name_of(schedule)
    labels = dict(schedule["metadata"].get("labels") or {})
    labels.update(template_meta.get("labels") or {})
    labels[kube.LABEL_SCHEDULE] = name
    # the builder copies the template (its metadata too, with the schedule's label) and its hooks
    spec["metadata"] = dict(template_meta, labels={**(template_meta.get("labels") or {}), kube.LABEL_SCHEDULE: name})
    spec.setdefault("hooks", {})
    metadata = {"name": backup_name(name, moment), "namespace": kube.NAMESPACE, "labels": labels}
    if template_meta.get("annotations"):
        metadata["annotations"] = dict(template_meta["annotations"])
    if (schedule.get("spec") or {}).get("useOwnerReferencesInBackup"):
        metadata["ownerReferences"] = [{"apiVersion": kube.API_VERSION, "kind": "Schedule", "name": name,
                                        "uid": schedule["metadata"]["uid"], "controller": True}]
    return {"apiVersion": kube.API_VERSION, "kind": "Backup", "metadata": metadata, "spec": spec}


class ScheduleController:
    def __init__(self, cluster):
        self.cluster = cluster
        self.store = cluster.store

    def reconcile(self):
        changed = False
        now = kube.now(self.cluster)
        for schedule in kube.list_velero(self.store, PLURAL):
            if (schedule.get("spec") or {}).get("paused"):
                continue        # Velero's predicate leaves a paused Schedule alone: no phase, no run
            if (schedule.get("spec") or {}).get("skipImmediately") is not False:
                schedule = self._skip_immediately(schedule, bool((schedule.get("spec") or {}).get("skipImmediately")))
                changed = True
            spec, status = schedule.get("spec") or {}, schedule.get("status") or {}
            try:
                parse_cron(spec.get("schedule"))
            except ValueError as exc:
                if status.get("phase") != "FailedValidation":
                    kube.set_status(self.store, PLURAL, schedule, phase="FailedValidation",
                                    validationErrors=[str(exc)])
                    changed = True
                continue
            if status.get("phase") != "Enabled":
                schedule = kube.set_status(self.store, PLURAL, schedule, phase="Enabled",
                                           validationErrors=None) or schedule
                changed = True
            due = _next_run(schedule)
            if due is None or due > now or _in_new_or_progress(self.store, kube.name_of(schedule)):
                continue
            try:
                self.store.create(kube.GROUP, "backups", backup_from_schedule(schedule, now))
            except AlreadyExists:
                pass        # this very second's backup exists already
            kube.set_status(self.store, PLURAL, schedule, lastBackup=kube.stamp(self.cluster))
            changed = True
        return changed

    def _skip_immediately(self, schedule, skip):
        """Velero writes spec.skipImmediately (the server's default, false,
        when unset) and, to skip, resets it and notes the skip: the next run is
        then the first cron time after it."""
        schedule = dict(schedule, spec=dict(schedule["spec"], skipImmediately=False))
        schedule = self.store.update(kube.GROUP, PLURAL, schedule)
        if not skip:
            return schedule
        return kube.set_status(self.store, PLURAL, schedule, lastSkipped=kube.stamp(self.cluster)) or schedule

    def next_due(self):
        times = [_next_run(s) for s in kube.list_velero(self.store, PLURAL)]
        return min((t for t in times if t is not None), default=None)
