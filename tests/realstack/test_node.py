"""The real node: pods run their images' processes in containerd, volumes
outlive pods, and Velero runs as pods that `velero install` made."""
import subprocess
import time

from tests.realstack.test_roundtrip import _until

NS = "node-check"


def _apis(cluster):
    from kubernetes import client, config
    api = config.new_client_from_config(cluster["kubeconfig"])
    return api, client.CoreV1Api(api)


def _exec(api, namespace, pod, command, container=None):
    """A command in a pod through the API server and the kubelet (stdout)."""
    from kubernetes.stream import stream
    from kubernetes import client
    return stream(client.CoreV1Api(api).connect_get_namespaced_pod_exec, pod, namespace, command=command,
                  container=container, stderr=True, stdin=False, stdout=True, tty=False)


def _pod(name, claim=None, command=("sleep", "3600")):
    mounts = [{"name": "data", "mountPath": "/data"}] if claim else []
    return {"metadata": {"name": name},
            "spec": {"terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "c", "image": "busybox:1.35", "command": list(command),
                                     "volumeMounts": mounts}],
                     "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}] if claim else []}}


def _running(core, name):
    return lambda: core.read_namespaced_pod(name, NS).status.phase == "Running"


def _namespace(core):
    if not any(n.metadata.name == NS for n in core.list_namespace().items):
        core.create_namespace({"metadata": {"name": NS}})
        _until("default service account", lambda: core.list_namespaced_service_account(NS).items)


def test_velero_runs_as_pods_from_the_images_built_here(stack):
    """PID 1 of Velero's pod is its image's entrypoint, the Velero build of
    this stack answers from inside it, and the node's runtime is containerd."""
    api, core = _apis(stack["clusters"]["backup"])
    [node] = core.list_node().items
    assert node.status.node_info.container_runtime_version.startswith("containerd://")
    [velero] = core.list_namespaced_pod("velero", label_selector="deploy=velero").items
    cmdline = _exec(api, "velero", velero.metadata.name, ["cat", "/proc/1/cmdline"])
    assert cmdline.split("\0")[:2] == ["/velero", "server"]
    version = _exec(api, "velero", velero.metadata.name, ["/velero", "version", "--client-only"])
    assert f"Version: {_velero_version()}" in version, version
    assert {c.image for c in velero.spec.containers} == {f"velero/velero:{_velero_version()}"}
    [agent] = core.list_namespaced_pod("velero", label_selector="name=node-agent").items
    assert _exec(api, "velero", agent.metadata.name, ["cat", "/proc/1/cmdline"]).split("\0")[:2] == \
        ["/velero", "node-agent"]


def _velero_version():
    from pathlib import Path
    from runner.realstack import build
    return build.versions(Path(__file__).resolve().parents[2])["VELERO_VERSION"]


def test_a_pods_pid_1_is_its_command_and_exit_codes_come_back(stack):
    api, core = _apis(stack["clusters"]["backup"])
    _namespace(core)
    core.create_namespaced_pod(NS, _pod("pid1", command=("sleep", "7777")))
    _until("pod pid1 Running", _running(core, "pid1"), timeout=60)
    assert _exec(api, NS, "pid1", ["cat", "/proc/1/cmdline"]).split("\0")[:2] == ["sleep", "7777"]
    # its own PID namespace: the host's processes are not there
    assert _exec(api, NS, "pid1", ["sh", "-c", "ls /proc | grep -c '^[0-9]'"]).strip() in ("2", "3", "4")
    core.delete_namespaced_pod("pid1", NS)


def test_data_on_a_pvc_survives_its_pod_being_replaced(stack):
    api, core = _apis(stack["clusters"]["backup"])
    _namespace(core)
    core.create_namespaced_persistent_volume_claim(NS, {
        "metadata": {"name": "kept"},
        "spec": {"storageClassName": "openebs-hostpath", "accessModes": ["ReadWriteOnce"],
                 "resources": {"requests": {"storage": "1Gi"}}}})
    core.create_namespaced_pod(NS, _pod("writer", claim="kept"))
    _until("pod writer Running", _running(core, "writer"), timeout=90)
    _exec(api, NS, "writer", ["sh", "-c", "head -c 65536 /dev/urandom > /data/f && sync"])
    written = _exec(api, NS, "writer", ["sha256sum", "/data/f"]).split()[0]
    core.delete_namespaced_pod("writer", NS)
    _until("pod writer gone", lambda: not [p for p in core.list_namespaced_pod(NS).items
                                          if p.metadata.name == "writer"], timeout=60)
    core.create_namespaced_pod(NS, _pod("reader", claim="kept"))
    _until("pod reader Running", _running(core, "reader"), timeout=90)
    assert _exec(api, NS, "reader", ["sha256sum", "/data/f"]).split()[0] == written
    core.delete_namespaced_pod("reader", NS)


def test_a_service_name_resolves_and_reaches_its_pod(stack):
    """CoreDNS answers for the cluster's Services and kube-proxy's rules take a
    ClusterIP to the pod behind it."""
    api, core = _apis(stack["clusters"]["backup"])
    _namespace(core)
    pod = _pod("web", command=("sh", "-c", "echo served > /tmp/index.html && httpd -f -p 8080 -h /tmp"))
    pod["metadata"]["labels"] = {"app": "web"}
    core.create_namespaced_pod(NS, pod)
    core.create_namespaced_service(NS, {"metadata": {"name": "web"},
                                        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80,
                                                                                        "targetPort": 8080}]}})
    core.create_namespaced_pod(NS, _pod("client"))
    for name in ("web", "client"):
        _until(f"pod {name} Running", _running(core, name), timeout=60)
    cluster_ip = core.read_namespaced_service("web", NS).spec.cluster_ip
    # busybox's own resolver and nc (its static wget crashes in a bare image: glibc's NSS)
    answer = _exec(api, NS, "client", ["nslookup", f"web.{NS}.svc.cluster.local"])
    assert cluster_ip in answer, answer
    deadline = time.monotonic() + 60
    while True:     # the endpoints reach kube-proxy within seconds
        got = _exec(api, NS, "client", ["sh", "-c", f"printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | "
                                                    f"nc -w 3 {cluster_ip} 80 2>&1 || true"])
        got = got.strip().splitlines()[-1] if got.strip() else ""
        if got == "served" or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert got == "served"
    for name in ("web", "client"):
        core.delete_namespaced_pod(name, NS)
    core.delete_namespaced_service("web", NS)


def test_nothing_in_a_pod_reaches_beyond_this_machine(stack):
    """No route off the host: a pod's connection to an outside address fails
    at once (no route), it never leaves."""
    api, core = _apis(stack["clusters"]["backup"])
    _namespace(core)
    core.create_namespaced_pod(NS, _pod("probe"))
    _until("pod probe Running", _running(core, "probe"), timeout=60)
    routes = _exec(api, NS, "probe", ["ip", "route"])
    assert "default" in routes          # the pod's default route is its node's bridge ...
    node_ns = stack["clusters"]["backup"]["netns"]
    node_routes = subprocess.run(["ip", "-n", node_ns, "route"], capture_output=True, text=True,
                                 check=True).stdout
    assert "default" not in node_routes, node_routes     # ... and the node has none
    nat = subprocess.run(["nsenter", f"--net=/var/run/netns/{node_ns}", "--", "iptables-save", "-t", "nat"],
                         capture_output=True, text=True, check=True).stdout
    assert "MASQUERADE" not in "\n".join(line for line in nat.splitlines()
                                         if line.startswith("-A POSTROUTING")), nat
    core.delete_namespaced_pod("probe", NS)
