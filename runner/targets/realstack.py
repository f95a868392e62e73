"""`kind: realstack`: the built-in real stack (runner/realstack), real
Kubernetes and Velero on this machine, reached like any real cluster through
kubeconfigs and S3 endpoints, through Stack's public methods only (up,
add_cluster, remove_cluster, down, state). Unlike a real target it starts
clusters on demand (a scenario that names a new cluster gets one) and can
cut, fill or corrupt its buckets, whose S3 is the lab's; time is real,
scaled by the profile's time_scale. The run has it to itself: names carry
no prefix.

It attaches to a stack in $DMAAS_REALSTACK_DIR when one runs there
(`dmaas realstack up`); otherwise it starts one in `state_dir` (by default
the run's report dir) and stops it in stop(); `dmaas run` stops one behave
left running (after_run)."""
from __future__ import annotations

import os
import pathlib
import sys
import tempfile

from runner.errors import TargetError, Unsupported
from runner.realstack import build, stack
from runner.targets.base import ClusterInfo
from runner.targets.control import BucketFaults, ControlClient
from runner.targets.real import RealTarget
from runner.versions import describe, matches, release

REPO = pathlib.Path(__file__).resolve().parents[2]
STACK_DIR = "realstack"         # in the run's report dir


class RealStackTarget(BucketFaults, RealTarget):
    kind = "realstack"
    velero_gc_period = float(stack.GC_FREQUENCY_SECONDS)

    def __init__(self, profile, state_dir=None):
        super().__init__(profile, state_dir)
        self.velero_namespace = stack.VELERO_NAMESPACE
        self._versions = build.versions(REPO)
        attached = os.environ.get("DMAAS_REALSTACK_DIR")
        if attached and (pathlib.Path(attached) / "stack.json").is_file():
            self.stack, self.owned = stack.Stack(REPO, attached), False
        else:
            where = state_dir or (pathlib.Path(os.environ["DMAAS_REPORT_DIR"]) / STACK_DIR
                                  if os.environ.get("DMAAS_REPORT_DIR") else tempfile.mkdtemp(prefix="dmaas-rs-"))
            self.stack, self.owned = stack.Stack(REPO, where), True
            print(f"[realstack] starting S3 in {self.stack.dir} (clusters start as scenarios name them)",
                  file=sys.stderr, flush=True)
            try:
                self.stack.up(clusters=[])
            except stack.StackError as error:
                raise TargetError(f"{self.path}: the real stack did not start: {error}") from None
        state = self.stack.state()
        self.buckets_from_state(state["s3"])
        self.control = ControlClient(state["s3_control"])   # bucket faults only

    @classmethod
    def after_run(cls, profile, run_dir, run_id):
        """behave stops the real stack it started in the run dir (after_all); one
        it could not stop (killed, or its cleanup cut short) is stopped here."""
        left = pathlib.Path(run_dir) / STACK_DIR
        if (left / "processes.json").is_file():
            print("stopping the real stack behave left running", file=sys.stderr)
            stack.Stack(REPO, left).down()
        return []

    def name_prefix(self, scenario_id):
        return ""

    def cannot(self, action, name=None):
        if action in ("ensure_cluster", "create_cluster", "destroy_cluster"):
            return None
        return super(RealTarget, self).cannot(action, name)

    def cluster_names(self):
        return sorted(self.stack.state()["clusters"])

    def _entry(self, name):
        return self.stack.state()["clusters"].get(name)

    def _releases(self, name, version, velero_version):
        """The built Kubernetes and Velero releases cluster `name` gets: the
        newest built one matching what its step names (default: the current
        set's); Unsupported when none is built."""
        chosen = []
        for component, what, wanted in (("K8S", "Kubernetes", version), ("VELERO", "Velero", velero_version)):
            built = sorted(build.releases(self._versions, component), key=release, reverse=True)
            current = self._versions[f"{component}_VERSION"].lstrip("v")
            fitting = [r for r in built if matches(r, wanted)] if wanted else [current]
            if not fitting:
                raise Unsupported(f"target '{self.name}' builds {what} {' and '.join(built)} only "
                                  f"(realstack/versions.env); cluster '{name}' needs {what} {describe(wanted)}")
            chosen.append(fitting[0])
        return chosen

    def _start(self, name, kubernetes, velero):
        print(f"[realstack] starting cluster {name} (Kubernetes {kubernetes}, Velero {velero})",
              file=sys.stderr, flush=True)
        try:
            return self.stack.add_cluster(name, kubernetes=kubernetes, velero=velero)
        except stack.StackError as error:
            raise TargetError(f"{self.path}: cluster {name} did not start: {error}") from None

    def ensure_cluster(self, name, version=None, velero_version=None, owner=None):
        kubernetes, velero = self._releases(name, version, velero_version)
        entry = self._entry(name)
        if entry is None:
            return ClusterInfo.of(name, self._start(name, kubernetes, velero), created=True)
        if (version and not matches(entry["version"], version)) or \
                (velero_version and not matches(entry["velero_version"], velero_version)):
            raise TargetError(f"target '{self.name}': cluster '{name}' already runs Kubernetes {entry['version']} "
                              f"with Velero {entry['velero_version']}; the scenario needs Kubernetes {kubernetes} "
                              f"with Velero {velero} (`dmaas realstack cluster remove {name}` frees the name)")
        return ClusterInfo.of(name, entry, created=False)

    def create_cluster(self, name, version=None, velero_version=None, owner=None):
        kubernetes, velero = self._releases(name, version, velero_version)
        if self._entry(name) is not None:
            raise TargetError(f"target '{self.name}': cluster '{name}' already runs")
        return ClusterInfo.of(name, self._start(name, kubernetes, velero), created=True)

    def destroy_cluster(self, name):
        try:
            self.stack.remove_cluster(name)
        except stack.StackError as error:
            raise TargetError(f"target '{self.name}': {error}") from None

    def stop(self):
        if self.owned:
            self.stack.down()
