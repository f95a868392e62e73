"""Pod exec runtime: what `kubectl exec` / `pods/exec` runs in a lab pod.

Pods do not run their images. A command runs on this machine (its own
/bin/sh tools) in a per-pod scratch directory, with the pod's volumes
mapped onto the node: every word of argv (and every occurrence inside an
`sh -c` script) that starts with a volumeMount path is rewritten to the
directory backing that volume (PVC -> PV -> node_dir/volumes/<pv>; emptyDir
-> node_dir/pods/<uid>/volumes/<name>; configMap / secret -> their keys
written as files there). Container env values are passed through.
"""
import base64
import os
import re
import shutil
import subprocess

from lab.apiserver.errors import BadRequest, NotFound
from lab.controllers.storage import volume_dir

EXEC_TIMEOUT = 60
_SHELLS = {"sh", "/bin/sh", "bash", "/bin/bash", "/usr/bin/sh", "/usr/bin/bash", "ash", "/bin/ash"}


class PodRuntime:
    """The exec handler of one cluster (called by the API server)."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.store = cluster.store
        self.store.add_listener(self._on_change)

    def pod_dir(self, uid):
        return self.cluster.node_dir / "pods" / uid

    def _on_change(self, event, group, plural, obj):
        # The kubelet removes a deleted pod's scratch space and emptyDirs.
        if event == "DELETED" and (group, plural) == ("", "pods"):
            shutil.rmtree(self.pod_dir(obj["metadata"]["uid"]), ignore_errors=True)

    def __call__(self, namespace, pod_name, container, argv, stdin=None):
        """Run argv in the pod -> (exit code, stdout bytes, stderr bytes)."""
        pod = self.store.get("", "pods", namespace, pod_name)
        if pod is None:
            raise NotFound(f'pods "{pod_name}" not found', {"name": pod_name, "kind": "pods"})
        spec = pod.get("spec") or {}
        containers = spec.get("containers") or []
        if not containers:
            raise BadRequest(f"pod {pod_name} has no containers")
        if container is None:
            chosen = containers[0]
        else:
            chosen = next((c for c in containers if c.get("name") == container), None)
            if chosen is None:
                raise BadRequest(f"container {container} is not valid for pod {pod_name}")
        if (pod.get("status") or {}).get("phase") != "Running":
            raise BadRequest(f"unable to upgrade connection: pod {pod_name} is not running "
                             f"(phase {(pod.get('status') or {}).get('phase', 'Pending')})")
        if not argv:
            raise BadRequest("you must specify at least one command for the container")
        scratch = self.pod_dir(pod["metadata"]["uid"]) / "scratch"
        scratch.mkdir(parents=True, exist_ok=True)
        mounts = self._mounts(pod, chosen)
        command = rewrite_argv(list(argv), mounts)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(scratch),
               "HOSTNAME": pod_name, **self._env(namespace, chosen)}
        try:
            done = subprocess.run(command, input=stdin or b"", capture_output=True, cwd=scratch,
                                  env=env, timeout=EXEC_TIMEOUT)
        except FileNotFoundError:
            return 127, b"", f'exec: "{argv[0]}": executable file not found in $PATH\n'.encode()
        except PermissionError:
            return 126, b"", f'exec: "{argv[0]}": permission denied\n'.encode()
        except subprocess.TimeoutExpired as expired:
            return 137, expired.stdout or b"", (expired.stderr or b"") + \
                f"command timed out after {EXEC_TIMEOUT}s (lab exec limit)\n".encode()
        return done.returncode, done.stdout, done.stderr

    # volumes ---------------------------------------------------------------
    def _mounts(self, pod, container):
        """[(mountPath, node directory)] for the container's volumeMounts."""
        volumes = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or []}
        mounts = []
        for mount in container.get("volumeMounts") or []:
            volume = volumes.get(mount.get("name"))
            if volume is None or not mount.get("mountPath"):
                continue
            source = self._volume_source(pod, volume)
            if source is None:
                continue
            if mount.get("subPath"):
                source = source / mount["subPath"]
                source.mkdir(parents=True, exist_ok=True)
            path = mount["mountPath"].rstrip("/")
            if path:            # a volume mounted at / cannot be told apart from the host's files
                mounts.append((path, source))
        return mounts

    def _volume_source(self, pod, volume):
        namespace = pod["metadata"]["namespace"]
        local = self.pod_dir(pod["metadata"]["uid"]) / "volumes" / volume["name"]
        if volume.get("persistentVolumeClaim"):
            claim = self.store.get("", "persistentvolumeclaims", namespace,
                                   volume["persistentVolumeClaim"].get("claimName"))
            pv_name = ((claim or {}).get("spec") or {}).get("volumeName")
            if not pv_name:
                return None
            path = volume_dir(self.cluster, pv_name)
            path.mkdir(parents=True, exist_ok=True)
            return path
        if "emptyDir" in volume:
            local.mkdir(parents=True, exist_ok=True)
            return local
        for kind, plural, key in (("configMap", "configmaps", "name"), ("secret", "secrets", "secretName")):
            if volume.get(kind):
                source = self.store.get("", plural, namespace, volume[kind].get(key))
                local.mkdir(parents=True, exist_ok=True)
                for item_name, value in _data_items(source):
                    (local / item_name).write_bytes(value)
                return local
        return None

    def _env(self, namespace, container):
        env = {}
        for var in container.get("env") or []:
            if "value" in var:
                env[var["name"]] = str(var["value"])
                continue
            ref = var.get("valueFrom") or {}
            for kind, plural in (("configMapKeyRef", "configmaps"), ("secretKeyRef", "secrets")):
                if ref.get(kind):
                    source = self.store.get("", plural, namespace, ref[kind].get("name"))
                    values = dict(_data_items(source))
                    if ref[kind].get("key") in values:
                        env[var["name"]] = values[ref[kind]["key"]].decode(errors="replace")
        return env


def _data_items(source):
    """(key, bytes) of a ConfigMap's or Secret's data."""
    if source is None:
        return []
    items = [(k, str(v).encode()) for k, v in (source.get("stringData") or {}).items()]
    if source.get("kind") == "Secret":
        items += [(k, base64.b64decode(v)) for k, v in (source.get("data") or {}).items()]
    else:
        items += [(k, str(v).encode()) for k, v in (source.get("data") or {}).items()]
        items += [(k, base64.b64decode(v)) for k, v in (source.get("binaryData") or {}).items()]
    return items


def rewrite_argv(argv, mounts):
    """Map mount paths onto node directories in argv words and `sh -c` scripts."""
    if not mounts:
        return argv
    # Longest mount path first so /data/logs wins over /data.
    ordered = sorted(mounts, key=lambda m: len(m[0]), reverse=True)
    pattern = re.compile(r"(?<![\w./-])(" + "|".join(re.escape(p) for p, _ in ordered) + r")(?=/|$|[^\w.-])")
    targets = {p: str(d) for p, d in ordered}

    def rewrite(text):
        return pattern.sub(lambda m: targets[m.group(1)], text)

    if len(argv) >= 3 and argv[0] in _SHELLS and argv[1] == "-c":
        return argv[:2] + [rewrite(argv[2])] + [rewrite(a) for a in argv[3:]]
    return [argv[0]] + [rewrite(a) for a in argv[1:]]
