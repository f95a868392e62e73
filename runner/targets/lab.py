"""`kind: lab`: the embedded lab, one `python -m lab serve` process reached
through lab.json's URLs; clusters are created and destroyed on demand, time
is its virtual clock, every fault is there. `dmaas run` starts one per
worker (start_for_worker) and behave attaches to it through
$DMAAS_LAB_STATE; plain behave starts its own."""
from __future__ import annotations

import os
import pathlib
import tempfile

import lab.process

from runner import catalogues, features
from runner.errors import TargetError, Unsupported
from runner.targets.base import ClusterInfo, BucketProfile, Target, Worker
from runner.targets.control import CONTROL_TIMEOUT, BucketFaults, ControlClient, dropnone
from runner.times import parse_time
from runner.versions import parse_wanted


def start_lab(section, state_dir=None, root=None):
    """A lab process serving a profile's `lab:` section (runner.catalogues.lab_config); its handle."""
    state_dir = state_dir or tempfile.mkdtemp(prefix="dmaas-lab-")
    try:
        return lab.process.start(catalogues.lab_config(section, root), str(state_dir))
    except lab.process.LabProcessError as error:
        raise TargetError(f"the lab did not start: {error}") from None


def read_lab_state(state_path):
    """lab.json of a running lab (a path to it or to its state dir)."""
    path = pathlib.Path(state_path)
    return lab.process.attach(str(path.parent if path.name == "lab.json" or path.is_file() else path))


class LabTarget(BucketFaults, Target):
    kind = "lab"
    makes_storage_classes = True
    cluster_faults = True

    def __init__(self, name, handle, owned):
        super().__init__(name)
        self.handle = handle
        self.owned = owned
        self.control = ControlClient(handle.state["control"])
        self._buckets = catalogues.buckets()

    # ------------------------------------------------------------ before the run
    @classmethod
    def parallel_safe(cls, profile):
        return True

    @classmethod
    def start_for_worker(cls, profile, out_dir, root):
        handle = start_lab(profile.data.get("lab"), pathlib.Path(out_dir) / "lab", root)
        return Worker({"DMAAS_LAB_STATE": str(pathlib.Path(out_dir) / "lab" / "lab.json")}, handle.stop)

    @classmethod
    def preflight(cls, profile, root, selection):
        """The bucket profiles and engines the selected scenarios name that this lab does not serve."""
        section = profile.data.get("lab") or {}
        names = features.quoted_names(root, selection)
        findings = super().preflight(profile, root, selection)
        for field, used, what in (("s3", set(catalogues.buckets(root)) & names, "bucket profile(s)"),
                                  ("engines", set(catalogues.engines(root)) & names, "engine(s)")):
            served = section.get(field)
            if served is not None and used - set(served):
                every = "every profile of scenarios/buckets.yaml" if field == "s3" else \
                    "every engine of scenarios/engines.yaml"
                findings.problems.append(
                    f"{profile.path}: lab.{field}: the selected scenarios use {what} "
                    f"{', '.join(sorted(used - set(served)))}, which this lab does not serve (it serves: "
                    f"{', '.join(served) or 'none'}; leave {field} out to serve {every})")
        return findings

    @classmethod
    def open(cls, profile, state_dir=None):
        state = os.environ.get("DMAAS_LAB_STATE")
        if state:
            return cls.attach(state, profile.name)
        return cls(profile.name, start_lab(profile.data.get("lab"), state_dir), owned=True)

    @classmethod
    def attach(cls, state_path, name="lab"):
        """A LabTarget on a lab started elsewhere (`dmaas lab up`, `dmaas run`)."""
        try:
            return cls(name, read_lab_state(state_path), owned=False)
        except lab.process.LabProcessError as error:
            raise TargetError(str(error)) from None

    # ------------------------------------------------------------ running
    def state(self):
        return self.control.call("GET", "/state")

    def metrics(self):
        return self.control.call("GET", "/metrics")

    def cluster_names(self):
        return sorted(self.state().get("clusters", {}))

    def create_cluster(self, name, version=None, velero_version=None, owner=None):
        # the lab makes a cluster of one release: a minor or a minimum asked for takes its default
        exact = [v if v and (w := parse_wanted(v)) and len(w.version) == 3 and not w.minimum else None
                 for v in (version, velero_version)]
        entry = self.control.call("POST", "/clusters", dropnone({"name": name, "version": exact[0],
                                                                 "velero_version": exact[1]}))
        try:
            self.check_versions(name, entry, version, velero_version)
        except Unsupported:
            self.destroy_cluster(name)
            raise
        return ClusterInfo.of(name, entry, created=True)

    def ensure_cluster(self, name, version=None, velero_version=None, owner=None):
        entry = self.state().get("clusters", {}).get(name)
        if entry is None:
            return self.create_cluster(name, version, velero_version)
        self.check_versions(name, entry, version, velero_version)
        return ClusterInfo.of(name, entry, created=False)

    def destroy_cluster(self, name):
        self.control.call("DELETE", f"/clusters/{name}")

    @property
    def profile_buckets(self):
        return sorted(set(self.handle.state.get("s3", {})) & set(self._buckets))

    def check_engine(self, name):
        served = self.handle.state.get("engines", {})
        if name not in served:
            raise TargetError(f"engine '{name}': not served by this lab (lab engines: {', '.join(served)}; "
                              f"a lab serves every engine of scenarios/engines.yaml unless its lab.engines "
                              f"lists some)")
        super().check_engine(name)

    def bucket_profile(self, name):
        endpoint = self.handle.state.get("s3", {}).get(name)
        entry = self._buckets.get(name)
        if endpoint is None or entry is None:
            raise TargetError(f"bucket profile '{name}': not served by this lab "
                              f"(lab s3: {', '.join(self.handle.state.get('s3', {}))}; "
                              f"buckets.yaml: {', '.join(self._buckets)})")
        return BucketProfile(name=name, client=entry.client, endpoint=endpoint["endpoint"],
                             region=endpoint.get("region", "us-east-1"), bucket=entry.bucket,
                             access_key=endpoint["access_key"], secret_key=endpoint["secret_key"])

    def now(self):
        return parse_time(self.control.call("GET", "/clock")["now"])

    def advance(self, seconds, until=None):
        reply = self.control.call("POST", "/clock/advance", {"seconds": seconds}, timeout=CONTROL_TIMEOUT)
        return parse_time(reply["now"])

    def cut_cluster(self, name):
        self.control.call("POST", f"/faults/clusters/{name}", {"action": "cut"})

    def restore_cluster(self, name):
        self.control.call("POST", f"/faults/clusters/{name}", {"action": "restore"})

    def stop(self):
        if self.owned:
            self.handle.stop()
