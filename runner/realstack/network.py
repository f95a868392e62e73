"""The real stack's networks: an address of the stack's own on the host, and
a network namespace per node reached from the host over a veth pair.

Each stack takes a free slot S (1-40) by adding the stack's address
10.200.S.1/32 to the host's loopback interface (adding an address is
atomic, so two stacks on one machine never share one): the API servers and
the S3 endpoints listen there, where the host and every node reach them. Cluster C
of the stack gets:

    node namespace   dmsS-C, its eth0 10.201.S.(4C+2)/30, the host's end
                     dmsScCh 10.201.S.(4C+1)/30
    pods             10.(100+S).C.0/24 on the node's bridge cni0
    services         10.(140+S).C.0/24 (kube-proxy's rules live in the node
                     namespace)

Routes: the node reaches only the stack's address (10.200.S.1/32 via the
host's end); the host reaches the cluster's pods via the node. No default
route and no masquerade anywhere, so nothing in a pod reaches beyond this
machine. Deleting a namespace deletes its veth pair and the routes over it.
"""
from __future__ import annotations

import ipaddress
import subprocess
from dataclasses import dataclass

SLOTS = range(1, 41)
CLUSTERS_PER_STACK = 60


class NetworkError(RuntimeError):
    pass


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and done.returncode != 0:
        raise NetworkError(f"ip {' '.join(args)}: {done.stderr.strip() or done.returncode}")
    return done


@dataclass(frozen=True)
class NodeNet:
    slot: int
    index: int

    @property
    def namespace(self) -> str:
        return f"dms{self.slot}-{self.index}"

    @property
    def netns_path(self) -> str:
        return f"/var/run/netns/{self.namespace}"

    @property
    def host_link(self) -> str:
        return f"dms{self.slot}c{self.index}h"

    @property
    def host_ip(self) -> str:
        return f"10.201.{self.slot}.{4 * self.index + 1}"

    @property
    def node_ip(self) -> str:
        return f"10.201.{self.slot}.{4 * self.index + 2}"

    @property
    def pod_cidr(self) -> str:
        return f"10.{100 + self.slot}.{self.index}.0/24"

    @property
    def service_cidr(self) -> str:
        return f"10.{140 + self.slot}.{self.index}.0/24"

    def service_ip(self, n: int) -> str:
        """The n-th address of the service range (1: kubernetes, 10: the cluster DNS)."""
        return str(ipaddress.ip_network(self.service_cidr)[n])

    def nsenter(self) -> list[str]:
        """A prefix that runs a command in the node's network namespace only
        (`ip netns exec` would remount /sys and hide the cgroup mounts)."""
        return ["nsenter", f"--net={self.netns_path}", "--"]


def stack_address(slot: int) -> str:
    return f"10.200.{slot}.1"


def take_slot() -> int:
    """A free slot, held by its address on the loopback interface."""
    for slot in SLOTS:
        if _ip("addr", "add", f"{stack_address(slot)}/32", "dev", "lo", check=False).returncode == 0:
            return slot
    raise NetworkError(f"no free network slot ({stack_address(SLOTS[0])}..{stack_address(SLOTS[-1])} all on lo: "
                       f"stacks left running?)")


def add_node(slot: int, index: int) -> NodeNet:
    net = NodeNet(slot, index)
    _ip("netns", "add", net.namespace)
    try:
        _ip("link", "add", net.host_link, "type", "veth", "peer", "name", "eth0", "netns", net.namespace)
        _ip("addr", "add", f"{net.host_ip}/30", "dev", net.host_link)
        _ip("link", "set", net.host_link, "up")
        for args in (("link", "set", "lo", "up"), ("addr", "add", f"{net.node_ip}/30", "dev", "eth0"),
                     ("link", "set", "eth0", "up"),
                     ("route", "add", f"{stack_address(slot)}/32", "via", net.host_ip)):
            _ip("-n", net.namespace, *args)
        _ip("route", "add", net.pod_cidr, "via", net.node_ip)
        # the node routes between its pods' bridge and its eth0 (the host does not forward)
        subprocess.run([*net.nsenter(), "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"], check=True)
    except BaseException:
        remove_node(net)
        raise
    return net


def remove_node(net: NodeNet) -> None:
    """The namespace, and with it the veth pair and the routes over it."""
    _ip("netns", "delete", net.namespace, check=False)
    _ip("link", "delete", net.host_link, check=False)


def release_slot(slot: int) -> None:
    _ip("addr", "delete", f"{stack_address(slot)}/32", "dev", "lo", check=False)


def leftovers(slot: int) -> list[str]:
    """Links and namespaces of a slot that still exist (for `down`'s check)."""
    links = [line.split(":")[1].strip().split("@")[0] for line in _ip("-o", "link", "show").stdout.splitlines()]
    found = [link for link in links if link.startswith(f"dms{slot}c")]
    if f" {stack_address(slot)}/32 " in _ip("-o", "addr", "show", "dev", "lo").stdout:
        found.append(f"{stack_address(slot)} on lo")
    found += [ns.split()[0] for ns in _ip("netns", "list").stdout.splitlines() if ns.startswith(f"dms{slot}-")]
    return found
