"""Letting scenario time pass: the clock moves in steps no longer than the
write interval (and never more than an hour), the applications write between
steps, and after every step the DMaaS layer reconciles and every new backup
gets the data it must restore recorded. Because applications write only
between clock steps and backups happen only during them, the data read right
after a step is the data each backup of that step saw.

    pass_time(context, seconds, write_every=None, clusters=None)
    observe(context)               # record new backups, note those gone, count backups per plan, move data
"""
from runner.dmaas.plans import PLAN_LABEL
from runner.driver.velero import BACKUP_TERMINAL
from steplib import apps, counts, dmaas, plans, probe, record_backup, records, state

MAX_STEP = 3600
COMPLETED = "Completed"


def pass_time(context, seconds, write_every=None, clusters=None):
    step = min(write_every or MAX_STEP, MAX_STEP)
    writers = [(cluster, namespace) for (cluster, namespace) in sorted(apps(context))
               if clusters is None or cluster in clusters] if write_every else []
    elapsed = 0
    while elapsed < seconds:
        for cluster, namespace in writers:
            tick = state(context, "ticks", dict).get((cluster, namespace), 0) + 1
            context.ticks[(cluster, namespace)] = tick
            probe(context, cluster, namespace).write(tick)
        delta = min(step, seconds - elapsed)
        context.driver.clock.advance(delta)
        elapsed += delta
        if hasattr(context, "dmaas"):
            context.dmaas.reconcile()
        observe(context)


def plan_backups_seen(context, plan):
    """{name: BackupRecord} of every backup this scenario has seen for a plan,
    expired and deleted ones included (as last seen)."""
    return state(context, "seen_backups", dict).setdefault(plan, {})


def plan_backup_names(context, plan):
    return set(plan_backups_seen(context, plan))


def settle(context, plan, cluster):
    """Wait for the plan's running backups (a real cluster takes real time to
    finish one; on the lab they are done when the clock step returns), so
    what is recorded next is what they saw."""
    if cluster in context.driver.destroyed():
        return
    velero = context.driver.cluster(cluster).velero
    for backup in velero.backups(label_selector=f"{PLAN_LABEL}={plan}"):
        if (backup.get("status") or {}).get("phase") not in BACKUP_TERMINAL:
            velero.wait_backup(backup["metadata"]["name"])


def observe(context):
    for name, spec in plans(context).items():
        settle(context, name, spec.cluster)
        seen = plan_backups_seen(context, name)
        in_buckets = dmaas(context).plan_backups(name)     # read from the plan's buckets
        note_gone(context, name, seen, {b.name for b in in_buckets})
        for backup in in_buckets:
            seen[backup.name] = backup
            if backup.name in records(context) or backup.phase != COMPLETED:
                continue
            record_backup(context, backup.name, spec.cluster, plan=name)
            for move in state(context, "moves", dict).get(name, []):
                move_backup(context, backup.name, spec.cluster, move)
        counts(context).setdefault(name, []).append((context.driver.clock.now(), len(in_buckets)))


def note_gone(context, plan, seen, present):
    """When each backup seen earlier was first found missing from the plan's buckets (for the report)."""
    gone = state(context, "gone", dict).setdefault(plan, {})
    for name in present:
        gone.pop(name, None)
    missing = [name for name in seen if name not in present and name not in gone]
    if missing:
        now = context.driver.clock.now()
        gone.update((name, now) for name in missing)


def move_backup(context, backup, source_cluster, move):
    """A data-only backup restored into another cluster's own app; what it
    brought is kept beside what the source had at backup time."""
    target_cluster, namespace = move
    dmaas(context).move_data(backup, target_cluster, namespace)
    moved = probe(context, target_cluster, namespace).state()
    state(context, "moved", list).append((backup, source_cluster, target_cluster, namespace, moved))
