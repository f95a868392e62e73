"""The real stack starts, serves the real API and stops leaving nothing."""
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _get(cluster, path):
    pki = Path(cluster["kubeconfig"]).parent / "pki"
    context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
    with urllib.request.urlopen(cluster["server"] + path, context=context, timeout=10) as response:
        return response.read()


def _listening(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_up_serves_the_built_release_and_down_leaves_nothing(realstack_built, tmp_path):
    from runner.realstack import build
    from runner.realstack.stack import Stack, alive
    state_dir = tmp_path / "state"
    handle = Stack(ROOT, state_dir)
    state = handle.up(["solo"])
    try:
        stack_json = json.loads((state_dir / "stack.json").read_text())
        cluster = stack_json["clusters"]["solo"]
        assert set(cluster) >= {"server", "kubeconfig", "context", "version"}
        assert set(stack_json["s3"]["minio"]) >= {"endpoint", "region", "access_key", "secret_key"}
        assert "control" not in stack_json
        version = json.loads(_get(cluster, "/version"))
        assert version["gitVersion"] == build.versions(ROOT)["K8S_VERSION"]
        assert version["goVersion"].startswith("go1.")
        assert json.loads(_get(cluster, "/openapi/v2"))["swagger"] == "2.0"
        processes = stack_json["processes"]
        assert {p["component"] for p in processes} >= {"etcd", "kube-apiserver", "kube-controller-manager",
                                                       "kube-scheduler", "containerd", "kubelet", "kube-proxy",
                                                       "s3-lab"}
        slot = int(stack_json["address"].split(".")[2])
        assert _host_traces(state_dir, slot), "the check below would find nothing even while the stack runs"
        assert all(alive(p) for p in processes)
        port = int(cluster["server"].rsplit(":", 1)[1])
        # a process that dies shows in status with its last log line
        [kcm] = [p for p in processes if p["component"] == "kube-controller-manager"]
        os.kill(kcm["pid"], signal.SIGKILL)
        with open(kcm["log"], "a") as log:
            log.write("the last words of the controller manager\n")
        time.sleep(0.5)
        dead = [line for line in handle.status() if "DEAD" in line]
        assert dead == [f"solo/kube-controller-manager: DEAD (pid {kcm['pid']}): "
                        f"the last words of the controller manager (log: {kcm['log']})"]
    finally:
        handle.down()
    assert not state_dir.exists()
    assert not any(alive(p) for p in processes)
    assert not _listening(port)
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(state_dir) not in ps, "a process of the stack (e.g. a Velero plugin) is still running"
    assert _host_traces(state_dir, slot) == []


def _host_traces(state_dir, slot):
    """What of a stack is on the host: mounts, network namespaces, links, the
    stack's address, iptables rules naming its ranges, cgroups, containerd
    state, containers' processes."""
    found = [f"mount {line.split()[4]}" for line in Path("/proc/self/mountinfo").read_text().splitlines()
             if str(state_dir) in line.split()[4] or f"/run/dmaas/dms{slot}-" in line.split()[4]]
    found += [f"netns {ns.split()[0]}" for ns in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                                                 text=True).stdout.splitlines()
              if ns.startswith(f"dms{slot}-")]
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    found += [f"link {line.split(':')[1].strip()}" for line in links.splitlines()
              if line.split(":")[1].strip().startswith(f"dms{slot}c")]
    if f" 10.200.{slot}.1/32 " in subprocess.run(["ip", "-o", "addr", "show", "dev", "lo"], capture_output=True,
                                                 text=True).stdout:
        found.append(f"address 10.200.{slot}.1 on lo")
    rules = subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
    found += [f"iptables {line}" for line in rules.splitlines()
              if f"10.{100 + slot}." in line or f"10.{140 + slot}." in line or f"10.201.{slot}." in line]
    found += [f"cgroup {group}" for group in Path("/sys/fs/cgroup").glob(f"*/dmaas{slot}-*")]
    found += [f"containerd state {d}" for d in Path("/run/dmaas").glob(f"dms{slot}-*")]
    return found


def test_kubectl_works_against_it(stack, realstack_built, tmp_path):
    kubeconfig = stack["clusters"]["backup"]["kubeconfig"]
    # the kubectl of the same release, built with the stack; its own discovery
    # cache: the default one (~/.kube/cache) would outlive the stack
    kubectl = [str(realstack_built / "kubectl"), "--kubeconfig", kubeconfig,
               "--cache-dir", str(tmp_path / "kube-cache")]
    client = json.loads(subprocess.run(kubectl + ["version", "-o", "json"], capture_output=True, text=True,
                                       check=True).stdout)
    assert client["clientVersion"]["gitVersion"] == client["serverVersion"]["gitVersion"]
    nodes = subprocess.run(kubectl + ["get", "nodes", "-o", "json"], capture_output=True, text=True, check=True)
    [node] = json.loads(nodes.stdout)["items"]
    assert {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"] == "True"
    subprocess.run(kubectl + ["create", "namespace", "kubectl-check"], check=True, capture_output=True)
    subprocess.run(kubectl + ["-n", "kubectl-check", "create", "configmap", "c", "--from-literal=k=v"],
                   check=True, capture_output=True)
    got = subprocess.run(kubectl + ["-n", "kubectl-check", "get", "configmap", "c", "-o", "jsonpath={.data.k}"],
                         check=True, capture_output=True, text=True)
    assert got.stdout == "v"
    classes = subprocess.run(kubectl + ["get", "storageclass", "-o", "name"], check=True, capture_output=True,
                             text=True).stdout.split()
    assert "storageclass.storage.k8s.io/openebs-hostpath" in classes


POD = """apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: exec-check}
spec: {accessModes: [ReadWriteOnce], storageClassName: openebs-hostpath, resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: exec-check}
spec:
  containers:
  - {name: c, image: "busybox:1.35", command: [sleep, "3600"], volumeMounts: [{name: d, mountPath: /var/lib/data}]}
  volumes: [{name: d, persistentVolumeClaim: {claimName: data}}]
"""


def test_pod_exec_reaches_the_nodes_kubelet_endpoint(stack, realstack_built, tmp_path):
    """kubectl exec through the real kube-apiserver and the node's kubelet: the
    command runs in the pod's container, its volume is the provisioned
    directory, and its exit code comes back."""
    kubeconfig = stack["clusters"]["backup"]["kubeconfig"]
    kubectl = [str(realstack_built / "kubectl"), "--kubeconfig", kubeconfig,
               "--cache-dir", str(tmp_path / "kube-cache")]
    subprocess.run(kubectl + ["create", "namespace", "exec-check"], check=True, capture_output=True)
    subprocess.run(kubectl + ["apply", "-f", "-"], input=POD, text=True, check=True, capture_output=True)
    subprocess.run(kubectl + ["-n", "exec-check", "wait", "pod/p", "--for=condition=Ready", "--timeout=60s"],
                   check=True, capture_output=True)
    done = subprocess.run(kubectl + ["-n", "exec-check", "exec", "p", "--", "sh", "-c",
                                     "echo written > /var/lib/data/f && cat /var/lib/data/f"],
                          capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (0, "written\n"), done.stderr
    failed = subprocess.run(kubectl + ["-n", "exec-check", "exec", "p", "--", "sh", "-c", "exit 3"],
                            capture_output=True, text=True)
    assert failed.returncode == 3
    volume = json.loads(subprocess.run(kubectl + ["-n", "exec-check", "get", "pvc", "data", "-o", "json"],
                                       check=True, capture_output=True, text=True).stdout)["spec"]["volumeName"]
    pv = json.loads(subprocess.run(kubectl + ["get", "pv", volume, "-o", "json"], check=True,
                                   capture_output=True, text=True).stdout)
    assert Path(pv["spec"]["local"]["path"], "f").read_text() == "written\n"
    subprocess.run(kubectl + ["delete", "namespace", "exec-check", "--wait=false"], check=True, capture_output=True)


def test_velero_server_starts_early_in_a_minute():
    from runner.realstack import stack
    slept = []
    stack._start_early_in_a_minute(now=lambda: 1_800_000_012.5, sleep=slept.append)   # :12.5 of a minute
    assert slept == []
    stack._start_early_in_a_minute(now=lambda: 1_800_000_052.0, sleep=slept.append)   # :52: wait for :00
    assert slept == [8.0]
