"""Storage engines (scenarios/engines.yaml of the project that runs):
which StorageClass a scenario's volumes use and how their data is backed up.

    engines() -> {name: Engine}
    engine(name) -> Engine                     # KeyError names the known engines
    Engine.name, .title, .storage_class, .provisioner, .parameters, .annotations,
    Engine.volume ("csi" | "local" | "hostpath"),
    Engine.backup ("snapshot" | "fs"), Engine.snapshots (bool: snapshot chains, F + I...)
    Engine.ensure_storage_class(cluster) -> dict   # the class on that cluster (created if missing)
"""
import dataclasses

from runner.target import engine_catalogue


@dataclasses.dataclass(frozen=True)
class Engine:
    name: str
    title: str
    storage_class: str
    provisioner: str
    parameters: dict
    backup: str
    volume: str
    annotations: dict = dataclasses.field(default_factory=dict)

    @property
    def snapshots(self):
        """Snapshot engines (cStor) back up volumes as snapshot chains; the
        others by file-system backup (restic)."""
        return self.backup == "snapshot"

    def storage_class_manifest(self):
        metadata = {"name": self.storage_class}
        if self.annotations:
            metadata["annotations"] = dict(self.annotations)
        manifest = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": metadata,
                    "provisioner": self.provisioner, "reclaimPolicy": "Delete"}
        if self.parameters:
            manifest["parameters"] = {k: str(v) for k, v in self.parameters.items()}
        return manifest

    def ensure_storage_class(self, cluster):
        existing = cluster.get("storage.k8s.io/v1", "StorageClass", self.storage_class)
        if existing is not None:
            if existing.get("provisioner") != self.provisioner:
                raise AssertionError(f"cluster {cluster.name}: StorageClass {self.storage_class} has "
                                     f"provisioner {existing.get('provisioner')}, engine {self.name} "
                                     f"expects {self.provisioner}")
            return existing
        return cluster.apply(self.storage_class_manifest())


def engines(root=None):
    """The engines of scenarios/engines.yaml of `root` (else of the project that runs)."""
    found = {}
    for name, entry in engine_catalogue(root).items():
        found[name] = Engine(name=name, title=entry.get("title", name),
                             storage_class=entry["storage_class"], provisioner=entry["provisioner"],
                             parameters=entry.get("parameters") or {}, backup=entry["backup"],
                             annotations=entry.get("annotations") or {}, volume=entry["volume"])
    return found


def engine(name, root=None):
    known = engines(root)
    if name not in known:
        raise KeyError(f"scenarios/engines.yaml: no engine '{name}' (known: {', '.join(sorted(known))})")
    return known[name]
