"""A real node for one real-stack cluster: its own containerd (Debian's, with
runc and the CNI plugins), the real kubelet and kube-proxy, all in the
node's network namespace (runner/realstack/network.py), with roots, sockets
and a cgroup root of their own, so two clusters never see each other's
containers, rules or volumes.

    <cluster dir>/node/                the node's files (its home), bind-mounted
                                       (shared) at /run/dmaas/<namespace>/node,
                                       where the node works: kubelet's sockets
                                       under its root dir need a short path, and
                                       volumes kubelet mounts for a pod reach
                                       node-agent's /host_pods (HostToContainer)
        kubelet/                       kubelet's root dir (pods/<uid>/volumes/...)
        volumes/                       where the local-PV provisioner makes volumes
        containerd/, cni/, ...         containerd's root, CNI config
    /run/dmaas/<namespace>/            containerd's sockets and state, runc's root

Pods reach the API server and the S3 endpoints at the stack's address;
kube-proxy's rules turn the `kubernetes` Service into it. Nothing else is
routed (see network.py).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import yaml

from runner import versions
from runner.realstack.network import NodeNet

PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
CNI_BIN = "/usr/lib/cni"
CGROUP_ROOT = Path("/sys/fs/cgroup")
CLUSTER_DOMAIN = "cluster.local"
HOST_PACKAGES = {"containerd": "containerd", "runc": "runc", f"{CNI_BIN}/bridge": "containernetworking-plugins",
                 "iptables": "iptables", "conntrack": "conntrack", "busybox": "busybox-static",
                 "catatonit": "catatonit", "nsenter": "util-linux",
                 "debootstrap": "debootstrap"}


# kubelet before 1.27 takes the runtime's endpoint as a flag only, and before
# 1.29 writes pod logs to this fixed directory of the host (podLogsDir came then)
RUNTIME_ENDPOINT_IN_CONFIG = (1, 27)
POD_LOGS_DIR_IN_CONFIG = (1, 29)
FIXED_POD_LOGS = (Path("/var/log/pods"), Path("/var/log/containers"))


class Node:
    def __init__(self, cluster_dir: Path, name: str, net: NodeNet, kubernetes: str | None = None):
        """`kubernetes`: the release of its kubelet (what its configuration
        follows); None for a node only being taken down."""
        self.name = name
        self.net = net
        self.release = versions.release(kubernetes)[:2] if kubernetes else None
        self.home = Path(cluster_dir) / "node"
        self.run_dir = Path("/run/dmaas") / net.namespace
        # the node works under a short path (a bind mount of its home): kubelet
        # makes unix sockets under its root dir, and a socket path must be short
        self.dir = self.run_dir / "node"
        self.kubelet_dir = self.dir / "kubelet"
        self.volumes = self.dir / "volumes"
        self.socket = self.run_dir / "containerd.sock"
        self.cgroup_root = f"/dmaas{net.slot}-{net.index}"

    # set-up ------------------------------------------------------------------
    def prepare(self, kubeconfig: Path, ca: Path) -> None:
        """Directories, the shared mount and every config file."""
        for d in (self.home, self.dir):
            d.mkdir(parents=True, exist_ok=True)
        if self._is_mountpoint(self.dir):        # a stack killed before its `down`, in this slot
            subprocess.run(["umount", "--lazy", str(self.dir)], check=True)
        subprocess.run(["mount", "--bind", str(self.home), str(self.dir)], check=True)
        subprocess.run(["mount", "--make-rshared", str(self.dir)], check=True)
        for d in (self.kubelet_dir, self.volumes, self.dir / "cni", self.dir / "pod-logs"):
            d.mkdir(parents=True, exist_ok=True)
        self._make_cgroup_root()
        (self.dir / "containerd.toml").write_text(self._containerd_config())
        (self.dir / "cni" / "10-dmaas.conflist").write_text(json.dumps(self._cni_config(), indent=1))
        (self.dir / "resolv.conf").write_text("# the node's: no upstream resolver (pods use the cluster DNS)\n")
        (self.dir / "kubelet.yaml").write_text(yaml.safe_dump(self._kubelet_config(ca), sort_keys=False))
        (self.dir / "kube-proxy.yaml").write_text(yaml.safe_dump(self._proxy_config(kubeconfig), sort_keys=False))

    def _make_cgroup_root(self) -> None:
        """kubelet wants its cgroup root in every hierarchy (cgroup v1 here)."""
        for hierarchy in CGROUP_ROOT.iterdir():
            if not (hierarchy / "cgroup.procs").exists() or hierarchy.name == "unified":
                continue
            top = hierarchy / self.cgroup_root.strip("/")
            top.mkdir(exist_ok=True)
            for inherited in ("cpuset.cpus", "cpuset.mems"):      # an empty cpuset takes no task
                if (top / inherited).exists() and not (top / inherited).read_text().strip():
                    (top / inherited).write_text((hierarchy / inherited).read_text())

    @staticmethod
    def _is_mountpoint(path: Path) -> bool:
        return any(line.split()[4] == str(path) for line in Path("/proc/self/mountinfo").read_text().splitlines())

    def _containerd_config(self) -> str:
        d, cri = self.dir / "containerd", '[plugins."io.containerd.grpc.v1.cri"'
        return f'''version = 2
root = "{d}/root"
state = "{self.run_dir}/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
                    "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "{self.socket}"
[ttrpc]
  address = "{self.socket}.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/opt"
{cri}]
  sandbox_image = "{PAUSE_IMAGE}"
  stream_server_address = "127.0.0.1"
  # this machine withholds CAP_SYS_RESOURCE: kubelet's -998 for sandboxes
  # becomes the lowest score containerd may give (its own)
  restrict_oom_score_adj = true
  {cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    {cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      {cri}.containerd.runtimes.runc.options]
        Root = "{self.run_dir}/runc"
  {cri}.cni]
    bin_dir = "{CNI_BIN}"
    conf_dir = "{self.dir}/cni"
'''

    def _cni_config(self) -> dict:
        return {"cniVersion": "1.0.0", "name": "dmaas-pods", "plugins": [
            {"type": "bridge", "bridge": "cni0", "isGateway": True, "ipMasq": False, "hairpinMode": True,
             "ipam": {"type": "host-local", "dataDir": str(self.dir / "cni-ipam"),
                      "ranges": [[{"subnet": self.net.pod_cidr}]], "routes": [{"dst": "0.0.0.0/0"}]}},
            {"type": "portmap", "capabilities": {"portMappings": True}}]}

    def _kubelet_config(self, ca: Path) -> dict:
        config = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
            "address": self.net.node_ip, "port": 10250, "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1", "healthzPort": 10248,
            "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": False},
                               "x509": {"clientCAFile": str(ca)}},
            "authorization": {"mode": "AlwaysAllow"},
            "containerRuntimeEndpoint": f"unix://{self.socket}",
            "cgroupDriver": "cgroupfs", "cgroupRoot": self.cgroup_root, "cgroupsPerQOS": True,
            "failCgroupV1": False, "failSwapOn": False,
            "clusterDNS": [self.net.service_ip(10)], "clusterDomain": CLUSTER_DOMAIN,
            "resolvConf": str(self.dir / "resolv.conf"), "podLogsDir": str(self.dir / "pod-logs"),
            # a shared machine's disk fills for reasons of its own: no eviction, no image GC
            "evictionHard": {"memory.available": "0%", "nodefs.available": "0%", "nodefs.inodesFree": "0%",
                             "imagefs.available": "0%"},
            "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
            "serializeImagePulls": False, "localStorageCapacityIsolation": False,
            "makeIPTablesUtilChains": True, "protectKernelDefaults": False,
            "nodeStatusReportFrequency": "10s", "syncFrequency": "10s",
        }
        if self.release < RUNTIME_ENDPOINT_IN_CONFIG:
            # fields of later releases out (their kubelet would warn and ignore
            # them); what they set, by the means that release has
            for later in ("containerRuntimeEndpoint", "failCgroupV1", "localStorageCapacityIsolation"):
                config.pop(later)
            config["featureGates"] = {"LocalStorageCapacityIsolation": False}
        if self.release < POD_LOGS_DIR_IN_CONFIG:
            config.pop("podLogsDir")
        return config

    def _proxy_config(self, kubeconfig: Path) -> dict:
        return {
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
            "mode": "iptables", "clusterCIDR": self.net.pod_cidr, "hostnameOverride": self.name,
            "bindAddress": self.net.node_ip, "healthzBindAddress": "127.0.0.1:10256",
            "metricsBindAddress": "127.0.0.1:10249",
            "clientConnection": {"kubeconfig": str(kubeconfig)},
            # a namespace cannot set the host's conntrack table size
            "conntrack": {"maxPerCore": 0, "min": 0},
            "nodePortAddresses": [f"{self.net.node_ip}/32"],
        }

    # the processes (the stack starts them, prefixed with nsenter) -------------
    def containerd_command(self) -> list[str]:
        return [*self.net.nsenter(), "containerd", "--config", str(self.dir / "containerd.toml")]

    def kubelet_command(self, kubelet: Path, kubeconfig: Path) -> list[str]:
        endpoint = (["--container-runtime-endpoint", f"unix://{self.socket}"]
                    if self.release < RUNTIME_ENDPOINT_IN_CONFIG else [])
        return [*self.net.nsenter(), str(kubelet), "--config", str(self.dir / "kubelet.yaml"),
                "--kubeconfig", str(kubeconfig), "--root-dir", str(self.kubelet_dir),
                "--cert-dir", str(self.dir / "kubelet-pki"), "--hostname-override", self.name,
                "--node-ip", self.net.node_ip, *endpoint, "--v", "1"]

    def kube_proxy_command(self, kube_proxy: Path) -> list[str]:
        return [*self.net.nsenter(), str(kube_proxy), "--config", str(self.dir / "kube-proxy.yaml")]

    def ctr(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(["ctr", "--address", str(self.socket), "--namespace", "k8s.io", *args],
                              capture_output=True, text=True, check=check, timeout=timeout)

    def containerd_ready(self) -> bool:
        return self.socket.exists() and self.ctr("version", check=False, timeout=10).returncode == 0

    def import_images(self, archives: dict[Path, list[str]], mirror: dict[str, str]) -> None:
        """Every archive's images, each tagged with every name `mirror` maps to it."""
        for archive, references in archives.items():
            done = self.ctr("images", "import", "--no-unpack=false", str(archive), check=False, timeout=300)
            if done.returncode != 0:
                raise RuntimeError(f"importing {', '.join(references)} into the containerd of node {self.name}: "
                                   f"{done.stderr.strip().splitlines()[-1:]}")
        for user_name, local in mirror.items():
            self.ctr("images", "tag", "--force", local, user_name)

    # tear-down -----------------------------------------------------------------
    def stop_containers(self) -> None:
        """Kill and remove every task and container (the shims exit with them),
        and the pods' network namespaces (containerd 1.6 pins them in
        /var/run/netns/cni-*, shared by every containerd of the machine: ours
        are those a process under the node's cgroup root lives in)."""
        pod_netns = self._pod_network_namespaces()
        try:
            self._stop_tasks()
        finally:
            for pin in pod_netns:
                subprocess.run(["umount", str(pin)], capture_output=True)
                pin.unlink(missing_ok=True)

    def _pod_network_namespaces(self) -> list[Path]:
        inodes = set()
        for pid in self._pids():
            try:
                inodes.add(os.stat(f"/proc/{pid}/ns/net").st_ino)
            except OSError:
                pass
        pins = []
        for pin in Path("/var/run/netns").glob("cni-*"):
            try:
                if pin.stat().st_ino in inodes:
                    pins.append(pin)
            except OSError:
                pass
        return pins

    def _pids(self) -> set[int]:
        pids = set()
        for hierarchy in CGROUP_ROOT.iterdir():
            top = hierarchy / self.cgroup_root.strip("/")
            if top.is_dir():
                for procs in top.rglob("cgroup.procs"):
                    pids.update(int(pid) for pid in procs.read_text().split())
        return pids

    def _stop_tasks(self) -> None:
        if not self.containerd_ready():
            return
        tasks = self.ctr("tasks", "ls", "-q", check=False).stdout.split()
        for task in tasks:
            self.ctr("tasks", "kill", "--signal", "SIGKILL", task, check=False)
        deadline = time.monotonic() + 20
        while tasks and time.monotonic() < deadline:
            tasks = [t for t in tasks if self.ctr("tasks", "delete", t, check=False).returncode != 0]
            time.sleep(0.2 if tasks else 0)
        for container in self.ctr("containers", "ls", "-q", check=False).stdout.split():
            self.ctr("containers", "delete", container, check=False)

    def kill_cgroups(self) -> None:
        """Whatever still runs under the node's cgroup root goes, and its cgroups."""
        for pid in self._pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for hierarchy in CGROUP_ROOT.iterdir():
            top = hierarchy / self.cgroup_root.strip("/")
            if not top.is_dir():
                continue
            for group in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)) + [top]:
                for _ in range(50):
                    try:
                        group.rmdir()
                        break
                    except FileNotFoundError:
                        break
                    except OSError:
                        time.sleep(0.1)

    def pod_uids(self) -> set[str]:
        """The UIDs of every pod whose containers this node's containerd
        still holds (kubelet labels each container with its pod's); what
        remove_pod_logs needs, so none asked when no pod logs in the host's
        /var/log/pods (a kubelet of 1.29 or later logs in the node's dir)."""
        if not self.containerd_ready() or not any(FIXED_POD_LOGS[0].glob("*_*_*")):
            return set()
        uids = set()
        for container in self.ctr("containers", "ls", "-q", check=False).stdout.split():
            info = self.ctr("containers", "info", container, check=False)
            try:
                uids.add(json.loads(info.stdout)["Labels"]["io.kubernetes.pod.uid"])
            except (ValueError, KeyError, TypeError):
                pass
        return uids

    def remove_pod_logs(self, uids: set[str]) -> None:
        """kubelet links its containers' logs from the host's
        /var/log/containers, and before 1.29 logs them into the host's
        /var/log/pods: this node's pods' (`uids`) go, nobody else's."""
        pods, links = FIXED_POD_LOGS
        ours = [d for d in pods.glob("*_*_*") if d.name.rsplit("_", 1)[-1] in uids]
        places = ours + [self.dir / "pod-logs", self.home / "pod-logs"]
        for link in links.glob("*.log"):
            try:
                if any(Path(os.readlink(link)).is_relative_to(place) for place in places):
                    link.unlink()
            except OSError:
                pass
        for d in ours:
            shutil.rmtree(d, ignore_errors=True)
        for d in FIXED_POD_LOGS:        # the kubelet made them if nothing else uses them
            try:
                d.rmdir()
            except OSError:
                pass

    def unmount(self) -> list[str]:
        """Unmount everything under the node's dir (pod volumes, overlays,
        and the dir itself; returns what stays."""
        roots = (str(self.home), str(self.run_dir))
        for _ in range(5):
            mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
            ours = [m for m in mounts if any(m == r or m.startswith(r + "/") for r in roots)]
            if not ours:
                return []
            for mount in sorted(set(ours), key=lambda m: -len(m)):
                subprocess.run(["umount", "--lazy", mount], capture_output=True)
        return ours


def missing_host_packages() -> list[str]:
    """The Debian packages a node needs that this machine lacks."""
    return sorted({package for command, package in HOST_PACKAGES.items()
                   if not (Path(command).exists() if command.startswith("/") else shutil.which(command))})
