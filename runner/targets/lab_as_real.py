"""`kind: lab-as-real`: the lab reached through the real-target code path.
Clusters and buckets come from a running lab's lab.json ($DMAAS_LAB_STATE;
without it, the profile's `lab:` section is started for the run), the S3
keys are exported into environment variables and read back from there, the
clusters are the lab's fixed set (a cluster entry may name one:
`{lab_cluster: X}`), names carry the scenario's prefix and cleanup goes by
label, all as on real clusters. One thing differs, so a run takes seconds:
time is the lab's virtual clock, advanced through its control API."""
from __future__ import annotations

import os

from runner.errors import TargetError
from runner.targets.control import CONTROL_TIMEOUT, ControlClient
from runner.targets.lab import read_lab_state, start_lab
from runner.targets.real import RealTarget
from runner.times import parse_time


class LabAsRealTarget(RealTarget):
    kind = "lab-as-real"
    hooks_allowed = False
    velero_gc_period = 0.0          # the lab's collector deletes a backup as it expires

    def __init__(self, profile, state_dir=None):
        super().__init__(profile, state_dir)
        self.real_time = False
        self.time_scale = 1.0
        self._lab = None            # a lab this target started (no $DMAAS_LAB_STATE)
        state_path = os.environ.get("DMAAS_LAB_STATE")
        if state_path:
            try:
                state = read_lab_state(state_path).state
            except Exception as error:   # noqa: BLE001 -- lab.process's one-line reason
                raise TargetError(f"{self.path}: DMAAS_LAB_STATE: {error}") from None
        else:
            self._lab = start_lab(profile.data.get("lab"), state_dir)
            state = self._lab.state
        lab_clusters = {name: {"kubeconfig": entry["kubeconfig"], "context": entry["context"],
                               "version": entry.get("version"), "velero_version": entry.get("velero_version")}
                        for name, entry in state.get("clusters", {}).items()}
        listed, self._clusters = self._clusters, {name: [entry] for name, entry in lab_clusters.items()}
        for name, entries in listed.items():
            self._clusters[name] = [self._lab_cluster(name, entry, lab_clusters) for entry in entries]
        self.buckets_from_state(state.get("s3", {}))
        self._clock = ControlClient(state["control"])

    @classmethod
    def parallel_safe(cls, profile):
        """Each worker's behave starts a lab of its own, unless one is given."""
        return "DMAAS_LAB_STATE" not in os.environ

    @classmethod
    def after_run(cls, profile, run_dir, run_id):
        return []           # its lab went with behave (or is the caller's)

    def _lab_cluster(self, name, entry, lab_clusters):
        if "lab_cluster" not in entry:
            return entry
        found = lab_clusters.get(entry["lab_cluster"])
        if found is None:
            raise TargetError(f"{self.path}: clusters.{name}.lab_cluster: the lab has no cluster "
                              f"'{entry['lab_cluster']}' (it has: {', '.join(sorted(lab_clusters)) or 'none'})")
        return found

    def now(self):
        return parse_time(self._clock.call("GET", "/clock")["now"])

    def advance(self, seconds, until=None):
        reply = self._clock.call("POST", "/clock/advance", {"seconds": seconds}, timeout=CONTROL_TIMEOUT)
        return parse_time(reply["now"])

    def stop(self):
        super().stop()
        if self._lab is not None:
            self._lab.stop()
