"""`kind: real`: clusters and buckets a team owns, usually shared with other
teams. Clusters are kubeconfig contexts named by the profile (several per
name: the first running the versions a scenario asks for), or clusters the
profile's lifecycle hooks create on demand; buckets are endpoints whose
credentials come from the environment; time is waited for, scaled.

A run shares these clusters, so every name a scenario gives gets the
scenario's prefix (`name_prefix`, default `dmaas-`, then the scenario's id)
and everything made carries the run's labels (runner/driver/isolation.py);
after the run, whatever still carries its run label is swept away, with the
clusters its hooks created (also when behave was stopped by a signal)."""
from __future__ import annotations

import dataclasses
import datetime
import json
import os
import pathlib
import sys
import time

import yaml

from runner import catalogues
from runner.driver.isolation import RUN_LABEL, label_value
from runner.errors import TargetError, Unsupported
from runner.targets import inspect, lifecycle
from runner.targets.base import BucketOptions, BucketProfile, ClusterInfo, Findings, Target
from runner.versions import describe, matches, normalize, parse_wanted

DEFAULT_GC_PERIOD = 3600.0          # velero server --garbage-collection-frequency's default
RECORD = "target-record.jsonl"      # in the run's report dir: clusters and buckets reached, clusters made
QUIET_WAIT = 10.0                   # real seconds: a shorter wait (a poll's nudge) is not announced


class RealTarget(Target):
    kind = "real"
    hooks_allowed = True            # a profile of this kind may give lifecycle hooks

    def __init__(self, profile, state_dir=None):
        super().__init__(profile.name)
        self.profile = profile
        self.path = profile.path
        data = profile.data
        self.velero_namespace = data.get("velero_namespace", "velero")
        self.time_scale = float(data.get("time_scale", 1.0))
        self.unsupported_engines = dict(data.get("unsupported_engines") or {})
        self.real_time = True
        self._gc_profile = data.get("velero_gc_period")
        self.gc_read = {}           # cluster name -> seconds its server's arguments say
        self._gc_asked = set()
        self.hooks = lifecycle.hooks(self.path, data)
        self._created = {}          # scenario cluster name -> ClusterInfo of a cluster the hooks made
        self._real_names = {}       # scenario cluster name -> the name the hooks made it under
        self._noted = set()         # what _note wrote already
        self._clusters = {}         # scenario cluster name -> [candidate entries]
        self._buckets = {}
        for name, entries in (data.get("clusters") or {}).items():
            self._clusters[name] = entries if isinstance(entries, list) else [entries]
        self._buckets.update(data.get("buckets") or {})

    # ------------------------------------------------------------ before the run
    @classmethod
    def open(cls, profile, state_dir=None):
        return cls(profile, state_dir)

    @classmethod
    def preflight(cls, profile, root, selection):
        from runner.targets import preflight
        findings = super().preflight(profile, root, selection)
        target = cls.open(profile)
        try:
            found = preflight.check(target, root, selection)
        finally:
            target.stop()
        return Findings(findings.problems + found.problems, findings.warnings + found.warnings,
                        findings.skips + found.skips)

    @classmethod
    def after_run(cls, profile, run_dir, run_id):
        """Whatever the run made that is still there: its labelled objects on
        the profile's clusters, its prefix in the buckets, the clusters its
        hooks created and did not destroy (a run stopped by a signal)."""
        target = cls.open(profile)
        try:
            return target.sweep(run_id, pathlib.Path(run_dir))
        finally:
            target.stop()

    # ------------------------------------------------------------ isolation, abilities
    @property
    def velero_gc_period(self):
        """Seconds an expired backup may still be listed: the longest period the
        clusters' servers say, else the profile's, else Velero's default."""
        if self.gc_read:
            return max(self.gc_read.values())
        return float(self._gc_profile if self._gc_profile is not None else DEFAULT_GC_PERIOD)

    def name_prefix(self, scenario_id):
        return f"{self.profile.data.get('name_prefix', 'dmaas-')}{scenario_id}-"

    def _read_gc(self, name):
        """The garbage-collection frequency the servers of the clusters under
        `name` show in their arguments (once; nothing when they show none)."""
        if name in self._clusters and name not in self._gc_asked:
            self._gc_asked.add(name)
            prefix, found = self.profile.data.get("name_prefix", "dmaas-"), []
            try:
                infos = self.infos(name)
            except TargetError:        # e.g. its kubeconfig variable unset: the scenario's first step says so
                return
            for info in infos:
                try:
                    found.append(inspect.gc_frequency(inspect.client(info, self.velero_namespace, prefix, retries=0)))
                except Exception:   # noqa: BLE001 -- an unusable kubeconfig: the scenario's first step says why
                    continue
            found = [seconds for seconds in found if seconds is not None]
            if found:
                self.gc_read[name] = max(found)

    def cannot(self, action, name=None):
        if action == "ensure_cluster":
            self._read_gc(name)        # before a scenario's real-time checks (real_time.py) use it
        listed = name in self._clusters
        if action == "ensure_cluster" and not listed and not self.hooks and name not in self._created:
            return (f"target '{self.name}' has no cluster '{name}' (it has: "
                    f"{', '.join(sorted(self._clusters)) or 'none'}) and no lifecycle hooks to create one")
        if action in ("create_cluster", "destroy_cluster"):
            verb = "create" if action == "create_cluster" else "destroy"
            if listed and name not in self._created:
                return (f"cluster '{name}' of target '{self.name}' is one of its profile's shared clusters: a run "
                        f"{verb}s only clusters it creates itself"
                        + (f" (leave '{name}' out of clusters: and give lifecycle hooks)" if self.hooks_allowed
                           else ""))
            if not self.hooks:
                return (f"target '{self.name}' cannot {verb} cluster '{name}': its profile has no lifecycle hooks "
                        f"(lifecycle.create / lifecycle.destroy)")
        return super().cannot(action, name)

    # ------------------------------------------------------------ clusters
    def cluster_names(self):
        return sorted(set(self._clusters) | set(self._created))

    def _info(self, name, entry):
        kubeconfig = entry.get("kubeconfig")
        if entry.get("kubeconfig_env"):
            kubeconfig = os.environ.get(entry["kubeconfig_env"])
            if not kubeconfig:
                raise TargetError(f"{self.path}: clusters.{name}.kubeconfig_env: "
                                  f"${entry['kubeconfig_env']} is not set")
        kubeconfig = os.path.expanduser(kubeconfig or "~/.kube/config")
        stated = entry.get("version"), entry.get("velero_version")
        # a release the profile states is taken as said; a minor or minimum is checked against the cluster
        known = [v if v and (w := parse_wanted(v)) and len(w.version) == 3 and not w.minimum else None
                 for v in stated]
        return ClusterInfo(name=name, kubeconfig=kubeconfig, context=entry.get("context") or name,
                           version=known[0], velero_version=known[1])

    def infos(self, name):
        """Every cluster the profile lists under `name` (ClusterInfo each)."""
        return [self._info(name, entry) for entry in self._clusters.get(name, [])]

    def discover(self, info, field):
        """The version a cluster reports: its API server's release, or its
        Velero server's own version (a ServerStatusRequest)."""
        try:
            cluster = inspect.client(info, self.velero_namespace, self.profile.data.get("name_prefix", "dmaas-"))
            if field == "version":
                return cluster.version()
            return normalize(inspect.server_status(cluster)["serverVersion"])
        except Exception as error:   # unreachable cluster, Velero not answering: no version known
            return f"unknown ({type(error).__name__})"

    def _versions(self, info, version, velero_version):
        """The versions asked about: as the profile states them, else as the cluster reports them."""
        return {field: getattr(info, field) or (self.discover(info, field) if asked else None)
                for field, asked in (("version", version), ("velero_version", velero_version))}

    def ensure_cluster(self, name, version=None, velero_version=None, owner=None):
        if name in self._created:
            return dataclasses.replace(self._created[name], created=False)
        if name not in self._clusters:
            reason = self.cannot("ensure_cluster", name)
            if reason:
                raise Unsupported(reason)
            return self.create_cluster(name, version, velero_version, owner)
        found = []
        self._note("cluster", name, "reached")
        for info in self.infos(name):
            have = self._versions(info, version, velero_version)
            if (not version or matches(have["version"], version)) and \
                    (not velero_version or matches(have["velero_version"], velero_version)):
                return info
            found.append(f"Kubernetes {have['version']}"
                         + (f" with DMaaS (Velero) {have['velero_version']}" if velero_version else ""))
        wanted = f"Kubernetes {describe(version)}" if version else ""
        if velero_version:
            wanted = f"{wanted} with DMaaS (Velero) {describe(velero_version)}".strip()
        raise Unsupported(f"target '{self.name}' cluster '{name}' runs {' / '.join(found)}, "
                          f"the scenario needs {wanted}")

    def create_cluster(self, name, version=None, velero_version=None, owner=None):
        """A new cluster through the profile's hooks, named with the scenario's
        prefix; Velero (the install hook) on it; the versions checked."""
        reason = self.cannot("create_cluster", name)
        if reason:
            raise Unsupported(reason)
        if name in self._created:
            raise TargetError(f"target '{self.name}': cluster '{name}' exists already (this run created it)")
        real = owner.name(name) if owner is not None else name
        kubeconfig = self.hooks.create(real)
        self._note("made", real, "created")
        try:
            context = _current_context(kubeconfig) or real
            info = ClusterInfo(name=name, kubeconfig=kubeconfig, context=context, created=True)
            self.hooks.install(real, kubeconfig, context)
            cluster = inspect.client(info, self.velero_namespace)
            cluster.wait_for(f"the API of new cluster {real} to answer", cluster.reachable, timeout="cluster_wait")
            self.check_versions(name, {"version": self.discover(info, "version") if version else None,
                                       "velero_version": self.discover(info, "velero_version")
                                       if velero_version else None}, version, velero_version)
        except BaseException:
            self._destroy(real)
            raise
        self._created[name], self._real_names[name] = info, real
        return info

    def destroy_cluster(self, name):
        if name not in self._created:
            raise Unsupported(self.cannot("destroy_cluster", name)
                              or f"target '{self.name}': cluster '{name}' was not created by this run")
        self._created.pop(name)
        self._destroy(self._real_names.pop(name))

    def _destroy(self, real):
        self.hooks.destroy(real)
        self._note("made", real, "destroyed")

    def _note(self, what, name, event):
        """What the run reached ("cluster", "bucket": profile names) and which
        clusters the hooks made ("made": their names), in the run's report
        dir: after_run sweeps those and destroys the clusters behave could
        not (it was killed)."""
        report = os.environ.get("DMAAS_REPORT_DIR")
        if report and (what, name, event) not in self._noted:
            self._noted.add((what, name, event))
            with open(pathlib.Path(report) / RECORD, "a", encoding="utf-8") as out:
                out.write(json.dumps({what: name, "event": event}) + "\n")

    def stop(self):
        for name in list(self._created):
            try:
                self.destroy_cluster(name)
            except Exception as error:   # noqa: BLE001 -- say it; after_run tries again
                print(f"[lifecycle] destroying cluster {name} failed: {error}", file=sys.stderr, flush=True)

    # ------------------------------------------------------------ what a run leaves
    def sweep(self, run_id, run_dir):
        """Removes, of what the run's record says it reached, what carries the
        run's label on those clusters and the run's key prefix in those
        buckets, and destroys the clusters the hooks made that nobody
        destroyed; the problems, one line each."""
        from runner.driver import Driver
        record = pathlib.Path(run_dir) / RECORD
        events = [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()] \
            if record.is_file() else []
        problems, made = [], {}
        for event in events:
            if "made" in event:
                made[event["made"]] = event["event"] == "created"
        for real in (name for name, alive in made.items() if alive and self.hooks):
            try:
                self._destroy(real)
            except TargetError as error:
                problems.append(error.message)
        clusters = sorted({e["cluster"] for e in events if "cluster" in e} & set(self._clusters))
        buckets = sorted({e["bucket"] for e in events if "bucket" in e} & set(self._buckets))
        if not clusters and not buckets:
            return problems
        driver = Driver(self, run_id, "sweep")
        driver.scenario_root = driver.run_root
        selector = f"{RUN_LABEL}={label_value(run_id)}"
        for name in clusters:
            for index, info in enumerate(self.infos(name)):
                try:
                    driver.adopt(f"{name}#{index}" if index else name, info, selector)
                except Exception as error:   # noqa: BLE001 -- an unreachable cluster: say so, sweep the rest
                    problems.append(f"sweep of cluster {name} ({info.context}): {' '.join(str(error).split())}")
        problems += driver.cleanup(buckets)
        driver.close()
        return problems

    # ------------------------------------------------------------ buckets
    @property
    def profile_buckets(self):
        return sorted(self._buckets)

    def bucket_profile(self, name):
        entry = self._buckets.get(name)
        if entry is None:
            raise Unsupported(f"target '{self.name}' has no bucket profile '{name}' "
                              f"(it has: {', '.join(sorted(self._buckets)) or 'none'})")
        self._note("bucket", name, "reached")
        keys = {}
        for field in ("access_key_env", "secret_key_env"):
            variable = entry[field]
            if variable not in os.environ:
                raise TargetError(f"{self.path}: buckets.{name}.{field}: ${variable} is not set")
            keys[field] = os.environ[variable]
        ca_bundle = entry.get("ca_bundle")
        if ca_bundle:
            ca_bundle = os.path.expanduser(ca_bundle)
            if not os.path.isfile(ca_bundle):
                raise TargetError(f"{self.path}: buckets.{name}.ca_bundle: {ca_bundle} does not exist")
        options = BucketOptions(ca_bundle=ca_bundle,
                                insecure_skip_tls_verify=bool(entry.get("insecure_skip_tls_verify", False)),
                                checksum_algorithm=entry.get("checksum_algorithm"),
                                path_style=bool(entry.get("path_style", True)))
        return BucketProfile(name=name, client=entry.get("client", "boto3"), endpoint=entry["endpoint"],
                             region=entry.get("region", "us-east-1"), bucket=entry["bucket"],
                             access_key=keys["access_key_env"], secret_key=keys["secret_key_env"], options=options)

    def buckets_from_state(self, s3):
        """Bucket profiles from a lab.json / stack.json `s3` section, their keys
        exported into environment variables and read back from there as a real
        profile's are."""
        catalogue = catalogues.buckets()
        for name, entry in s3.items():
            access_env, secret_env = f"DMAAS_{name.upper()}_ACCESS_KEY", f"DMAAS_{name.upper()}_SECRET_KEY"
            os.environ[access_env] = entry["access_key"]
            os.environ[secret_env] = entry["secret_key"]
            known = catalogue.get(name)
            self._buckets[name] = {"client": known.client if known else "boto3", "endpoint": entry["endpoint"],
                                   "region": entry.get("region", "us-east-1"),
                                   "bucket": known.bucket if known else f"dmaas-{name}",
                                   "access_key_env": access_env, "secret_key_env": secret_env}

    # ------------------------------------------------------------ clock
    def now(self):
        return datetime.datetime.now(datetime.timezone.utc)

    def advance(self, seconds, until=None):
        deadline = time.monotonic() + seconds * self.time_scale if until is None else until
        wait = max(0.0, deadline - time.monotonic())
        alone = until is None        # a passage of several steps reports its own progress, once a step
        if alone and wait >= QUIET_WAIT:
            print(f"[clock] {seconds:g} s of scenario time = {wait:.0f} s of real waiting "
                  f"(time_scale {self.time_scale:g})", file=sys.stderr, flush=True)
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, 30))
            if alone and left > 30:
                print(f"[clock] {max(0, left - 30):.0f} s left", file=sys.stderr, flush=True)
        return self.now()


def _current_context(kubeconfig):
    try:
        with open(kubeconfig, encoding="utf-8") as file:
            return (yaml.safe_load(file) or {}).get("current-context")
    except (OSError, yaml.YAMLError, AttributeError):
        return None
