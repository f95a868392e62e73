"""Targets: where scenarios run. One module per kind, one interface
(runner/targets/base.py), and this registry from a profile's `kind:` to its
class; nothing outside this package asks which kind a target is.

    lab           runner/targets/lab.py          the embedded lab (the default)
    lab-as-real   runner/targets/lab_as_real.py  the lab through the real-target code path
    realstack     runner/targets/realstack.py    real Kubernetes and Velero built on this machine
    real          runner/targets/real.py         a team's own clusters and buckets

    load_profile(name_or_path) -> runner.scenarios.Profile   # TargetError on bad input
    target_class(profile) -> the Target class of its kind
    open_target(profile, state_dir=None) -> Target           # starts or attaches (behave's before_all)
    attach_lab(state_path, name="lab") -> LabTarget          # a lab started elsewhere (dmaas monitor)

A profile is `scenarios/targets/<name>.yaml` (schemas/target.schema.json;
README "Running against real clusters" says what each field means).
HACKING.md, "Targets", says how to add a kind.
"""
from __future__ import annotations

from runner import catalogues, scenarios
from runner.errors import TargetError, Unsupported, UserError
from runner.targets.base import BucketOptions, BucketProfile, ClusterInfo, Findings, Target
from runner.targets.lab import LabTarget
from runner.targets.lab_as_real import LabAsRealTarget
from runner.targets.real import RealTarget
from runner.targets.realstack import RealStackTarget

KINDS = {cls.kind: cls for cls in (LabTarget, LabAsRealTarget, RealStackTarget, RealTarget)}


def load_profile(name_or_path):
    """A target profile by name or path, read and validated by the one
    loader (runner.scenarios.load_target_profile); TargetError names file and field."""
    try:
        return scenarios.load_target_profile(catalogues.project_root(), name_or_path)
    except UserError as error:
        raise TargetError(error.message) from None


def target_class(profile):
    kind = profile.kind
    if kind not in KINDS:
        raise TargetError(f"{profile.path}: kind: unknown kind {kind!r} (known: {', '.join(sorted(KINDS))})")
    return KINDS[kind]


def open_target(profile, state_dir=None):
    """The Target a profile describes, started or attached to."""
    return target_class(profile).open(profile, state_dir)


def attach_lab(state_path, name="lab"):
    return LabTarget.attach(state_path, name)


__all__ = ["BucketOptions", "BucketProfile", "ClusterInfo", "Findings", "KINDS", "Target", "TargetError",
           "Unsupported", "attach_lab", "load_profile", "open_target", "target_class"]
