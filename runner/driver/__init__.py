"""The shared driver: one scenario's view of a target's clusters, buckets,
engines and clock, plus the bookkeeping that makes every scenario leave
nothing behind.

    driver = Driver(target, run_id="20260105-1200", scenario="psp-periodic-backups")
    driver.target                       # a runner.targets Target
    driver.id                           # unique per scenario (8 hex digits)
    driver.isolation                    # Isolation: the scenario's labels and name prefix
    driver.own(word) -> str             # a name the scenario gives an object (namespace, plan, backup,
                                        # location, ...) as it is made on the target: prefixed where the
                                        # run shares clusters (runner/driver/isolation.py)
    driver.scenario_root                # S3 key root: "dmaas-e2e/<run_id>/<scenario-slug>-<id>"
    driver.run_root                     # "dmaas-e2e/<run_id>": the run's, above every scenario_root
    driver.clock                        # Clock: now(), advance(seconds), time_scale, scaled(s)
    driver.ensure_cluster(name, version=None, velero_version=None) -> ClusterClient
                                        # "Given a cluster": lab creates it (and destroys it in
                                        # cleanup); real maps the name, or raises Unsupported
    driver.create_cluster(name, ...) -> ClusterClient   # must be new (real: Unsupported)
    driver.destroy_cluster(name)        # lab only (real: Unsupported)
    driver.cluster(name) -> ClusterClient               # one already ensured (else ensures it)
    driver.clusters() -> {name: ClusterClient}          # those this scenario reached, still alive
    driver.let_velero_discover(name)    # wait until Velero there can back up the kinds made there
    driver.destroyed() -> {names}                       # those it destroyed
    driver.bucket(profile) -> Bucket    # created in S3 if missing
    driver.bucket_profile(profile) -> BucketProfile     # endpoint/region/keys, for BSL credentials
    driver.engine(name) -> Engine       # runner.catalogues.Engine, Unsupported where the target lacks it
    driver.storage_class(cluster, engine) -> dict    # the engine's StorageClass there (created only on
                                        # targets whose classes the run makes: the lab's)
    driver.cut_cluster(name) / restore_cluster(name)    # lab faults (real: Unsupported)
    driver.cut_bucket(profile) / restore_bucket(profile)
    driver.set_quota(profile, bytes_or_None); driver.corrupt(profile, key)
    driver.track(kind, cluster, namespace, name, api_version="v1")   # also done by
                                        # ClusterClient.apply and VeleroClient.create
    driver.tracked(kind=None, cluster=None) -> [Tracked]
    driver.adopt(name, info, selector)  # track, for cleanup, what carries a label on a cluster (a run's
                                        # leftovers: runner/targets/real.py sweep)
    driver.cleanup() -> [problem strings]   # environment.py: after every scenario
    driver.diagnostics(directory)           # environment.py: when a scenario failed
    driver.close()

Unsupported (runner.errors.Unsupported) propagates from the target; steps
turn it into a skip with its reason.
"""
import collections
import dataclasses
import re
import shutil
import sys
import tempfile
import uuid
import weakref

from kubernetes.dynamic.exceptions import ConflictError

from runner import catalogues
from runner.driver.buckets import Bucket
from runner.driver.clock import Clock
from runner.driver.clusters import ClusterClient
from runner.driver.isolation import Isolation
from runner.driver.waits import WaitTimeout, describe, wait_until
from runner.driver.velero import API_VERSION as VELERO_API, BACKUP_TERMINAL, CLEANUP_ORDER

# Velero's discovery refresh period, and time for the refresh itself (see let_velero_discover)
VELERO_DISCOVERY_PERIOD, DISCOVERY_MARGIN = 300, 10

Tracked = collections.namedtuple("Tracked", "api_version kind cluster namespace name")
RESTORE_LABEL = "velero.io/restore-name"


def slugify(text, limit=48):
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:limit].strip("-") or "scenario"


class Driver:
    def __init__(self, target, run_id="run", scenario="scenario"):
        self.target = target
        self.id = uuid.uuid4().hex[:8]
        self.slug = slugify(scenario)
        self.run_root = f"dmaas-e2e/{slugify(run_id)}"     # every scenario's S3 objects of the run are under it
        self.scenario_root = f"{self.run_root}/{self.slug}-{self.id}"
        self.clock = Clock(target)
        self.isolation = Isolation(run=run_id, scenario=self.id, prefix=target.name_prefix(self.id))
        self._workdir = tempfile.mkdtemp(prefix=f"dmaas-driver-{self.id}-")   # discovery caches
        # removed by close(), or when the driver is collected / the process exits
        self._remove_workdir = weakref.finalize(self, shutil.rmtree, self._workdir, True)
        self._clusters = {}
        self._destroyed = set()
        self._created_clusters = []
        self._buckets = {}
        self._tracked = []
        self._cut_clusters = set()
        self._cut_buckets = set()
        self._quotas = set()

    def __repr__(self):
        return f"<driver {self.scenario_root} on {self.target.name}>"

    # ------------------------------------------------------------- clusters

    def own(self, word):
        """The name an object the scenario calls `word` gets on the target."""
        return self.isolation.name(word)

    def _client(self, info):
        client = ClusterClient(info, tracker=self._track, velero_namespace=self.target.velero_namespace,
                               cache_dir=self._workdir, isolation=self.isolation)
        self._clusters[info.name] = client
        self._destroyed.discard(info.name)
        return client

    def ensure_cluster(self, name, version=None, velero_version=None):
        info = self.target.ensure_cluster(name, version, velero_version, owner=self.isolation)
        if info.created:
            self._created_clusters.append(name)
        if name in self._clusters and not info.created:
            return self._clusters[name]
        return self._client(info)

    def create_cluster(self, name, version=None, velero_version=None):
        info = self.target.create_cluster(name, version, velero_version, owner=self.isolation)
        self._created_clusters.append(name)
        return self._client(info)

    def destroy_cluster(self, name):
        self.target.destroy_cluster(name)
        self._clusters.pop(name, None)
        self._destroyed.add(name)
        self._tracked = [t for t in self._tracked if t.cluster != name]

    def cluster(self, name):
        if name in self._destroyed:
            raise AssertionError(f"cluster {name} was destroyed earlier in this scenario")
        return self._clusters.get(name) or self.ensure_cluster(name)

    def clusters(self):
        return dict(self._clusters)

    def destroyed(self):
        """Names of the clusters this scenario destroyed."""
        return set(self._destroyed)

    def let_velero_discover(self, name):
        """Wait until Velero on cluster `name` knows the kinds of the CRDs this
        scenario created there. Velero's server refreshes its API discovery
        every 5 minutes (pkg/cmd/server/server.go, not configurable in 1.16)
        and backs up only the kinds it knows: a backup within 5 minutes of a
        new CRD silently lacks its custom resources and the CRD. Nothing
        observable says when the refresh happened, so this waits one period
        plus a margin from the CRD's creation, on the cluster's clock (the
        lab's virtual one; on a real target real seconds, whatever the time
        scale)."""
        created = self.cluster(name).newest_kind_created
        if created is None:
            return
        left = VELERO_DISCOVERY_PERIOD + DISCOVERY_MARGIN - (self.clock.now() - created).total_seconds()
        if left <= 0:
            return
        if self.clock.real_time:
            print(f"[velero] cluster {name}: waiting {left:.0f} s for Velero's API discovery (refreshed every "
                  f"{VELERO_DISCOVERY_PERIOD // 60} min) to know the kinds created at {created:%H:%M:%S}",
                  file=sys.stderr, flush=True)
        self.clock.advance(left / self.clock.time_scale)

    # ------------------------------------------------------------- buckets, engines

    def bucket_profile(self, profile):
        return self.target.bucket_profile(profile)

    def bucket(self, profile):
        if profile not in self._buckets:
            bucket = Bucket(self.target.bucket_profile(profile))
            bucket.ensure()
            self._buckets[profile] = bucket
        return self._buckets[profile]

    def engine(self, name):
        self.target.check_engine(name)        # Unsupported: the scenario is skipped with the reason
        return catalogues.engine(name)

    def storage_class(self, cluster, engine):
        """The engine's StorageClass on the cluster. Only a target whose
        clusters the run has to itself (the lab) gets one made from the
        catalogue's parameters; elsewhere it must be there (preflight says so
        before any scenario) and its provisioner must be the engine's."""
        client = self.cluster(cluster)
        existing = client.get("storage.k8s.io/v1", "StorageClass", engine.storage_class)
        if existing is None:
            if not self.target.makes_storage_classes:
                raise AssertionError(f"cluster {cluster}: no StorageClass {engine.storage_class} for engine "
                                     f"{engine.name}; a run never makes one on a target it shares: install "
                                     f"{engine.title} there")
            return client.apply(engine.storage_class_manifest())
        if existing.get("provisioner") != engine.provisioner:
            raise AssertionError(f"cluster {cluster}: StorageClass {engine.storage_class} has provisioner "
                                 f"{existing.get('provisioner')}, engine {engine.name} expects {engine.provisioner}")
        return existing

    # ------------------------------------------------------------- faults

    def cut_cluster(self, name):
        self.target.cut_cluster(name)
        self._cut_clusters.add(name)

    def restore_cluster(self, name):
        self.target.restore_cluster(name)
        self._cut_clusters.discard(name)

    def cut_bucket(self, profile):
        self.target.cut_bucket(profile, self.bucket(profile).name)
        self._cut_buckets.add(profile)

    def restore_bucket(self, profile):
        self.target.restore_bucket(profile, self.bucket(profile).name)
        self._cut_buckets.discard(profile)

    def set_quota(self, profile, limit):
        self.target.set_quota(profile, self.bucket(profile).name, limit)
        self._quotas.add(profile)

    def corrupt(self, profile, key):
        self.target.corrupt(profile, self.bucket(profile).name, key)

    # ------------------------------------------------------------- tracking

    def _track(self, api_version, kind, cluster, namespace, name):
        entry = Tracked(api_version, kind, cluster, namespace, name)
        if entry not in self._tracked:
            self._tracked.append(entry)

    def track(self, kind, cluster, namespace, name, api_version="v1"):
        """Remember something this scenario created so cleanup deletes it."""
        self._track(api_version, kind, cluster, namespace, name)

    def adopt(self, name, info, selector):
        """Track, as if this driver had made them, the objects on the cluster
        `info` (reached as `name`) that match the label `selector`: the
        namespaces, Velero's objects and Secrets in Velero's namespace, and
        cluster-scoped objects; cleanup() then removes them as its own."""
        client = self._client(dataclasses.replace(info, name=name))
        for namespace in client.list("v1", "Namespace", label_selector=selector):
            self._track("v1", "Namespace", name, None, namespace["metadata"]["name"])
        for kind in CLEANUP_ORDER:
            for obj in client.velero.list(kind, label_selector=selector):
                self._track(VELERO_API, kind, name, client.velero.namespace, obj["metadata"]["name"])
        for secret in client.list("v1", "Secret", namespace=client.velero.namespace, label_selector=selector):
            self._track("v1", "Secret", name, client.velero.namespace, secret["metadata"]["name"])
        for resource in client.served():
            if resource.namespaced or resource.kind == "Namespace" or not {"list", "delete"} <= set(resource.verbs):
                continue
            for obj in client.list(resource.group_version, resource.kind, label_selector=selector):
                self._track(resource.group_version, resource.kind, name, None, obj["metadata"]["name"])
        return client

    def tracked(self, kind=None, cluster=None):
        return [t for t in self._tracked
                if (kind is None or t.kind == kind) and (cluster is None or t.cluster == cluster)]

    def scenario_namespaces(self, cluster):
        """Namespaces this scenario created on a cluster, itself or through restores."""
        names = {t.name for t in self.tracked("Namespace", cluster)}
        restores = [t.name for t in self.tracked("Restore", cluster)]
        client = self._clusters.get(cluster)
        if restores and client is not None:
            for ns in client.list("v1", "Namespace", label_selector=_restore_selector(restores)):
                names.add(ns["metadata"]["name"])
        names.discard(self.target.velero_namespace)
        return sorted(names)

    # ------------------------------------------------------------- cleanup

    def cleanup(self, buckets=None):
        """Undo everything the scenario did; returns what could not be undone.
        `buckets`: the bucket profiles whose scenario root to delete (default: all the target has)."""
        problems = []

        def attempt(what, action, *args):
            try:
                action(*args)
            except Exception as error:   # keep cleaning; report every failure
                problems.append(f"{what}: {describe(error)}")

        for name in sorted(self._cut_clusters):
            attempt(f"reconnect cluster {name}", self.restore_cluster, name)
        for profile in sorted(self._cut_buckets):
            attempt(f"reconnect bucket {profile}", self.restore_bucket, profile)
        for profile in sorted(self._quotas):
            attempt(f"remove quota of bucket {profile}", self.target.set_quota, profile,
                    self.bucket(profile).name, None)
        self._quotas.clear()
        for name, client in list(self._clusters.items()):
            if name not in self._created_clusters:
                attempt(f"clean cluster {name}", self._clean_cluster, client)
        for name in self._created_clusters:
            if name not in self._destroyed:
                attempt(f"destroy cluster {name}", self.destroy_cluster, name)
        for profile in self.target.profile_buckets if buckets is None else buckets:
            attempt(f"delete {self.scenario_root}/ in bucket {profile}", self._clean_bucket, profile)
        return problems

    def _clean_cluster(self, client):
        mine = self.tracked(cluster=client.name)
        if not mine:
            return   # the scenario only looked at this cluster
        restores = [t.name for t in mine if t.kind == "Restore"]
        namespaces = self.scenario_namespaces(client.name)
        velero = client.velero
        for name in sorted(t.name for t in mine if t.kind == "Schedule" and t.api_version == VELERO_API):
            velero.delete("Schedule", name)     # first: no run of ours starts while we clean
        locations = {t.name for t in mine if t.kind == "BackupStorageLocation"}
        backups = {t.name for t in mine if t.kind == "Backup"}
        listed = velero.backups()
        if locations:   # synced from our locations by Velero, never tracked
            backups |= {b["metadata"]["name"] for b in listed
                        if (b.get("spec") or {}).get("storageLocation") in locations}
        timed_out = self._await_backups(velero, listed, backups)
        for kind in (k for k in CLEANUP_ORDER if k != "Schedule"):     # Schedules: above
            names = {t.name for t in mine if t.kind == kind and t.api_version == VELERO_API}
            if backups or restores or locations:
                names |= self._velero_made(velero, kind, backups, set(restores), locations)
            for name in sorted(names):
                velero.delete(kind, name)
        if restores:
            self._delete_restored_cluster_objects(client, restores)
        for entry in reversed(mine):
            if entry.api_version == VELERO_API or entry.kind == "Namespace":
                continue
            if entry.namespace and entry.namespace in namespaces:
                continue   # goes with its namespace
            client.delete(entry.api_version, entry.kind, entry.name, entry.namespace)
        for namespace in namespaces:
            try:
                client.delete("v1", "Namespace", namespace)
            except ConflictError:
                pass   # already terminating (Kubernetes answers 409 to a second delete)
        if namespaces:
            wait_until(f"namespaces {', '.join(namespaces)} to be gone from cluster {client.name}",
                       lambda: not [n for n in namespaces if client.get("v1", "Namespace", n)],
                       timeout="namespace_gone", interval=0.5)
        if timed_out:
            raise timed_out

    @staticmethod
    def _await_backups(velero, listed, backups):
        """Lets the scenario's unfinished backups (`backups`: names among the
        `listed` Backup objects) finish before anything of theirs is deleted;
        returns the WaitTimeout of one that did not, else None (the cleanup
        goes on, waiting no more: a Velero that does not finish one will not
        finish the next). Velero works on one backup at
        a time, and one whose Backup and PodVolumeBackups are deleted under
        it waits for them until its file-system backup timeout (4 hours by
        default), holding up every later backup on the cluster, another
        team's too."""
        for backup in listed:
            name = backup["metadata"]["name"]
            if name in backups and (backup.get("status") or {}).get("phase") not in BACKUP_TERMINAL:
                try:
                    velero.wait_backup(name)
                except WaitTimeout as exc:
                    return exc
        return None

    @staticmethod
    def _velero_made(velero, kind, backups, restores, locations):
        """Objects Velero made for the scenario's backups, restores and
        locations: synced backups, pod volume backups/restores, repositories."""
        if kind == "Backup":
            return backups
        owners = {"PodVolumeBackup": ("velero.io/backup-name", backups),
                  "PodVolumeRestore": ("velero.io/restore-name", restores)}
        if kind in owners:
            label, names = owners[kind]
            return {o["metadata"]["name"] for o in velero.list(kind)
                    if (o["metadata"].get("labels") or {}).get(label) in names}
        if kind == "BackupRepository":
            return {o["metadata"]["name"] for o in velero.list(kind)
                    if (o.get("spec") or {}).get("backupStorageLocation") in locations}
        return set()

    @staticmethod
    def _delete_restored_cluster_objects(client, restores):
        """Cluster-scoped objects Velero restored (PSPs, CRDs, namespaces):
        Velero labels everything it restores with velero.io/restore-name."""
        selector = _restore_selector(restores)
        for resource in client.served():
            if resource.namespaced or not {"list", "delete"} <= set(resource.verbs):
                continue
            for obj in client.list(resource.group_version, resource.kind, label_selector=selector):
                client.delete(resource.group_version, resource.kind, obj["metadata"]["name"])

    def _clean_bucket(self, profile):
        bucket = self._buckets.get(profile) or Bucket(self.target.bucket_profile(profile))
        if profile in self._buckets or bucket.reachable():
            bucket.delete_prefix(self.scenario_root + "/")

    # ------------------------------------------------------------- diagnostics

    def diagnostics(self, directory):
        from runner.driver.diagnostics import collect
        return collect(self, directory)

    def close(self):
        self._remove_workdir()


def _restore_selector(restores):
    return f"{RESTORE_LABEL} in ({','.join(sorted(set(restores)))})"
