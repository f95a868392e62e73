"""Letting scenario time pass: the clock moves in steps no longer than the
write interval (and never more than an hour), the applications write between
steps, and after every step the DMaaS layer reconciles and every new backup
gets the data it must restore recorded. Because applications write only
between clock steps and backups happen only during them, the data read right
after a step is the data each backup of that step saw.

    pass_time(context, seconds, write_every=None, clusters=None)
    observe(context, judged_at=None)  # record new backups, note those gone, count backups per plan, move data
"""
from scenario_state import Moved
from steplib import probe, record_backup

MAX_STEP = 3600
COMPLETED = "Completed"


def pass_time(context, seconds, write_every=None, clusters=None):
    state = context.scenario_state
    step = min(write_every or MAX_STEP, MAX_STEP)
    writers = [(cluster, namespace) for (cluster, namespace) in sorted(state.apps)
               if clusters is None or cluster in clusters] if write_every else []
    elapsed, passage = 0, context.driver.clock.passage(seconds)
    while elapsed < seconds:
        for cluster, namespace in writers:
            state.ticks[(cluster, namespace)] = state.ticks.get((cluster, namespace), 0) + 1
            probe(context, cluster, namespace).write(state.ticks[(cluster, namespace)])
        delta = min(step, seconds - elapsed)
        reached = passage.advance(delta)
        elapsed += delta
        observe(context, judged_at=state.dmaas.reconcile())
    if elapsed:
        state.time_passed_until = reached
        state.time_passed += elapsed


def made_while_time_passed(context, plan, backup):
    """Whether `backup` of `plan` is of the scenario time passed so far. A
    run of the plan's Schedules: whether it was due within the time passed
    since the plan was made (DMaaS.scheduled_within; on a real target the
    Schedules keep firing while later steps run, an on-demand backup or a
    restore take minutes, and what a step says of "the plan's backups" after
    "N hours pass" is of those N hours). Any other backup: whether it was
    made before time last stopped passing. On the lab the clock stands still
    between passages, so both are every backup."""
    state = context.scenario_state
    within = state.dmaas.scheduled_within(plan, backup, state.time_passed - state.plan_time_from.get(plan, 0))
    if within is not None:
        return within
    return made_by(backup, state.time_passed_until)


def made_by(backup, moment):
    """Whether the backup was made by that moment (no moment, or a backup of
    unknown time: yes)."""
    return moment is None or backup.made is None or backup.made <= moment


def plan_backups_seen(context, plan):
    """{name: BackupRecord} of every backup this scenario has seen for a plan,
    expired and deleted ones included (as last seen)."""
    return context.scenario_state.seen_backups.setdefault(plan, {})


def plan_backup_names(context, plan):
    return set(plan_backups_seen(context, plan))


def observe(context, judged_at=None):
    """judged_at: when retention was last applied; a plan's count is of the
    backups made by then (on a real clock a schedule can make one in
    between: retention applies to it at the next step, as a real reconciler's)."""
    state = context.scenario_state
    for name, spec in state.plans.items():
        state.dmaas.settle(name)
        seen = plan_backups_seen(context, name)
        in_buckets = state.dmaas.plan_backups(name)     # read from the plan's buckets
        note_gone(context, name, seen, {b.name for b in in_buckets})
        for backup in in_buckets:
            seen[backup.name] = backup
            if backup.name in state.records or backup.phase != COMPLETED:
                continue
            record_backup(context, backup.name, spec.cluster, plan=name)
            for move in state.moves.get(name, []):
                move_backup(context, backup.name, spec.cluster, move)
        counted = [b for b in in_buckets if made_by(b, judged_at)]
        state.counts.setdefault(name, []).append((context.driver.clock.now(), len(counted)))


def note_gone(context, plan, seen, present):
    """When each backup seen earlier was first found missing from the plan's buckets (for the report)."""
    gone = context.scenario_state.gone.setdefault(plan, {})
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
    context.scenario_state.dmaas.move_data(backup, target_cluster, namespace)
    moved = probe(context, target_cluster, namespace).state()
    context.scenario_state.moved.append(Moved(backup, source_cluster, target_cluster, namespace, moved))
