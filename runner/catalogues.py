"""The bucket and engine catalogues (scenarios/buckets.yaml, engines.yaml)
as typed entries, read once per project and file version.

    buckets(root=None) -> {name: BucketEntry}
    engines(root=None) -> {name: Engine}
    lab_config(section, root=None) -> dict     # a profile's `lab:` as lab.process.start takes it

`root` is a project root; by default the project whose scenarios run
(`$DMAAS_PROJECT_ROOT`, set by `dmaas run --root`, else this checkout).
The files were validated against their schemas by runner.scenarios; a
missing or malformed one is a TargetError naming it.
"""
from __future__ import annotations

import dataclasses
import os
import pathlib

from runner import scenarios
from runner.errors import TargetError, UserError

REPO = pathlib.Path(__file__).resolve().parents[1]
# what the lab provisions an engine from (its title is for people)
LAB_ENGINE_FIELDS = ("storage_class", "provisioner", "parameters", "annotations", "volume", "backup")


def project_root(root=None) -> pathlib.Path:
    """The project whose scenarios run: `dmaas run --root` passes it to behave."""
    return pathlib.Path(root or os.environ.get("DMAAS_PROJECT_ROOT") or REPO).resolve()


@dataclasses.dataclass(frozen=True)
class BucketEntry:
    name: str
    title: str
    client: str                 # "minio" | "boto3"
    bucket: str
    region: str = "us-east-1"


@dataclasses.dataclass(frozen=True)
class Engine:
    name: str
    title: str
    storage_class: str
    provisioner: str
    volume: str                 # "csi" | "local" | "hostpath": how its PVs reach their data
    backup: str                 # "snapshot" | "fs": how Velero backs a volume up
    parameters: dict = dataclasses.field(default_factory=dict)
    annotations: dict = dataclasses.field(default_factory=dict)

    @property
    def snapshots(self) -> bool:
        """Snapshot engines (cStor) back up volumes as snapshot chains; the
        others by Velero's file-system backup (node-agent)."""
        return self.backup == "snapshot"

    def lab_spec(self) -> dict:
        return {key: getattr(self, key) for key in LAB_ENGINE_FIELDS if getattr(self, key) not in ({}, None)}

    def storage_class_manifest(self) -> dict:
        metadata = {"name": self.storage_class}
        if self.annotations:
            metadata["annotations"] = dict(self.annotations)
        manifest = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": metadata,
                    "provisioner": self.provisioner, "reclaimPolicy": "Delete"}
        if self.parameters:
            manifest["parameters"] = {k: str(v) for k, v in self.parameters.items()}
        return manifest


_CACHE: dict = {}       # (path, mtime_ns) -> entries


def _entries(name, root):
    path = project_root(root) / "scenarios" / f"{name}.yaml"
    try:
        key = (str(path), path.stat().st_mtime_ns)
    except OSError:
        raise TargetError(f"{path}: missing") from None
    if key not in _CACHE:
        try:
            data = scenarios.load_yaml(path.parent.parent, f"scenarios/{path.name}") or {}
        except UserError as error:
            raise TargetError(error.message) from None
        _CACHE[key] = data.get(name, data)
    return _CACHE[key]


def buckets(root=None) -> dict[str, BucketEntry]:
    """scenarios/buckets.yaml: profile -> BucketEntry."""
    return {name: BucketEntry(name=name, title=entry.get("title", name), client=entry.get("client", "boto3"),
                              bucket=entry["bucket"], region=entry.get("region") or "us-east-1")
            for name, entry in _entries("buckets", root).items()}


def engines(root=None) -> dict[str, Engine]:
    """scenarios/engines.yaml: engine -> Engine."""
    return {name: Engine(name=name, title=entry.get("title", name), storage_class=entry["storage_class"],
                         provisioner=entry["provisioner"], volume=entry["volume"], backup=entry["backup"],
                         parameters=dict(entry.get("parameters") or {}),
                         annotations=dict(entry.get("annotations") or {}))
            for name, entry in _entries("engines", root).items()}


def engine(name, root=None) -> Engine:
    known = engines(root)
    if name not in known:
        raise KeyError(f"scenarios/engines.yaml: no engine '{name}' (known: {', '.join(sorted(known))})")
    return known[name]


def lab_config(section, root=None) -> dict:
    """A profile's `lab:` section as lab.process.start takes it: without an
    `s3` list, the lab serves every bucket profile of scenarios/buckets.yaml
    (one S3 endpoint each); without an `engines` list, every engine of
    scenarios/engines.yaml (a list names some), each passed as the entry the
    lab provisions from. So a new entry in either needs no other change."""
    config = dict(section or {})
    config.setdefault("s3", list(buckets(root)))
    known = engines(root)
    names = config.get("engines")
    unknown = sorted(set(names or ()) - set(known))
    if unknown:
        raise TargetError(f"lab.engines: no engine '{unknown[0]}' in scenarios/engines.yaml "
                          f"(known: {', '.join(known)})")
    config["engines"] = {name: known[name].lab_spec() for name in (known if names is None else names)}
    return config
