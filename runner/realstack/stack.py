"""Start, inspect and stop the real stack: per cluster etcd, kube-apiserver,
kube-controller-manager, our node stand-in, velero server and node-agent, all
as local processes; S3 from a lab process started with no clusters.

State dir (default `.realstack/`, or $DMAAS_REALSTACK_DIR):

    stack.json                  what clients read (the lab.json shape)
    processes.json              every process started so far (written as they
                                start, so `down` also cleans a half-started stack)
    lab/                        the S3 lab's own state dir
    clusters/<name>/            pki/, etcd/, kubeconfig, logs/, volumes/, host_pods/, plugins/
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
from runner.realstack import build, pki

DEFAULT_CLUSTERS = ("backup", "restore")
BUCKET = "realstack"            # default BSL bucket, on the first bucket profile, shared by every cluster
VELERO_NAMESPACE = "velero"
HOST_PODS = Path("/host_pods")  # node-agent's fixed path (a bind mount in its own mount namespace)
READY_TIMEOUT = 120.0
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
        self.processes.append({"component": component, "cluster": cluster, "pid": popen.pid,
                               "exe": exe or cmd[0], "log": str(log)})
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
        self.dir.mkdir(parents=True, exist_ok=True)
        self._record()
        try:
            started = time.monotonic()
            s3, s3_control = self._s3(progress)
            # s3_control: the S3 lab's control API, for bucket faults (cut, quota,
            # corrupt) only; the stack's clock is the real one
            state = {"clusters": {}, "s3": s3, "s3_control": s3_control}
            for name in clusters:
                progress(f"cluster {name} ...")
                state["clusters"][name] = self._cluster(name, bin_dir, s3, progress)
            self._write_state(state)
            progress(f"up in {time.monotonic() - started:.0f}s")
            return state
        except BaseException as error:
            self.down()
            self._raise_one_line(error)

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

    def state(self) -> dict:
        try:
            return json.loads((self.dir / "stack.json").read_text())
        except (OSError, ValueError):
            raise StackError(f"no real stack in {self.dir} (start one with `dmaas realstack up`)") from None

    # clusters on demand -------------------------------------------------------
    def add_cluster(self, name: str, progress=lambda msg: None) -> dict:
        """Starts one more cluster on a running stack (what a scenario that
        names a new cluster needs); on failure its processes are stopped again."""
        state = self.state()
        if name in state["clusters"]:
            raise StackError(f"cluster {name} already runs in {self.dir}")
        self.processes = self._read_processes() or []
        try:
            state["clusters"][name] = self._cluster(name, build.bin_dir(self.root), state["s3"], progress)
        except BaseException as error:
            self._stop([p for p in self.processes if p["cluster"] == name])
            self.processes = [p for p in self.processes if p["cluster"] != name]
            self._record()
            shutil.rmtree(self.dir / "clusters" / name, ignore_errors=True)
            self._raise_one_line(error)
        self._write_state(state)
        return state["clusters"][name]

    def remove_cluster(self, name: str) -> None:
        """Stops a cluster's processes and removes its state (the cluster is gone)."""
        state = self.state()
        if name not in state["clusters"]:
            raise StackError(f"no cluster {name} in {self.dir}")
        self.processes = self._read_processes() or []
        self._stop([p for p in self.processes if p["cluster"] == name])
        self.processes = [p for p in self.processes if p["cluster"] != name]
        self._record()
        del state["clusters"][name]
        self._write_state(state)
        shutil.rmtree(self.dir / "clusters" / name, ignore_errors=True)

    def _s3(self, progress) -> tuple[dict, str]:
        self.step = "s3 (lab process)"
        progress("s3: lab process with no clusters (versitygw behind the quota/cut proxy)")
        config = self.dir / "lab-config.yaml"
        from runner.catalogues import lab_config     # every bucket profile of scenarios/buckets.yaml
        config.write_text(yaml.safe_dump({"lab": lab_config({"clusters": []})}))
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

    def _cluster(self, name: str, bin_dir: Path, s3: dict, progress) -> dict:
        self.step = f"control plane of cluster {name}"
        cdir = self.dir / "clusters" / name
        logs = cdir / "logs"
        ports = {k: _free_port() for k in ("etcd", "etcd_peer", "apiserver", "kubelet")}
        paths = pki.make(cdir / "pki")
        server = f"https://127.0.0.1:{ports['apiserver']}"
        kubeconfig = cdir / "kubeconfig"
        pki.kubeconfig(kubeconfig, name, server, paths)
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
            str(bin_dir / "kube-apiserver"), "--etcd-servers", etcd_url,
            "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
            "--secure-port", str(ports["apiserver"]),
            "--tls-cert-file", str(paths["server"]), "--tls-private-key-file", str(paths["server_key"]),
            "--client-ca-file", str(paths["ca"]),
            "--service-account-key-file", str(paths["sa_pub"]),
            "--service-account-signing-key-file", str(paths["sa_key"]),
            "--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
            "--service-cluster-ip-range", "10.0.0.0/24", "--authorization-mode", "Node,RBAC",
            "--allow-privileged=true", "--profiling=false",
            # pods/exec goes to the node's kubelet endpoint (lab.kubelet) at its
            # InternalIP, the client's WebSocket passed through as before 1.30:
            # with the translator on, the API server would speak SPDY to it
            "--kubelet-preferred-address-types", "InternalIP",
            "--feature-gates", "TranslateStreamCloseWebsocketRequests=false",
        ], logs / "kube-apiserver.log")
        self._wait(f"kube-apiserver of cluster {name}", popen, logs / "kube-apiserver.log",
                   lambda: get(server + "/readyz", context))
        progress(f"  kube-apiserver {server}")

        self._spawn("kube-controller-manager", name, [
            str(bin_dir / "kube-controller-manager"), "--kubeconfig", str(kubeconfig),
            "--authentication-kubeconfig", str(kubeconfig), "--authorization-kubeconfig", str(kubeconfig),
            "--service-account-private-key-file", str(paths["sa_key"]), "--root-ca-file", str(paths["ca"]),
            "--cluster-signing-cert-file", str(paths["ca"]), "--cluster-signing-key-file", str(paths["ca_key"]),
            "--leader-elect=false", "--secure-port=0", "--use-service-account-credentials=false",
            # no kubelet heartbeats: the node lifecycle controller would taint the node and evict its pods
            "--controllers=*,-node-lifecycle-controller",
        ], logs / "kube-controller-manager.log")

        classes = self._storage_classes()
        node = f"{name}-node"
        self._spawn("node", name, [
            sys.executable, "-m", "runner.realstack.node", "--kubeconfig", str(kubeconfig), "--node", node,
            "--dir", str(cdir), "--classes", ",".join(c["metadata"]["name"] for c in classes),
            "--kubelet-port", str(ports["kubelet"])],
            logs / "node.log", env={"PYTHONPATH": self._pythonpath()})
        kubelet_url = f"https://127.0.0.1:{ports['kubelet']}"
        popen = self._spawn("kubelet-exec", name, [
            sys.executable, "-m", "lab.kubelet", "--kubeconfig", str(kubeconfig), "--node-dir", str(cdir),
            "--port", str(ports["kubelet"]), "--cert", str(paths["server"]), "--key", str(paths["server_key"])],
            logs / "kubelet-exec.log", env={"PYTHONPATH": self._pythonpath()})
        insecure = ssl.create_default_context()
        insecure.check_hostname, insecure.verify_mode = False, ssl.CERT_NONE
        self._wait(f"kubelet exec endpoint of cluster {name}", popen, logs / "kubelet-exec.log",
                   lambda: _answers(kubelet_url + "/healthz", insecure))
        progress(f"  kube-controller-manager, node {node}, kubelet exec {kubelet_url}")

        self.step = f"installing Velero's objects and StorageClasses on cluster {name}"
        from kubernetes import client, config as kconfig, utils
        api = kconfig.new_client_from_config(str(kubeconfig))
        velero = str(bin_dir / "velero")
        install = subprocess.run([velero, "install", "--dry-run", "-o", "yaml", "--use-node-agent",
                                  "--no-default-backup-location", "--use-volume-snapshots=false", "--no-secret",
                                  "--namespace", VELERO_NAMESPACE], capture_output=True, text=True)
        if install.returncode != 0:
            raise StackError(f"velero install --dry-run failed: {install.stderr.strip().splitlines()[-1:]}")
        objects = []
        for doc in yaml.safe_load_all(install.stdout):
            objects += doc.get("items", [doc]) if doc else []
        # the server and node-agent run as local processes, but their objects stay:
        # the DaemonSet's (stand-in) pod tells velero server node-agent runs on the
        # node, and restores read the image of the restore-wait container from the
        # Deployment, scaled to 0 here so that no second "server" pod appears
        for o in objects:
            if o["kind"] == "Deployment":
                o["spec"]["replicas"] = 0
        crds = [o for o in objects if o["kind"] == "CustomResourceDefinition"]
        utils.create_from_yaml(api, yaml_objects=crds)
        ext = client.ApiextensionsV1Api(api)
        for crd in crds:
            self._wait(f"CRD {crd['metadata']['name']} of cluster {name}", popen, logs / "kube-apiserver.log",
                       lambda: any(c.type == "Established" and c.status == "True" for c in
                                   ext.read_custom_resource_definition(crd["metadata"]["name"]).status.conditions))
        utils.create_from_yaml(api, yaml_objects=[o for o in objects if o["kind"] != "CustomResourceDefinition"]
                               + classes)
        progress(f"  {len(crds)} Velero CRDs, node-agent DaemonSet, {len(classes)} StorageClasses")

        self.step = f"velero server and node-agent of cluster {name}"
        creds = cdir / "credentials"
        creds.write_text("".join(f"[{p}]\naws_access_key_id = {s['access_key']}\n"
                                 f"aws_secret_access_key = {s['secret_key']}\n" for p, s in
                                 [("default", next(iter(s3.values())))] + list(s3.items())))
        creds.chmod(0o600)
        client.CustomObjectsApi(api).create_namespaced_custom_object(
            "velero.io", "v1", VELERO_NAMESPACE, "backupstoragelocations", {
                "apiVersion": "velero.io/v1", "kind": "BackupStorageLocation",
                "metadata": {"name": "default", "namespace": VELERO_NAMESPACE},
                "spec": {"provider": "aws", "default": True, "objectStorage": {"bucket": BUCKET},
                         "config": bsl_config(next(iter(s3.values())))}})
        plugins = cdir / "plugins"
        plugins.mkdir(exist_ok=True)
        (plugins / "velero-plugin-for-aws").symlink_to(bin_dir / "velero-plugin-for-aws")
        env = {"AWS_SHARED_CREDENTIALS_FILE": str(creds), "VELERO_NAMESPACE": VELERO_NAMESPACE,
               "NODE_NAME": node, "HOME": str(cdir),
               "PYTHONPATH": self._pythonpath()}
        global_flags = ["--kubeconfig", str(kubeconfig), "--namespace", VELERO_NAMESPACE]
        # each Velero process in a network namespace of its own (see netns.py:
        # both want :8080), reaching the API server and S3 through forwarded ports
        netns = [sys.executable, "-m", "runner.realstack.netns", "--forward", str(ports["apiserver"])]
        for endpoint in s3.values():
            netns += ["--forward", endpoint["endpoint"].rsplit(":", 1)[1]]
        _start_early_in_a_minute()
        server_popen = self._spawn("velero-server", name, [
            *netns, "--", velero, "server", *global_flags, "--plugin-dir", str(plugins),
            # short periods: real time is all there is here, and tests wait on these
            "--uploader-type", "kopia", "--backup-sync-period", "10s", "--store-validation-frequency", "10s",
            "--garbage-collection-frequency", f"{GC_FREQUENCY_SECONDS}s", "--log-level", "info"],
            logs / "velero-server.log", env=env)
        HOST_PODS.mkdir(exist_ok=True)
        # node-agent reads pod volumes at the fixed path /host_pods: give it this
        # cluster's host_pods there in a mount namespace of its own
        self._spawn("node-agent", name, [
            *netns, "--", "unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
            'mount --bind "$0" /host_pods && exec "$@"', str(cdir / "host_pods"),
            velero, "node-agent", "server", *global_flags, "--log-level", "info"],
            logs / "node-agent.log", env=env)
        custom = client.CustomObjectsApi(api)
        self._wait(f"velero server of cluster {name} (BackupStorageLocation default)", server_popen,
                   logs / "velero-server.log",
                   lambda: custom.get_namespaced_custom_object("velero.io", "v1", VELERO_NAMESPACE,
                                                               "backupstoragelocations", "default")
                   .get("status", {}).get("phase") == "Available")
        progress("  velero server + node-agent; BackupStorageLocation default Available")
        version = json.loads(get(server + "/version", context))
        return {"server": server, "kubeconfig": str(kubeconfig), "context": name,
                "version": version["gitVersion"].lstrip("v"),
                "velero_version": build.versions(self.root)["VELERO_VERSION"].lstrip("v"),
                "node_dir": str(cdir / "volumes"), "node": node}

    def _pythonpath(self) -> str:
        """Our helper processes (node, netns) import runner from the checkout."""
        return os.pathsep.join(filter(None, [str(self.root), os.environ.get("PYTHONPATH")]))

    def _storage_classes(self) -> list[dict]:
        """The lab's engines as StorageClasses (names, provisioners, parameters as OpenEBS's own)."""
        engines = yaml.safe_load((self.root / "scenarios" / "engines.yaml").read_text())["engines"]
        return [{"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                 "metadata": {"name": e["storage_class"], "annotations": e.get("annotations", {})},
                 "provisioner": e["provisioner"], "parameters": e.get("parameters", {}),
                 "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"} for e in engines.values()]

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
        """Stop every recorded process, newest first, each before the next: an
        API server stopped together with its etcd waits for it until killed."""
        self._stop(self._read_processes() or self.processes)
        shutil.rmtree(self.dir, ignore_errors=True)
        _remove_host_pods()

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
                # what it started goes too: velero server's plugin processes outlive a server killed
                # by the netns wrapper's death signal, and nothing else would ever stop them
                _signal_session(p, signal.SIGKILL)
                while _reap(p):
                    time.sleep(0.05)


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


def _remove_host_pods():
    """/host_pods is only a mount point; remove it once no process has it mounted."""
    for mountinfo in Path("/proc").glob("[0-9]*/mountinfo"):
        try:
            if " /host_pods " in mountinfo.read_text():
                return
        except OSError:
            continue
    try:
        HOST_PODS.rmdir()
    except OSError:
        pass
