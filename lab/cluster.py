"""Cluster: one lab Kubernetes cluster (API server, object store, resource
registry, controllers, node directory and kubeconfig)."""
import hashlib
import importlib
import shutil
from pathlib import Path

from lab.apiserver import ApiServer, ObjectStore, ResourceRegistry, write_kubeconfig
from lab.controllers import namespaces, storage, workloads
from lab.faults import Faults
from lab.install import install
from lab.runtime import PodRuntime


class Cluster:
    def __init__(self, lab, name, version, velero_version, cluster_dir, host="127.0.0.1"):
        self.lab = lab              # for the S3 endpoints and the clock
        self.engines = lab.config.engines     # name -> lab.config.EngineSpec: classes, PV shapes, backup kind
        self.name = name
        self.version = version
        self.velero_version = velero_version
        self.dir = Path(cluster_dir)
        self.node_dir = self.dir / "node"
        self.kubeconfig = self.dir / "kubeconfig"
        self.node_name = f"{name}-node"
        self.node_ip = "10.89.0.2"
        self.clock = lab.clock
        self.store = ObjectStore(self.clock)
        self.registry = ResourceRegistry(version)
        self.faults = Faults()
        self.runtime = PodRuntime(self)
        self.server = ApiServer(name, self.store, self.registry, exec_handler=self.runtime,
                                faults=self.faults, host=host, port=0)
        self.server_url = None
        self.controllers = []

    def start(self):
        self.node_dir.mkdir(parents=True, exist_ok=True)
        self.server_url = self.server.start()
        # The API server does not authenticate; the kubeconfig's token only
        # makes it look like any other to kubectl and the client.
        write_kubeconfig(self.kubeconfig, self.server_url, self.name)
        install(self)
        self.controllers = (workloads.controllers(self)
                            + [storage.StorageController(self), namespaces.NamespaceController(self),
                               namespaces.GarbageCollector(self)]
                            + velero_controllers(self, self.lab))
        return self

    def stop(self):
        self.server.stop()

    def destroy(self):
        """Stop serving and remove everything on disk ("the cluster is gone")."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def pod_ip(self, uid):
        digest = hashlib.sha256(uid.encode()).digest()
        return f"10.244.{digest[0]}.{digest[1] % 254 + 1}"

    def state(self):
        """This cluster's lab.json entry."""
        return {"server": self.server_url, "kubeconfig": str(self.kubeconfig), "context": self.name,
                "version": self.version, "velero_version": self.velero_version,
                "node_dir": str(self.node_dir)}


def velero_controllers(cluster, lab):
    """The Velero controllers of lab/velero, if that package is there."""
    try:
        velero = importlib.import_module("lab.velero")
    except ModuleNotFoundError as error:
        if error.name != "lab.velero":
            raise
        return []
    factory = getattr(velero, "controllers", None)
    return list(factory(cluster, lab)) if factory else []
