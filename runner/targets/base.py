"""The one interface every kind of target implements (HACKING.md, "Targets").

Before any target runs (`dmaas run`, `dmaas validate`), class methods answer
for a profile:

    parallel_safe(profile) -> bool             # may --jobs workers each have one?
    start_for_worker(profile, out_dir, root) -> Worker | None
                                               # what one worker process needs started (the lab)
    preflight(profile, root, selection) -> Findings(problems, warnings)
    after_run(profile, run_dir, run_id) -> [problem lines]
                                               # what behave could not stop or remove (after a signal)
    open(profile, state_dir=None) -> Target    # start or attach (behave's before_all)

A running target (the driver's `target`):

    .name, .kind, .velero_namespace, .time_scale, .real_time, .velero_gc_period
    .makes_storage_classes                     # may a missing engine class be created from the catalogue?
    .name_prefix(scenario_id) -> str           # "" where the run has the clusters to itself
    .cannot(action, name=None) -> reason | None   # before a scenario: can it do what a step needs?
    .check_engine(name)                        # Unsupported with the profile's reason
    .ensure_cluster(name, version=None, velero_version=None, owner=None) -> ClusterInfo
    .create_cluster(name, ..., owner=None) -> ClusterInfo   # must be new
    .destroy_cluster(name)
    .cluster_names() -> [names]                # the clusters it has now (dmaas monitor)
    .bucket_profile(name) -> BucketProfile; .profile_buckets
    .now(); .advance(seconds, until=None)
    .cut_cluster/restore_cluster(name); .cut_bucket/restore_bucket(profile, bucket=None)
    .set_quota(profile, bucket, bytes_or_None); .corrupt(profile, bucket, key)
    .metrics(); .stop()

What a target cannot do raises runner.errors.Unsupported(reason) (steps
skip the scenario with it); bad input and unreachable endpoints raise
TargetError (one line naming file, field or endpoint).
"""
from __future__ import annotations

import dataclasses
import datetime

from runner.errors import TargetError, Unsupported
from runner.versions import describe, matches

ACTIONS = ("serve_engine", "ensure_cluster", "create_cluster", "destroy_cluster", "cut_cluster", "restore_cluster",
           "cut_bucket", "restore_bucket", "set_quota", "corrupt")
CLUSTER_FAULTS = ("cut_cluster", "restore_cluster")
BUCKET_FAULTS = ("cut_bucket", "restore_bucket", "set_quota", "corrupt")


@dataclasses.dataclass(frozen=True)
class ClusterInfo:
    name: str
    kubeconfig: str
    context: str
    version: str | None = None
    velero_version: str | None = None
    created: bool = False           # True if ensure_cluster created it just now

    @classmethod
    def of(cls, name, entry, created):
        """From a lab.json / stack.json cluster entry."""
        return cls(name=name, kubeconfig=entry["kubeconfig"], context=entry["context"],
                   version=entry.get("version"), velero_version=entry.get("velero_version"), created=created)


@dataclasses.dataclass(frozen=True)
class BucketOptions:
    """What a bucket's endpoint needs beyond its URL (a real target profile's
    bucket fields): passed to the BSL (runner/dmaas/locations.py) and to the
    clients (runner/driver/buckets.py)."""
    ca_bundle: str | None = None            # PEM file: the endpoint's own CA
    insecure_skip_tls_verify: bool = False
    checksum_algorithm: str | None = None   # the AWS plugin's checksumAlgorithm ("" turns checksums off)
    path_style: bool = True                 # path-style addressing (S3-compatible endpoints need it)


@dataclasses.dataclass(frozen=True)
class BucketProfile:
    name: str
    client: str                     # "minio" | "boto3"
    endpoint: str
    region: str
    bucket: str
    access_key: str = dataclasses.field(repr=False)
    secret_key: str = dataclasses.field(repr=False)
    options: BucketOptions = BucketOptions()

    def __str__(self):
        return f"{self.name} ({self.client} {self.endpoint}/{self.bucket})"


@dataclasses.dataclass
class Findings:
    """What a preflight found, one line each: problems stop the run; warnings
    are said and the run goes on; skips are what the run would skip for want
    of something (`dmaas validate --target` reports them as problems)."""
    problems: list = dataclasses.field(default_factory=list)
    warnings: list = dataclasses.field(default_factory=list)
    skips: list = dataclasses.field(default_factory=list)


class Worker:
    """What start_for_worker started for one behave process: its environment and how to stop it."""

    def __init__(self, env, stop):
        self.env = env
        self.stop = stop


class Target:
    kind = None
    makes_storage_classes = False   # only where the run has the clusters to itself
    cluster_faults = False          # cut / reconnect a cluster's API
    bucket_faults = False           # cut, quota, corrupt a bucket (the lab's S3 proxy)
    # real seconds between two passes of Velero's garbage collector: how long an
    # expired backup may still be there (the lab's collects at expiration itself)
    velero_gc_period = 0.0

    def __init__(self, name):
        self.name = name
        self.velero_namespace = "velero"
        self.time_scale = 1.0
        self.unsupported_engines = {}      # engine name -> why this target cannot serve it (profile)
        # whether scenario time passes while steps work (real clocks) or stands still (the lab's)
        self.real_time = False

    # ------------------------------------------------------------ before the run
    @classmethod
    def parallel_safe(cls, profile) -> bool:
        return False

    @classmethod
    def start_for_worker(cls, profile, out_dir, root):
        return None

    @classmethod
    def preflight(cls, profile, root, selection) -> Findings:
        """Of every kind: the engines the selected scenarios use that the
        profile says it cannot serve (`dmaas run` skips their scenarios)."""
        from runner import catalogues, features
        used = set(catalogues.engines(root)) & features.quoted_names(root, selection)
        unsupported = profile.data.get("unsupported_engines") or {}
        return Findings(skips=[f"{profile.path}: unsupported_engines.{engine}: the selected scenarios use engine "
                               f"{engine}, which this target cannot serve ({unsupported[engine]}); `dmaas run` "
                               f"skips them" for engine in sorted(used & set(unsupported))])

    @classmethod
    def after_run(cls, profile, run_dir, run_id) -> list:
        return []

    @classmethod
    def open(cls, profile, state_dir=None):
        raise NotImplementedError

    # ------------------------------------------------------------ what it can do
    def name_prefix(self, scenario_id) -> str:
        return ""

    def cannot(self, action, name=None):
        """Why this target cannot do `action` (ACTIONS) for `name`, or None."""
        if action == "serve_engine" and name in self.unsupported_engines:
            return f"target '{self.name}' cannot serve engine '{name}': {self.unsupported_engines[name]}"
        if action in CLUSTER_FAULTS and not self.cluster_faults:
            return f"target '{self.name}' ({self.kind}) cannot cut off or reconnect a cluster: its clusters' " \
                   f"connections are not ours to break"
        if action in BUCKET_FAULTS and not self.bucket_faults:
            return f"target '{self.name}' ({self.kind}) cannot cut, fill or corrupt a bucket: faults need the " \
                   f"lab's S3 proxy"
        return None

    def _can(self, action, name=None):
        reason = self.cannot(action, name)
        if reason:
            raise Unsupported(reason)

    def check_engine(self, name):
        """Unsupported with the profile's reason when this target cannot serve
        the storage engine `name` (a real target without OpenEBS cStor, ...)."""
        self._can("serve_engine", name)

    def check_versions(self, name, found, version, velero_version):
        """Unsupported unless the versions `found` ({"version", "velero_version"}) are those asked for."""
        wanted = [(what, found.get(field), asked) for field, what, asked in
                  (("version", "Kubernetes", version), ("velero_version", "DMaaS (Velero)", velero_version))
                  if asked]
        wrong = [(what, have, asked) for what, have, asked in wanted if not matches(have, asked)]
        if wrong:
            raise Unsupported(f"target '{self.name}' cluster '{name}' runs "
                              + " with ".join(f"{what} {have}" for what, have, _ in wanted)
                              + ", the scenario needs " + " with ".join(f"{what} {describe(asked)}"
                                                                       for what, _, asked in wanted))

    # ------------------------------------------------------------ clusters
    def ensure_cluster(self, name, version=None, velero_version=None, owner=None):
        raise NotImplementedError

    def create_cluster(self, name, version=None, velero_version=None, owner=None):
        self._can("create_cluster", name)
        raise NotImplementedError

    def destroy_cluster(self, name):
        self._can("destroy_cluster", name)
        raise NotImplementedError

    def cluster_names(self):
        return []

    # ------------------------------------------------------------ buckets
    def bucket_profile(self, name):
        raise NotImplementedError

    @property
    def profile_buckets(self):
        """Names of the bucket profiles this target has."""
        raise NotImplementedError

    # ------------------------------------------------------------ clock
    def now(self):
        return datetime.datetime.now(datetime.timezone.utc)

    def advance(self, seconds, until=None):
        """Move scenario time by `seconds`; a waiting target waits until the
        monotonic time `until` instead when given (runner.driver.clock.Passage)."""
        raise NotImplementedError

    # ------------------------------------------------------------ faults
    def cut_cluster(self, name):
        self._can("cut_cluster", name)

    def restore_cluster(self, name):
        self._can("restore_cluster", name)

    def cut_bucket(self, profile, bucket=None):
        self._can("cut_bucket", profile)

    def restore_bucket(self, profile, bucket=None):
        self._can("restore_bucket", profile)

    def set_quota(self, profile, bucket, limit):
        self._can("set_quota", profile)

    def corrupt(self, profile, bucket, key):
        self._can("corrupt", profile)

    def metrics(self):
        """What the target counted of its own work (the lab's GET /metrics),
        for bench/suite.py; None where the target counts nothing."""
        return None

    def stop(self):
        pass


__all__ = ["ACTIONS", "BucketOptions", "BucketProfile", "ClusterInfo", "Findings", "Target", "TargetError",
           "Unsupported", "Worker"]
