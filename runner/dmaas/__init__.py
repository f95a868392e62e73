"""The DMaaS service layer: what the strategy needs and Velero lacks
(team-owned plans, keep-last-N, fan-out to several locations,
restore-to-verify before promotion, capacity warnings, monitor views),
built on Velero objects (runner.driver) and bucket reads.

    dmaas = DMaaS(driver)
    dmaas.add_location(cluster, name, bucket_profile, prefix=None) -> BSL name
    dmaas.create_plan(PlanSpec(...)) -> Plan
    dmaas.reconcile() -> datetime                       # after every clock step; the moment it judged
    dmaas.settle(plan_name)                             # wait for the plan's running backups
    dmaas.plan_backups(plan_name, location=None) -> [BackupRecord] oldest first (read from the bucket)
    dmaas.backup_now(cluster, name, selection, location=None) -> BackupRecord
    dmaas.restore(cluster, backup_name, namespace_mapping=None, location=None) -> RestoreRecord
    dmaas.discover(cluster, location) -> [backup names]
    dmaas.verify_plan(plan_name, backup_name=None) -> Verification
    dmaas.verify_then_promote(backup, verify_cluster, expected=None, target_bucket="aws") -> PromotionResult
    dmaas.set_capacity(bucket_profile, nbytes)          # DMaaS setting (+ the lab bucket's quota)
    dmaas.capacity_check(cluster, namespaces, bucket_profile) -> CapacityWarning | None
    dmaas.move_data(backup, target_cluster, namespace) -> MoveResult
    dmaas.monitor() -> {"plans": [...], "usage": [...], "connectivity": [...]}

Scenario time: plan periods and TTLs are scenario seconds, turned into the
target's seconds with driver.clock.scaled() (1:1 on the lab).
"""
from __future__ import annotations

import dataclasses
import time

from runner import catalogues
from runner.dmaas import capacity, locations, monitor as monitor_views, movement, plans, promotion, restores, \
    retention
from runner.dmaas.discovery import SCHEDULE_LABEL, BucketBackups, wait_restorable, wait_synced
from runner.dmaas.locations import Location
from runner.dmaas.plans import PLAN_LABEL, PlanError, PlanSpec, Selection
from runner.dmaas.records import BackupRecord
from runner.driver.velero import BACKUP_TERMINAL
from runner.driver.waits import poll_sleep
from runner.times import parse_time
from runner.errors import Unsupported

__all__ = ["DMaaS", "PlanSpec", "Selection", "Plan", "PlanError", "Unsupported"]

DEFAULT_TTL = 720 * 3600            # Velero's default backup TTL
SCHEDULE_CHECK_PERIOD = 60          # real seconds between Velero's checks of a Schedule (its controller's period)


@dataclasses.dataclass
class Plan:
    spec: PlanSpec
    created: object                 # aware datetime (scenario clock)
    engine_backup: str | None       # "snapshot" | "fs" | None
    schedules: list                 # [ScheduleObject]

    @property
    def name(self):
        return self.spec.name


def _chained(engine_backup, spec):
    """Whether a plan's backups stand on each other (snapshot chains)."""
    return engine_backup == "snapshot" and plans.chain_length(spec) > 1


class DMaaS:
    def __init__(self, driver):
        self.driver = driver
        self.bucket_backups = BucketBackups(driver)
        self._locations = {}        # name -> Location
        self._plans = {}            # name -> Plan
        self._capacity = {}         # bucket profile -> bytes

    # --- locations -----------------------------------------------------------
    def add_location(self, cluster, name, bucket_profile, prefix=None):
        """A BSL `name` on `cluster` (and the same on every further cluster)."""
        profile = self.driver.bucket_profile(bucket_profile)
        self.driver.bucket(bucket_profile)          # exists before Velero validates it
        path = f"{self.driver.scenario_root}/{(prefix or name).strip('/')}"
        location = self._locations.get(name)
        if location is not None and (location.profile, location.prefix) != (bucket_profile, path):
            raise PlanError(f"location {name} is already {location}; give another name")
        location = Location(name, bucket_profile, profile.bucket, path)
        self._locations[name] = location
        locations.ensure_bsl(self.driver.cluster(cluster), location, profile, self._capacity.get(bucket_profile))
        return name

    def location(self, name, cluster=None):
        if name in self._locations:
            return self._locations[name]
        if cluster is not None:
            bsl = self.driver.cluster(cluster).velero.get("BackupStorageLocation", name)
            if bsl is not None:
                return locations.from_bsl(bsl)
        raise PlanError(f"unknown location {name!r} (known: {', '.join(self._locations) or 'none'})")

    def _default_location(self, cluster, selection=None):
        """Where an on-demand backup goes when the team names no location: a
        plan's selection goes to the plan's first location; otherwise the
        cluster's default BSL when this layer made it, else the first BSL on
        the cluster this layer made, else the cluster's default BSL. (A real
        cluster may have a default BSL of its own, which no bucket profile
        describes.)"""
        plan = selection.get("plan") if isinstance(selection, dict) else getattr(selection, "name", None)
        if plan in self._plans and self._plans[plan].spec.locations:
            return self._plans[plan].spec.locations[0]
        bsls = self.driver.cluster(cluster).velero.list("BackupStorageLocation")
        default = [b for b in bsls if (b.get("spec") or {}).get("default")]
        mine = [b for b in bsls if b["metadata"]["name"] in self._locations]
        ours_default = [b for b in default if b in mine]
        chosen = next(iter(ours_default or mine or default or bsls), None)
        if chosen is None:
            raise PlanError(f"cluster {cluster} has no backup location")
        return chosen["metadata"]["name"]

    def _vsl(self, cluster, location_name, full_every=None):
        location = self.location(location_name, cluster)
        return locations.ensure_vsl(self.driver.cluster(cluster), location,
                                    self.driver.bucket_profile(location.profile), full_every)

    # --- plans ---------------------------------------------------------------
    def _engine_backup(self, engine):
        return self.driver.engine(engine).backup if engine else None

    def create_plan(self, spec: PlanSpec) -> Plan:
        spec.check()
        if spec.name in self._plans:
            raise PlanError(f"plan {spec.name} exists already")
        engine_backup = self._engine_backup(spec.engine)
        for name in spec.locations:
            self.location(name, spec.cluster)
        clock = self.driver.clock
        every = int(round(clock.scaled(plans.seconds(spec.every, f"plan {spec.name}: every"))))
        ttl_seconds = plans.seconds(spec.retention_ttl, f"plan {spec.name}: retention") or DEFAULT_TTL
        ttl = int(round(clock.scaled(ttl_seconds)))
        if _chained(engine_backup, spec) and spec.retention_ttl:
            ttl = retention.chain_ttl(ttl, every, plans.chain_length(spec))    # the layer deletes chains first
        created = clock.now()
        try:
            objects = plans.schedules(spec, created, every, ttl,
                                      lambda location: self._vsl(spec.cluster, location, spec.full_every),
                                      engine_backup)
        except PlanError as exc:
            if clock.time_scale != 1:
                raise Unsupported(f"{exc.message} (at time scale {clock.time_scale})") from None
            raise
        client = self.driver.cluster(spec.cluster)
        for obj in objects:
            client.velero.create("Schedule", obj.name, obj.spec, labels=obj.labels)
        plan = Plan(spec, created, engine_backup, objects)
        self._plans[spec.name] = plan
        return plan

    def plan(self, name) -> Plan:
        try:
            return self._plans[name]
        except KeyError:
            raise PlanError(f"unknown plan {name!r} (known: {', '.join(self._plans) or 'none'})") from None

    def plan_backups(self, plan_name, location=None):
        """The plan's backups in its location(s), read from the bucket, oldest first."""
        plan = self.plan(plan_name)
        names = [location] if location else plan.spec.locations
        records = []
        for name in names:
            records += self.bucket_backups.backups(self.location(name), {PLAN_LABEL: plan_name})
        return sorted(records, key=lambda r: (r.started is None, r.started, r.name))

    def scheduled_within(self, plan_name, backup, scenario_seconds):
        """For a backup one of the plan's Schedules made: whether its run was
        due within the plan's first `scenario_seconds` (run k is due at the
        plan's creation minute + k*every, plans.py). None for a backup no
        Schedule of the plan made (on demand). Why by the run and not by when
        Velero made it: on a real clock "N hours pass" begins a moment after
        the plan was made, and Velero makes a run up to a minute after it is
        due, so whether the run due at the very end was made before the
        passage ended is luck; the plan's first N hours hold the same runs
        on every target."""
        plan = self.plan(plan_name)
        maker = backup.labels.get(SCHEDULE_LABEL)
        schedule = next((s for s in plan.schedules if s.name == maker), None)
        if schedule is None or backup.made is None:
            return None
        return plans.due_within(schedule.cron, plan.created, backup.made, self.driver.clock.scaled(scenario_seconds))

    def settle(self, plan_name):
        """Waits for the plan's running backups on its cluster (a real cluster
        takes real time to finish one; on the lab they are done when the clock
        step returns), so what is read next is what they saw. Nothing to wait
        for once the plan's cluster is destroyed."""
        plan = self.plan(plan_name)
        if plan.spec.cluster in self.driver.destroyed():
            return
        velero = self.driver.cluster(plan.spec.cluster).velero
        if self.driver.clock.real_time:
            self._await_due_runs(plan, velero)
        for backup in velero.backups(label_selector=f"{PLAN_LABEL}={plan_name}"):
            if (backup.get("status") or {}).get("phase") not in BACKUP_TERMINAL:
                velero.wait_backup(backup["metadata"]["name"])

    def _await_due_runs(self, plan, velero):
        """Velero checks each Schedule once a minute, in a phase set by when its
        server started, so a run due at hh:mm is made up to a minute later: wait
        for the runs due by now (each Schedule's status.lastBackup), so what is
        read next has them. Bounded: a run Velero skips (its previous backup
        still running) is not waited for beyond a check period and a half."""
        now = self.driver.clock.now()
        deadline = time.monotonic() + 1.5 * SCHEDULE_CHECK_PERIOD
        for schedule in plan.schedules:
            due = plans.last_fire(schedule.cron, now)
            if due is None or due <= plan.created:
                continue
            while time.monotonic() < deadline:
                status = (velero.get("Schedule", schedule.name) or {}).get("status") or {}
                made = parse_time(status.get("lastBackup"))
                if made is not None and made >= due:
                    break
                poll_sleep(1.0)

    def reconcile(self):
        """Retention Velero's TTL cannot give: keep-last-N, and whole snapshot
        chains (retention.py): deletes what a plan keeps no longer, per
        location, and returns once it is gone from the buckets. A plan whose
        cluster is gone is left to Velero's TTL. Returns the moment it judged
        (on a real clock a schedule may start another backup right after)."""
        retained = [plan for plan in self._plans.values()
                    if (plan.spec.keep_last or _chained(plan.engine_backup, plan.spec))
                    and plan.spec.cluster not in self.driver.destroyed()]
        # a backup still running counts once it completes; on a real clock every plan's
        # runs due by now (Velero makes one up to a minute late) are made before judging,
        # as the counts are of the backups made by the moment returned
        for plan in (self._plans.values() if self.driver.clock.real_time else retained):
            self.settle(plan.name)
        now = self.driver.clock.now()
        for plan in retained:
            chained = _chained(plan.engine_backup, plan.spec)
            keep_last = int(plan.spec.keep_last) if plan.spec.keep_last else None
            kept_for = plans.seconds(plan.spec.retention_ttl) if chained else None
            if keep_last is None and kept_for is None:
                continue
            client = self.driver.cluster(plan.spec.cluster)
            for name in plan.spec.locations:
                location = self.location(name)
                records = self.bucket_backups.backups(location, {PLAN_LABEL: plan.name})
                doomed = [r.name for r in retention.doomed(
                    records, chained, keep_last=keep_last, now=now,
                    retention=self.driver.clock.scaled(kept_for) if kept_for else None)]
                if doomed:
                    retention.delete_backups(client, doomed)
                    retention.wait_deleted(client, self.bucket_backups.layout(location), doomed)
        return now

    # --- on demand -----------------------------------------------------------
    def _selection(self, selection):
        if isinstance(selection, dict) and "plan" in selection:
            return self.plan(selection["plan"]).spec.selection, self.plan(selection["plan"]).spec.engine
        if isinstance(selection, PlanSpec):
            return selection.selection, selection.engine
        if isinstance(selection, Plan):
            return selection.spec.selection, selection.spec.engine
        return Selection.of(selection), None

    def _namespace_engine(self, cluster, namespaces):
        """'snapshot' if any claim in the namespaces is on a snapshot engine,
        else 'fs' if there are claims, else None."""
        client = self.driver.cluster(cluster)
        classes = {engine.storage_class: engine.backup for engine in self._engines().values()}
        kinds = set()
        for namespace in namespaces:
            for pvc in client.list("v1", "PersistentVolumeClaim", namespace=namespace):
                kinds.add(classes.get((pvc.get("spec") or {}).get("storageClassName"), "fs"))
        return "snapshot" if "snapshot" in kinds else ("fs" if kinds else None)

    def _engines(self):
        return catalogues.engines()

    def backup_now(self, cluster, name, selection, location=None):
        """An on-demand Backup of the selection (a dict of Selection fields,
        {"plan": name}, or a PlanSpec); waits for its terminal phase."""
        chosen, engine = self._selection(selection)
        location = location or self._default_location(cluster, selection)
        self.location(location, cluster)
        engine_backup = self._engine_backup(engine) if engine else \
            self._namespace_engine(cluster, chosen.namespaces)
        vsl = self._vsl(cluster, location) if engine_backup == "snapshot" else None
        spec = {**chosen.backup_spec(), "storageLocation": location, **plans.volume_spec(engine_backup, vsl)}
        client = self.driver.cluster(cluster)
        client.velero.create("Backup", name, spec, labels={"dmaas.openebs.io/on-demand": "true"})
        obj = client.velero.wait_backup(name)
        record = self.bucket_backups.record(self.location(location, cluster), name)
        if record is None:          # failed before anything was uploaded
            status = obj.get("status") or {}
            record = BackupRecord(name, location, None, None, status.get("phase"), None)
        return record

    # --- restores --------------------------------------------------------------
    def _backup_on(self, cluster, backup_name, location=None):
        """The Backup object on `cluster`, waiting for the sync if needed."""
        client = self.driver.cluster(cluster)
        backup = client.velero.get("Backup", backup_name)
        if backup is None:
            where = self.location(location or self._location_holding(backup_name), cluster)
            wait_synced(self.driver, client, where, [backup_name])
        else:
            where = self.location(backup["spec"]["storageLocation"], cluster)
        backup = wait_restorable(client, self.bucket_backups.layout(where), backup_name)
        for vsl in (backup.get("spec") or {}).get("volumeSnapshotLocations") or []:
            if client.velero.get("VolumeSnapshotLocation", vsl) is None:
                self._recreate_vsl(cluster, backup, vsl)
        return backup

    def _location_holding(self, backup_name):
        for name, location in self._locations.items():
            if backup_name in self.bucket_backups.names(location):
                return name
        raise PlanError(f"backup {backup_name} is in none of the locations "
                        f"{', '.join(self._locations) or '(none configured)'}")

    def _recreate_vsl(self, cluster, backup, vsl_name):
        """A new cluster has no VSLs: make the one a backup names from its
        location (the chain length only matters when taking backups)."""
        location = self.location(backup["spec"]["storageLocation"], cluster)
        full_every = None
        if vsl_name.startswith(f"{location.name}-full-every-"):
            full_every = int(vsl_name.rsplit("-", 1)[1])
        if plans.vsl_name(location.name, full_every) != vsl_name:
            raise PlanError(f"backup {backup['metadata']['name']} names volume snapshot location {vsl_name}, "
                            f"which DMaaS did not create")
        self._vsl(cluster, location.name, full_every)

    def restore(self, cluster, backup_name, namespace_mapping=None, location=None):
        backup = self._backup_on(cluster, backup_name, location)
        layout = self.bucket_backups.layout(self.location(backup["spec"]["storageLocation"], cluster))
        return restores.run_restore(self.driver.cluster(cluster), backup_name, layout, namespace_mapping)

    def discover(self, cluster, location):
        """Waits until `cluster` lists every backup the location's bucket holds."""
        where = self.location(location, cluster)
        return wait_synced(self.driver, self.driver.cluster(cluster), where, self.bucket_backups.names(where),
                           in_bucket=lambda: self.bucket_backups.names(where))

    def _backup_namespaces(self, backup):
        namespaces = list((backup.get("spec") or {}).get("includedNamespaces") or [])
        if namespaces and "*" not in namespaces:
            return namespaces
        location = self.location(backup["spec"]["storageLocation"])
        listed = self.bucket_backups.layout(location).resource_list(backup["metadata"]["name"])
        return sorted({entry.split("/", 1)[0] for entries in listed.values() for entry in entries if "/" in entry})

    def verify_backup(self, backup_name, verify_cluster, expected=None, location=None):
        backup = self._backup_on(verify_cluster, backup_name, location)
        layout = self.bucket_backups.layout(self.location(backup["spec"]["storageLocation"], verify_cluster))
        return restores.verify(self.driver.cluster(verify_cluster), backup_name, self._backup_namespaces(backup),
                               layout, expected)

    def verify_plan(self, plan_name, backup_name=None, expected=None):
        """Restore-to-verify of a plan's backup (its latest by default) on its verify_on cluster."""
        plan = self.plan(plan_name)
        if not plan.spec.verify_on:
            raise PlanError(f"plan {plan_name} has no verification cluster (verify on)")
        if backup_name is None:
            records = [r for r in self.plan_backups(plan_name) if r.phase == "Completed"]
            if not records:
                raise PlanError(f"plan {plan_name} has no completed backup to verify")
            backup_name, location = records[-1].name, records[-1].location
        else:
            location = None
        return self.verify_backup(backup_name, plan.spec.verify_on, expected, location)

    def verify_then_promote(self, backup, verify_cluster, expected=None, target_bucket="aws", location=None):
        """Verification restore on `verify_cluster`; only if it passed, every
        object of the backup is copied to `target_bucket` under
        `<scenario_root>/<target_bucket>`."""
        verification = self.verify_backup(backup, verify_cluster, expected, location)
        source = self.driver.cluster(verify_cluster).velero.get("Backup", backup)
        source_location = self.location(source["spec"]["storageLocation"], verify_cluster)
        return promotion.promote(verification, self.bucket_backups.layout(source_location),
                                 self._backup_namespaces(source), self.driver.bucket(target_bucket),
                                 f"{self.driver.scenario_root}/{target_bucket}")

    # --- capacity --------------------------------------------------------------
    def set_capacity(self, bucket_profile, nbytes):
        """The capacity DMaaS plans against for a bucket; on the lab the
        bucket gets that quota too (a real bucket's quota is the admin's)."""
        self._capacity[bucket_profile] = nbytes
        try:
            self.driver.set_quota(bucket_profile, nbytes)
        except Unsupported:
            pass
        for client in self.driver.clusters().values():
            locations.set_capacity(client, bucket_profile, nbytes)

    def capacity_check(self, cluster, namespaces, bucket_profile):
        client = self.driver.cluster(cluster)
        limit = self._capacity.get(bucket_profile)
        if limit is None:
            limit = locations.capacity_of(client, bucket_profile)
        needed = capacity.needed_bytes(client, list(namespaces))
        used = self.driver.bucket(bucket_profile).usage("")
        return capacity.check(bucket_profile, limit, used, needed)

    # --- movement --------------------------------------------------------------
    def move_data(self, backup, target_cluster, namespace, location=None):
        obj = self._backup_on(target_cluster, backup, location)
        sources = self._backup_namespaces(obj)
        if len(sources) != 1:
            raise PlanError(f"backup {backup} takes namespaces {', '.join(sources)}; data movement needs one")
        layout = self.bucket_backups.layout(self.location(obj["spec"]["storageLocation"], target_cluster))
        return movement.move(self.driver.cluster(target_cluster), backup, sources[0], namespace, layout)

    # --- monitor ---------------------------------------------------------------
    def monitor(self):
        clients = self.driver.clusters()
        profiles = {location.profile for location in self._locations.values()}
        return monitor_views.views(self.driver, clients, profiles, self.bucket_backups)
