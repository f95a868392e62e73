"""Start, inspect and stop the real stack: per cluster etcd, kube-apiserver,
kube-controller-manager and kube-scheduler on the host, and a real node
(runner/realstack/node.py: containerd, kubelet, kube-proxy in a network
namespace of its own); in-cluster CoreDNS, the local-PV provisioner and
Velero installed by `velero install`, all running as pods from images built
here (runner/realstack/images.py); S3 from a lab process started with no
clusters, at the stack's own address (runner/realstack/network.py).

State dir (default `.realstack/`, or $DMAAS_REALSTACK_DIR):

    stack.json                  what clients read (the lab.json shape)
    processes.json              every process started so far (written as they
                                start, so `down` also cleans a half-started stack)
    nodes.json                  the stack's network slot and its nodes (same reason)
    lab/                        the S3 lab's own state dir
    clusters/<name>/            pki/, etcd/, kubeconfig, logs/, node/
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

from runner.errors import UserError
from runner.realstack import build, images, network, pki
from runner.realstack.node import Node, missing_host_packages

DEFAULT_CLUSTERS = ("backup", "restore")
BUCKET = "realstack"            # default BSL bucket, on the first bucket profile, shared by every cluster
VELERO_NAMESPACE = "velero"
READY_TIMEOUT = 180.0
STOP_TIMEOUT = 10.0
GC_FREQUENCY_SECONDS = 60    # velero server --garbage-collection-frequency: one scaled hour at 1 h = 1 min


# Velero 1.16 checks every Schedule once a minute from when its manager starts
# (PeriodicalEnqueueSource: wait.Until, sliding, so the phase drifts a few ms later
# each pass) and never catches up a run it missed. With one scenario hour = one
# minute the plans' crons fire on every minute boundary: a check phase just before
# :00 skips a run when it drifts across (a real-stack SCHD run lost one that way).
# Started in the first 40 s of a minute, its checks fall a few seconds after
# that, away from the boundaries (runs whose checks fell at :25 missed none in 74).
LATEST_START_SECOND = 40


def _start_early_in_a_minute(now=time.time, sleep=time.sleep) -> None:
    second = now() % 60
    if second > LATEST_START_SECOND:
        sleep(60 - second)


class StackError(RuntimeError):
    """One line: which component failed and which log to read."""


def default_state_dir() -> Path:
    return Path(os.environ.get("DMAAS_REALSTACK_DIR") or ".realstack").resolve()


def _answers(url: str, context) -> bool:
    """True once a TLS server answers `url` with 200."""
    try:
        with urllib.request.urlopen(url, timeout=3, context=context) as response:
            return response.status == 200
    except OSError:          # refused, reset, TLS not up yet, HTTP errors
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    def __init__(self, root: Path, state_dir: Path | None = None):
        self.root = Path(root).resolve()
        self.dir = Path(state_dir or default_state_dir()).resolve()
        self.processes: list[dict] = []
        self.step = "starting"       # what up() is doing, for its error message

    # process bookkeeping ---------------------------------------------------
    def _record(self):
        tmp = self.dir / "processes.json.tmp"
        tmp.write_text(json.dumps(self.processes, indent=1))
        tmp.replace(self.dir / "processes.json")

    def _spawn(self, component: str, cluster: str | None, cmd: list[str], log: Path, env=None,
               exe: str | None = None) -> subprocess.Popen:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            # a session of its own: `dmaas realstack up` exits and the stack stays
            popen = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True, env=dict(os.environ, **(env or {})))
        if exe is None:         # nsenter execs the command it is given
            exe = cmd[cmd.index("--") + 1] if cmd[0] == "nsenter" else cmd[0]
        self.processes.append({"component": component, "cluster": cluster, "pid": popen.pid,
                               "exe": exe, "log": str(log)})
        self._record()
        return popen

    def _wait(self, component, popen, log, ready, timeout=READY_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if popen.poll() is not None:
                raise StackError(f"{component} exited with status {popen.returncode} while starting: "
                                 f"{last_line(log)} (log: {log})")
            try:
                if ready():
                    return
            except Exception:       # not up yet
                pass
            time.sleep(0.25)
        raise StackError(f"{component} not ready within {timeout:.0f}s: {last_line(log)} (log: {log})")

    # up ----------------------------------------------------------------------
    def up(self, clusters=DEFAULT_CLUSTERS, progress=lambda msg: None) -> dict:
        if (self.dir / "processes.json").exists():
            raise StackError(f"a real stack is already in {self.dir} (run `dmaas realstack down` first)")
        bin_dir = build.bin_dir(self.root)
        missing = missing_host_packages()
        if missing:
            raise StackError(f"the real node needs Debian packages this machine lacks: {', '.join(missing)} "
                             f"(`dmaas realstack build` installs them)")
        self.dir.mkdir(parents=True, exist_ok=True)
        self._record()
        try:
            started = time.monotonic()
            self.step = "the stack's network"
            self._nodes = {"slot": network.take_slot(), "nodes": {}}
            self._record_nodes()
            s3, s3_control = self._s3(progress)
            # s3_control: the S3 lab's control API, for bucket faults (cut, quota,
            # corrupt) only; the stack's clock is the real one
            state = {"clusters": {}, "s3": s3, "s3_control": s3_control,
                     "address": network.stack_address(self._nodes["slot"])}
            for name in clusters:
                progress(f"cluster {name} ...")
                state["clusters"][name] = self._cluster(name, bin_dir, s3, progress)
            self._write_state(state)
            progress(f"up in {time.monotonic() - started:.0f}s")
            return state
        except BaseException as error:
            self._keep_logs()
            self.down()
            self._raise_one_line(error)

    def _keep_logs(self) -> None:
        """A failed start's logs outlive its state dir (in <state dir>.logs/),
        which `down` removes."""
        kept = self.dir.with_name(self.dir.name + ".logs")
        shutil.rmtree(kept, ignore_errors=True)
        for logs in list(self.dir.glob("clusters/*/logs")) + [self.dir / "lab" / "lab.log"]:
            if logs.exists():
                target = kept / logs.relative_to(self.dir)
                target.parent.mkdir(parents=True, exist_ok=True)
                (shutil.copytree if logs.is_dir() else shutil.copy)(logs, target)

    def _raise_one_line(self, error: BaseException):
        """Re-raises: an API call that failed as a StackError naming the step,
        our own errors and Ctrl-C as they are."""
        if isinstance(error, Exception) and not isinstance(error, (StackError, UserError)):
            detail = f"{type(error).__name__}: {error}".strip().splitlines()[0][:300]
            raise StackError(f"{self.step} failed: {detail}") from error
        raise error

    def _write_state(self, state: dict) -> None:
        state["processes"] = self.processes
        tmp = self.dir / "stack.json.tmp"
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.dir / "stack.json")

    def _record_nodes(self) -> None:
        tmp = self.dir / "nodes.json.tmp"
        tmp.write_text(json.dumps(self._nodes, indent=1))
        tmp.replace(self.dir / "nodes.json")

    def _read_nodes(self) -> dict | None:
        try:
            return json.loads((self.dir / "nodes.json").read_text())
        except (OSError, ValueError):
            return None

    def state(self) -> dict:
        try:
            return json.loads((self.dir / "stack.json").read_text())
        except (OSError, ValueError):
            raise StackError(f"no real stack in {self.dir} (start one with `dmaas realstack up`)") from None

    # clusters on demand -------------------------------------------------------
    def add_cluster(self, name: str, progress=lambda msg: None, kubernetes: str | None = None,
                    velero: str | None = None) -> dict:
        """Starts one more cluster on a running stack (what a scenario that
        names a new cluster needs), at the Kubernetes and Velero releases
        given (built ones; default the current set's); on failure it is
        taken down again."""
        state = self.state()
        if name in state["clusters"]:
            raise StackError(f"cluster {name} already runs in {self.dir}")
        self.processes = self._read_processes() or []
        self._nodes = self._read_nodes() or {"slot": None, "nodes": {}}
        try:
            state["clusters"][name] = self._cluster(name, build.bin_dir(self.root), state["s3"], progress,
                                                    kubernetes, velero)
        except BaseException as error:
            self._take_down(name)
            self._raise_one_line(error)
        self._write_state(state)
        return state["clusters"][name]

    def remove_cluster(self, name: str) -> None:
        """Stops a cluster, its node and its containers, and removes its state (the cluster is gone)."""
        state = self.state()
        if name not in state["clusters"]:
            raise StackError(f"no cluster {name} in {self.dir}")
        self.processes = self._read_processes() or []
        self._nodes = self._read_nodes() or {"slot": None, "nodes": {}}
        self._take_down(name)
        del state["clusters"][name]
        self._write_state(state)

    def _take_down(self, name: str) -> None:
        ours = [p for p in self.processes if p["cluster"] == name]
        entry = self._nodes["nodes"].get(name)
        node = self._node(name, entry) if entry else None
        self._stop([p for p in ours if p["component"] in ("kubelet", "kube-proxy")])
        if node is not None:
            uids = node.pod_uids()
            node.stop_containers()
        self._stop(ours)
        if node is not None:
            node.remove_pod_logs(uids)
            self._clean_node(node)
            del self._nodes["nodes"][name]
            self._record_nodes()
        self.processes = [p for p in self.processes if p["cluster"] != name]
        self._record()
        shutil.rmtree(self.dir / "clusters" / name, ignore_errors=True)

    def _node(self, name: str, entry: dict) -> Node:
        return Node(self.dir / "clusters" / name, f"{name}-node", network.NodeNet(self._nodes["slot"], entry["index"]))

    @staticmethod
    def _clean_node(node: Node) -> None:
        node.kill_cgroups()
        node.unmount()
        network.remove_node(node.net)
        shutil.rmtree(node.run_dir, ignore_errors=True)

    def _s3(self, progress) -> tuple[dict, str]:
        self.step = "s3 (lab process)"
        address = network.stack_address(self._nodes["slot"])
        progress(f"s3: lab process with no clusters (versitygw behind the quota/cut proxy) at {address}")
        config = self.dir / "lab-config.yaml"
        from runner.catalogues import lab_config     # every bucket profile of scenarios/buckets.yaml
        config.write_text(yaml.safe_dump({"lab": {**lab_config({"clusters": []}), "host": address}}))
        lab_dir = self.dir / "lab"
        result = subprocess.run([sys.executable, "-m", "lab", "up", "--state-dir", str(lab_dir),
                                 "--config", str(config)], cwd=self.root, capture_output=True, text=True)
        if result.returncode != 0:
            raise StackError(f"s3 (lab) failed to start: {(result.stderr or result.stdout).strip()}")
        lab = json.loads((lab_dir / "lab.json").read_text())
        self.processes.append({"component": "s3-lab", "cluster": None, "pid": lab["pid"], "exe": sys.executable,
                               "log": str(lab_dir / "lab.log"), "lab_dir": str(lab_dir)})
        self._record()
        import boto3
        s3 = next(iter(lab["s3"].values()))
        boto3.client("s3", endpoint_url=s3["endpoint"], region_name=s3["region"],
                     aws_access_key_id=s3["access_key"],
                     aws_secret_access_key=s3["secret_key"]).create_bucket(Bucket=BUCKET)
        return lab["s3"], lab["control"]

    def _releases(self, kubernetes: str | None, velero: str | None) -> tuple[str, str, dict]:
        """The Kubernetes and Velero releases a cluster gets (default: the
        current set's) and the pins; StackError for one not built here."""
        versions = build.versions(self.root)
        chosen = []
        for component, what, wanted in (("K8S", "Kubernetes", kubernetes), ("VELERO", "Velero", velero)):
            built = build.releases(versions, component)
            wanted = (wanted or versions[f"{component}_VERSION"]).lstrip("v")
            if wanted not in built:
                raise StackError(f"{what} {wanted} is not a release the real stack builds "
                                 f"(realstack/versions.env pins {', '.join(built)})")
            chosen.append(wanted)
        return chosen[0], chosen[1], versions

    def _cluster(self, name: str, bin_dir: Path, s3: dict, progress, kubernetes: str | None = None,
                 velero: str | None = None) -> dict:
        kubernetes, velero, versions = self._releases(kubernetes, velero)
        kube_bin = bin_dir / build.releases(versions, "K8S")[kubernetes]
        velero_bin = bin_dir / build.releases(versions, "VELERO")[velero]
        self.step = f"network of cluster {name}"
        cdir = self.dir / "clusters" / name
        logs = cdir / "logs"
        index = next(i for i in range(1, network.CLUSTERS_PER_STACK + 1)
                     if i not in {n["index"] for n in self._nodes["nodes"].values()})
        self._nodes["nodes"][name] = {"index": index}
        self._record_nodes()
        net = network.add_node(self._nodes["slot"], index)
        node = Node(cdir, f"{name}-node", net, kubernetes)
        address = network.stack_address(net.slot)

        self.step = f"control plane of cluster {name}"
        ports = {k: _free_port() for k in ("etcd", "etcd_peer", "apiserver")}
        paths = pki.make(cdir / "pki", net.service_ip(1), [address], node.name)
        server = f"https://{address}:{ports['apiserver']}"
        kubeconfig, node_kubeconfig = cdir / "kubeconfig", cdir / "node-kubeconfig"
        pki.kubeconfig(kubeconfig, name, server, paths)
        pki.kubeconfig(node_kubeconfig, name, server, paths, user="node")
        context = ssl.create_default_context(cafile=str(paths["ca"]))
        context.load_cert_chain(str(paths["admin"]), str(paths["admin_key"]))

        def get(url, ctx=None):
            with urllib.request.urlopen(url, timeout=3, context=ctx) as response:
                return response.status == 200 and response.read()

        etcd_url = f"http://127.0.0.1:{ports['etcd']}"
        peer = f"http://127.0.0.1:{ports['etcd_peer']}"
        popen = self._spawn("etcd", name, [
            str(bin_dir / "etcd"), "--name", name, "--data-dir", str(cdir / "etcd"),
            "--listen-client-urls", etcd_url, "--advertise-client-urls", etcd_url,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"{name}={peer}",
            "--quota-backend-bytes", str(1 << 30)], logs / "etcd.log")
        self._wait(f"etcd of cluster {name}", popen, logs / "etcd.log", lambda: get(etcd_url + "/health"))
        progress(f"  etcd {etcd_url}")

        popen = self._spawn("kube-apiserver", name, [
            str(kube_bin / "kube-apiserver"), "--etcd-servers", etcd_url,
            # the stack's address: where the host and the node's pods (the
            # `kubernetes` Service's endpoint) reach it
            "--bind-address", address, "--advertise-address", address,
            # the node's own address: its name is resolvable nowhere (and must not be looked up)
            "--kubelet-preferred-address-types", "InternalIP",
            "--secure-port", str(ports["apiserver"]),
            "--tls-cert-file", str(paths["server"]), "--tls-private-key-file", str(paths["server_key"]),
            "--client-ca-file", str(paths["ca"]),
            "--kubelet-client-certificate", str(paths["admin"]), "--kubelet-client-key", str(paths["admin_key"]),
            "--service-account-key-file", str(paths["sa_pub"]),
            "--service-account-signing-key-file", str(paths["sa_key"]),
            "--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
            "--service-cluster-ip-range", net.service_cidr, "--authorization-mode", "Node,RBAC",
            "--allow-privileged=true", "--profiling=false",
        ], logs / "kube-apiserver.log")
        self._wait(f"kube-apiserver of cluster {name}", popen, logs / "kube-apiserver.log",
                   lambda: get(server + "/readyz", context))
        progress(f"  kube-apiserver {server}")

        for component in ("kube-controller-manager", "kube-scheduler"):
            extra = ([
                "--service-account-private-key-file", str(paths["sa_key"]), "--root-ca-file", str(paths["ca"]),
                "--cluster-signing-cert-file", str(paths["ca"]), "--cluster-signing-key-file", str(paths["ca_key"]),
                "--use-service-account-credentials=true"] if component == "kube-controller-manager" else [])
            self._spawn(component, name, [
                str(kube_bin / component), "--kubeconfig", str(kubeconfig),
                "--authentication-kubeconfig", str(kubeconfig), "--authorization-kubeconfig", str(kubeconfig),
                "--leader-elect=false", "--secure-port=0", *extra], logs / f"{component}.log")

        self.step = f"node of cluster {name}"
        node.prepare(kubeconfig, paths["ca"])
        popen = self._spawn("containerd", name, node.containerd_command(), logs / "containerd.log")
        self._wait(f"containerd of node {node.name}", popen, logs / "containerd.log", node.containerd_ready)
        archives = images.build_all(bin_dir, versions, images.cache_dir(), progress)
        node.import_images(archives, self.image_mirror(built=[ref for refs in archives.values() for ref in refs]))
        popen = self._spawn("kubelet", name, node.kubelet_command(kube_bin / "kubelet", node_kubeconfig),
                            logs / "kubelet.log")
        self._spawn("kube-proxy", name, node.kube_proxy_command(kube_bin / "kube-proxy"), logs / "kube-proxy.log")
        from kubernetes import client, config as kconfig, utils
        api = kconfig.new_client_from_config(str(kubeconfig))
        core = client.CoreV1Api(api)
        self._wait(f"node {node.name} Ready", popen, logs / "kubelet.log",
                   lambda: any(c.type == "Ready" and c.status == "True"
                               for c in core.read_node(node.name).status.conditions or []))
        progress(f"  node {node.name} Ready (containerd, kubelet, kube-proxy in {net.namespace}, {net.node_ip})")

        self.step = f"cluster DNS and the local-PV provisioner of cluster {name}"
        classes = self._storage_classes()
        addons = _manifest("coredns.yaml", domain="cluster.local", dns_ip=net.service_ip(10),
                           coredns_version=versions["COREDNS_VERSION"])
        addons += _manifest("local-path-provisioner.yaml", volumes=str(node.volumes))
        for provisioner in sorted({c["provisioner"] for c in classes}):
            addons += _manifest("local-path-provisioner-instance.yaml", provisioner=provisioner,
                                version=versions["LOCALPV_PROVISIONER_VERSION"],
                                name="provisioner-" + provisioner.replace(".", "-").replace("/", "-"))
        utils.create_from_yaml(api, yaml_objects=addons + classes)
        apps = client.AppsV1Api(api)
        for namespace, deployment in [("kube-system", "coredns")] + [
                (o["metadata"]["namespace"], o["metadata"]["name"]) for o in addons
                if o["kind"] == "Deployment" and o["metadata"]["namespace"] == "local-path-storage"]:
            self._wait(f"Deployment {namespace}/{deployment} of cluster {name}", popen, logs / "kubelet.log",
                       lambda: (apps.read_namespaced_deployment(deployment, namespace).status.ready_replicas or 0) >= 1)
        progress(f"  CoreDNS at {net.service_ip(10)}, local-PV provisioner for {len(classes)} StorageClasses")

        self.step = f"velero install on cluster {name}"
        creds = cdir / "credentials"
        creds.write_text("".join(f"[{p}]\naws_access_key_id = {s['access_key']}\n"
                                 f"aws_secret_access_key = {s['secret_key']}\n" for p, s in
                                 [("default", next(iter(s3.values())))] + list(s3.items())))
        creds.chmod(0o600)
        config = ",".join(f"{k}={v}" for k, v in bsl_config(next(iter(s3.values()))).items())
        _start_early_in_a_minute()
        install = subprocess.run([
            str(velero_bin / "velero"), "install", "--kubeconfig", str(kubeconfig), "--namespace", VELERO_NAMESPACE,
            "--image", f"velero/velero:v{velero}",
            "--plugins", f"velero/velero-plugin-for-aws:{versions['VELERO_AWS_VERSION']}",
            "--provider", "aws", "--bucket", BUCKET, "--secret-file", str(creds),
            "--backup-location-config", config, "--use-volume-snapshots=false",
            "--use-node-agent", "--uploader-type", "kopia",
            # the server asks 500m by default: the node's 2 CPUs would then hold
            # only a dozen of the catalogue's pods (100m each)
            "--velero-pod-cpu-request", "100m",
            "--garbage-collection-frequency", f"{GC_FREQUENCY_SECONDS}s"], capture_output=True, text=True)
        (logs / "velero-install.log").write_text(install.stdout + install.stderr)
        if install.returncode != 0:
            raise StackError(f"velero install failed on cluster {name}: {last_line(logs / 'velero-install.log')} "
                             f"(log: {logs / 'velero-install.log'})")
        self._customise_velero(apps, node)
        custom = client.CustomObjectsApi(api)
        for kind, what in (("deployment", "velero"), ("daemonset", "node-agent")):
            read = (apps.read_namespaced_deployment_status if kind == "deployment"
                    else apps.read_namespaced_daemon_set_status)
            self._wait(f"{kind} velero/{what} of cluster {name} ready", popen, logs / "kubelet.log",
                       lambda: _rolled_out(read(what, VELERO_NAMESPACE)))
        self._wait(f"velero server of cluster {name} (BackupStorageLocation default)", popen,
                   logs / "kubelet.log",
                   lambda: custom.get_namespaced_custom_object("velero.io", "v1", VELERO_NAMESPACE,
                                                               "backupstoragelocations", "default")
                   .get("status", {}).get("phase") == "Available")
        progress("  velero install: velero and node-agent pods Ready; BackupStorageLocation default Available")
        version = json.loads(get(server + "/version", context))
        return {"server": server, "kubeconfig": str(kubeconfig), "context": name,
                "version": version["gitVersion"].lstrip("v"),
                "velero_version": velero,
                "node_dir": str(node.volumes), "node": node.name, "node_ip": net.node_ip,
                "netns": net.namespace}

    @staticmethod
    def _customise_velero(apps, node: Node) -> None:
        """What users set after `velero install` where their cluster differs:
        node-agent reads pods where this kubelet keeps them (as on k0s or
        microk8s), and short periods for the server (real time is all there
        is here, and tests wait on them)."""
        # JSON patches: the controllers update these objects meanwhile (a replace would conflict)
        daemonset = apps.read_namespaced_daemon_set("node-agent", VELERO_NAMESPACE)
        moved = [{"op": "replace", "path": f"/spec/template/spec/volumes/{i}/hostPath/path",
                  "value": str(node.kubelet_dir / volume.host_path.path.removeprefix("/var/lib/kubelet/"))}
                 for i, volume in enumerate(daemonset.spec.template.spec.volumes)
                 if volume.host_path is not None and volume.host_path.path.startswith("/var/lib/kubelet/")]
        apps.patch_namespaced_daemon_set("node-agent", VELERO_NAMESPACE, moved)
        apps.patch_namespaced_deployment("velero", VELERO_NAMESPACE, [
            {"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": argument}
            for argument in ("--backup-sync-period=10s", "--store-validation-frequency=10s")])

    def image_mirror(self, built: list[str] | None = None) -> dict[str, str]:
        """The real stack profile's `images:` (names manifests use -> local
        images), as containerd names them; with `built`, a local image not
        among them is a StackError naming the profile's entry."""
        from runner.scenarios import load_target_profile
        profile = load_target_profile(self.root, "realstack")
        mirror = {images.normalise(user): images.normalise(local)
                  for user, local in (profile.data.get("images") or {}).items()}
        if built is not None:
            known = {images.normalise(reference) for reference in built}
            for user, local in sorted(mirror.items()):
                if local not in known:
                    raise StackError(f"{profile.path}: images: {user} maps to {local}, which the real stack "
                                     f"does not build (it builds {', '.join(sorted(known))})")
        return mirror

    def _storage_classes(self) -> list[dict]:
        """The engines' StorageClasses (names, provisioners, parameters as
        OpenEBS's own), bound on first consumer as LocalPV's are, served by
        the local-PV provisioner as `local` volumes (its annotation)."""
        engines = yaml.safe_load((self.root / "scenarios" / "engines.yaml").read_text())["engines"]
        return [{"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                 "metadata": {"name": e["storage_class"],
                              "annotations": {**e.get("annotations", {}), "defaultVolumeType": "local"}},
                 "provisioner": e["provisioner"], "parameters": e.get("parameters", {}),
                 "reclaimPolicy": "Delete", "volumeBindingMode": "WaitForFirstConsumer"} for e in engines.values()]

    # status / down -------------------------------------------------------------
    def status(self) -> list[str]:
        processes = self._read_processes()
        if processes is None:
            raise StackError(f"no real stack in {self.dir}")
        lines = []
        for p in processes:
            where = f"{p['cluster']}/" if p["cluster"] else ""
            if alive(p):
                lines.append(f"{where}{p['component']}: running (pid {p['pid']})")
            else:
                lines.append(f"{where}{p['component']}: DEAD (pid {p['pid']}): {last_line(Path(p['log']))} "
                             f"(log: {p['log']})")
        return lines

    def _read_processes(self):
        try:
            return json.loads((self.dir / "processes.json").read_text())
        except (OSError, ValueError):
            return None

    def down(self) -> None:
        """Stop every node's kubelet and containers, then every recorded
        process newest first, then clean the nodes (cgroups, mounts,
        namespaces) and the network slot."""
        self.processes = self._read_processes() or self.processes
        self._nodes = self._read_nodes() or getattr(self, "_nodes", None) or {"slot": None, "nodes": {}}
        for name in list(self._nodes["nodes"]):
            if (self.dir / "clusters" / name).exists():
                self._take_down(name)
        self._stop(self.processes)
        if self._nodes.get("slot") is not None:
            for name, entry in list(self._nodes["nodes"].items()):
                self._clean_node(self._node(name, entry))
            network.release_slot(self._nodes["slot"])
        shutil.rmtree(self.dir, ignore_errors=True)

    def _stop(self, processes: list[dict]) -> None:
        for p in reversed(processes):
            if p["component"] == "s3-lab":
                subprocess.run([sys.executable, "-m", "lab", "down", "--state-dir", p["lab_dir"]],
                               cwd=self.root, capture_output=True)
            if alive(p):
                _signal_session(p, signal.SIGTERM)
                deadline = time.monotonic() + STOP_TIMEOUT
                while _reap(p) and time.monotonic() < deadline:
                    time.sleep(0.05)
                # what it started goes too (a session each)
                _signal_session(p, signal.SIGKILL)
                while _reap(p):
                    time.sleep(0.05)


def _manifest(template: str, **values) -> list[dict]:
    """A YAML template of runner/realstack/manifests with its $placeholders filled."""
    import string
    text = (Path(__file__).parent / "manifests" / template).read_text()
    return [doc for doc in yaml.safe_load_all(string.Template(text).substitute(values)) if doc]


def _rolled_out(status_object) -> bool:
    """A Deployment or DaemonSet whose pods of its current spec are all ready."""
    status = status_object.status
    if status.observed_generation is None or status_object.metadata.generation > status.observed_generation:
        return False
    if hasattr(status, "desired_number_scheduled"):        # DaemonSet
        return bool(status.desired_number_scheduled) and (status.number_ready or 0) == status.desired_number_scheduled \
            and (status.updated_number_scheduled or 0) == status.desired_number_scheduled
    wanted = status_object.spec.replicas or 0
    return (status.ready_replicas or 0) >= wanted and (status.updated_replicas or 0) >= wanted \
        and (status.replicas or 0) == wanted


def _signal_session(p: dict, signum: int) -> None:
    """Signal a recorded process and every process of its session (each was
    started as a session leader, so its pid is its process group's id)."""
    try:
        if os.getpgid(p["pid"]) == p["pid"]:
            os.killpg(p["pid"], signum)
        else:                       # not a group leader (a lab that put itself elsewhere): the process alone
            os.kill(p["pid"], signum)
    except ProcessLookupError:      # the leader is gone: what is left of its group
        try:
            os.killpg(p["pid"], signum)
        except (ProcessLookupError, PermissionError):
            pass


def _reap(p: dict) -> bool:
    """Still alive? Collects the exit status when it is our child (no zombie stays)."""
    try:
        os.waitpid(p["pid"], os.WNOHANG)
    except ChildProcessError:
        pass
    return alive(p)


def bsl_config(s3: dict) -> dict:
    return {"region": s3["region"], "s3ForcePathStyle": "true", "s3Url": s3["endpoint"]}


def alive(p: dict) -> bool:
    """Is the recorded process still the one we started (not a reused pid)?"""
    try:
        cmdline = Path(f"/proc/{p['pid']}/cmdline").read_bytes().split(b"\0")
        stat = Path(f"/proc/{p['pid']}/stat").read_text()
    except OSError:
        return False
    if stat.rsplit(")", 1)[1].split()[0] == "Z":
        return False
    return bool(cmdline) and os.path.basename(cmdline[0]) == os.path.basename(p["exe"]).encode()


def last_line(log: Path) -> str:
    try:
        lines = [l for l in log.read_text(errors="replace").splitlines() if l.strip()]
    except OSError:
        return "(no log)"
    return lines[-1][:300] if lines else "(empty log)"
