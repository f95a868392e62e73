"""The real stack's node: kubelet stand-in and local-PV provisioner in one process.

    python -m runner.realstack.node --kubeconfig K --node NAME --dir D --classes C1,C2...

No container runtime runs here, so, like the lab, pods never run images: this
process does on the real API what kubelet, the scheduler and the OpenEBS
local provisioner would, and no more:

- registers one Ready Node (the node lifecycle controller is off, so no
  heartbeats are needed);
- binds unscheduled pods to it (there is no kube-scheduler);
- provisions a `local` PV (a directory D/volumes/<pv>) for each pending PVC of
  our StorageClasses and deletes the directory when the PV is released.
  `local`, not `hostPath`: Velero refuses file-system backup of hostPath PVs;
- lays out D/host_pods/<pod uid>/volumes/<plugin>/<volume> as kubelet does
  (symlinks to the volume directories), which node-agent sees as /host_pods;
- reports pods Running, except Velero's restore-wait init container, which
  stays running until every volume it mounts holds its done file, as
  velero-restore-helper does; Job pods complete at once;
- finishes graceful deletions (kubelet confirms them with grace 0).

It polls (every POLL seconds) rather than watches: a handful of objects,
and a poll cannot miss an event.
"""
from __future__ import annotations

import argparse
import datetime
import logging
import shutil
import time
from pathlib import Path

from kubernetes import client, config
from kubernetes.client.rest import ApiException

POLL = 0.5
PROVISIONER_ANNOTATION = "pv.kubernetes.io/provisioned-by"
PROVISIONED_BY = "dmaas.local/realstack-node"
RESTORE_WAIT = "restore-wait"
log = logging.getLogger("realstack.node")


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Node:
    def __init__(self, kubeconfig: str, name: str, state_dir: Path, classes: set[str], kubelet_port: int = 0):
        config.load_kube_config(kubeconfig)
        self.core = client.CoreV1Api()
        self.name = name
        self.volumes = state_dir / "volumes"
        self.host_pods = state_dir / "host_pods"
        self.classes = classes
        self.kubelet_port = kubelet_port     # where lab.kubelet serves this node's pods/exec
        self.volumes.mkdir(parents=True, exist_ok=True)
        self.host_pods.mkdir(parents=True, exist_ok=True)

    # the Node ----------------------------------------------------------------
    def register(self):
        body = {"metadata": {"name": self.name, "labels": {"kubernetes.io/hostname": self.name,
                                                            "kubernetes.io/os": "linux",
                                                            "kubernetes.io/arch": "amd64"}}}
        try:
            self.core.create_node(body)
        except ApiException as error:
            if error.status != 409:
                raise
        resources = {"cpu": "16", "memory": "64Gi", "pods": "250", "ephemeral-storage": "200Gi"}
        self.core.patch_node_status(self.name, {"status": {
            "capacity": resources, "allocatable": resources,
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                          {"type": "Hostname", "address": self.name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.kubelet_port}},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "realstack node stand-in", "lastHeartbeatTime": _now(),
                            "lastTransitionTime": _now()}],
            "nodeInfo": {"kubeletVersion": "realstack", "operatingSystem": "linux", "architecture": "amd64",
                         "containerRuntimeVersion": "none://", "kernelVersion": "", "osImage": "",
                         "kubeProxyVersion": "", "machineID": "", "systemUUID": "", "bootID": ""}}})
        # the TaintNodesByCondition admission taints a new node not-ready; the node
        # lifecycle controller (off here) would lift it once the node reports Ready
        self.core.patch_node(self.name, {"spec": {"taints": None}})

    # volumes -----------------------------------------------------------------
    def provision(self):
        for pvc in self.core.list_persistent_volume_claim_for_all_namespaces().items:
            if (pvc.spec.storage_class_name not in self.classes or pvc.spec.volume_name
                    or pvc.status.phase != "Pending" or pvc.metadata.deletion_timestamp):
                continue
            name = f"pvc-{pvc.metadata.uid}"
            path = self.volumes / name
            path.mkdir(exist_ok=True)
            path.chmod(0o777)      # any pod user may write, as OpenEBS hostpath dirs
            pv = {"metadata": {"name": name, "annotations": {PROVISIONER_ANNOTATION: PROVISIONED_BY}},
                  "spec": {"capacity": {"storage": pvc.spec.resources.requests["storage"]},
                           "accessModes": pvc.spec.access_modes,
                           "persistentVolumeReclaimPolicy": "Delete",
                           "storageClassName": pvc.spec.storage_class_name,
                           "volumeMode": pvc.spec.volume_mode or "Filesystem",
                           "claimRef": {"namespace": pvc.metadata.namespace, "name": pvc.metadata.name,
                                        "uid": pvc.metadata.uid},
                           "local": {"path": str(path)},
                           "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                               {"key": "kubernetes.io/hostname", "operator": "In", "values": [self.name]}]}]}}}}
            try:
                self.core.create_persistent_volume(pv)
                log.info("provisioned %s for %s/%s", name, pvc.metadata.namespace, pvc.metadata.name)
            except ApiException as error:
                if error.status != 409:
                    raise
        for pv in self.core.list_persistent_volume().items:
            ours = (pv.metadata.annotations or {}).get(PROVISIONER_ANNOTATION) == PROVISIONED_BY
            if ours and pv.status.phase in ("Released", "Failed") and not pv.metadata.deletion_timestamp:
                shutil.rmtree(self.volumes / pv.metadata.name, ignore_errors=True)
                self._ignore_404(self.core.delete_persistent_volume, pv.metadata.name)
                log.info("deleted released %s", pv.metadata.name)

    # pods --------------------------------------------------------------------
    def pods(self):
        claims = {(c.metadata.namespace, c.metadata.name): c
                  for c in self.core.list_persistent_volume_claim_for_all_namespaces().items}
        for pod in self.core.list_pod_for_all_namespaces().items:
            if not pod.spec.node_name:
                if not pod.metadata.deletion_timestamp:
                    self._bind(pod)
                continue
            if pod.spec.node_name != self.name:
                continue
            if pod.metadata.deletion_timestamp:
                shutil.rmtree(self.host_pods / pod.metadata.uid, ignore_errors=True)
                self._ignore_404(self.core.delete_namespaced_pod, pod.metadata.name, pod.metadata.namespace,
                                 grace_period_seconds=0)
                continue
            if pod.status.phase in ("Succeeded", "Failed"):
                continue
            mounts = self._mount(pod, claims)
            if mounts is not None:
                self._report(pod, mounts)

    def _bind(self, pod):
        body = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": pod.metadata.name},
                "target": {"apiVersion": "v1", "kind": "Node", "name": self.name}}
        try:
            # _preload_content=False: the client cannot deserialise a Binding reply
            self.core.create_namespaced_pod_binding(pod.metadata.name, pod.metadata.namespace, body,
                                                    _preload_content=False)
        except ApiException as error:
            if error.status not in (404, 409):
                raise

    def _mount(self, pod, claims) -> dict[str, Path] | None:
        """Lay out the pod's volumes under host_pods -> {volume name: data dir},
        or None while a claim is not bound yet (kubelet would wait too)."""
        base = self.host_pods / pod.metadata.uid / "volumes"
        mounts = {}
        for volume in pod.spec.volumes or []:
            if volume.persistent_volume_claim:
                claim = claims.get((pod.metadata.namespace, volume.persistent_volume_claim.claim_name))
                if claim is None or claim.status.phase != "Bound":
                    return None
                source = self.volumes / claim.spec.volume_name
                link = base / "kubernetes.io~local-volume" / claim.spec.volume_name
                if not source.is_dir():
                    return None         # not one of ours (no way to mount it here)
                link.parent.mkdir(parents=True, exist_ok=True)
                if not link.is_symlink():
                    link.symlink_to(source)
                mounts[volume.name] = source
            elif volume.empty_dir is not None:
                path = base / "kubernetes.io~empty-dir" / volume.name
                path.mkdir(parents=True, exist_ok=True)
                mounts[volume.name] = path
        base.mkdir(parents=True, exist_ok=True)     # node-agent wants a dir per running pod
        return mounts

    def _report(self, pod, mounts):
        """Patch the pod's status to what a kubelet would report, if it differs."""
        waiting = False
        init_statuses = []
        for container in pod.spec.init_containers or []:
            if container.name == RESTORE_WAIT:
                # velero-restore-helper: done when each mounted volume has .velero/<restore uid>
                uid = (container.args or [""])[0]
                volumes = [mounts.get(m.name) for m in container.volume_mounts or []
                           if m.mount_path.startswith("/restores/")]    # the helper looks there only
                waiting = not _restore_wait_done(pod) and not all(
                    v is not None and (v / ".velero" / uid).exists() for v in volumes)
                if not waiting:
                    for v in volumes:
                        shutil.rmtree(v / ".velero", ignore_errors=True)
            init_statuses.append(self._status(container, running=waiting and container.name == RESTORE_WAIT,
                                              done=not waiting or container.name != RESTORE_WAIT))
        job = any(o.kind == "Job" for o in pod.metadata.owner_references or [])
        phase = "Pending" if waiting else ("Succeeded" if job else "Running")
        if pod.status.phase == phase and (waiting == _restore_wait_running(pod)):
            return
        ready = "True" if phase == "Running" else "False"
        status = {"phase": phase, "hostIP": "127.0.0.1", "podIP": "127.0.0.1",
                  "podIPs": [{"ip": "127.0.0.1"}], "startTime": pod.status.start_time and
                  pod.status.start_time.strftime("%Y-%m-%dT%H:%M:%SZ") or _now(),
                  "conditions": [{"type": t, "status": s, "lastTransitionTime": _now()} for t, s in
                                 (("PodScheduled", "True"), ("Initialized", "False" if waiting else "True"),
                                  ("ContainersReady", ready), ("Ready", ready))],
                  "initContainerStatuses": init_statuses,
                  "containerStatuses": [self._status(c, running=phase == "Running", done=phase == "Succeeded",
                                                     waiting=waiting) for c in pod.spec.containers]}
        self._ignore_404(self.core.patch_namespaced_pod_status, pod.metadata.name, pod.metadata.namespace,
                         {"status": status})
        log.info("pod %s/%s: %s", pod.metadata.namespace, pod.metadata.name,
                 "restore-wait running" if waiting else phase)

    @staticmethod
    def _status(container, running=False, done=False, waiting=False):
        if running:
            state = {"running": {"startedAt": _now()}}
        elif done:
            state = {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": _now(), "finishedAt": _now()}}
        else:
            state = {"waiting": {"reason": "PodInitializing" if waiting else "ContainerCreating"}}
        return {"name": container.name, "image": container.image or "", "imageID": "", "restartCount": 0,
                "ready": running and not waiting, "started": running, "state": state}

    @staticmethod
    def _ignore_404(call, *args, **kwargs):
        try:
            call(*args, **kwargs)
        except ApiException as error:
            if error.status != 404:
                raise

    def run(self):
        self.register()
        log.info("node %s registered", self.name)
        while True:
            try:
                self.provision()
                self.pods()
            except ApiException as error:       # a conflict or a restarting API server: try again
                log.warning("API error (retrying): %s %s", error.status, error.reason)
            time.sleep(POLL)


def _restore_wait_done(pod) -> bool:
    return any(s.name == RESTORE_WAIT and s.state and s.state.terminated
               for s in pod.status.init_container_statuses or [])


def _restore_wait_running(pod) -> bool:
    return any(s.name == RESTORE_WAIT and s.state and s.state.running
               for s in pod.status.init_container_statuses or [])


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m runner.realstack.node")
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--node", required=True)
    parser.add_argument("--dir", required=True, type=Path)
    parser.add_argument("--classes", required=True, help="comma-separated StorageClass names to provision")
    parser.add_argument("--kubelet-port", type=int, default=0, help="the node's kubelet (exec) endpoint port")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    Node(args.kubeconfig, args.node, args.dir, set(args.classes.split(",")), args.kubelet_port).run()


if __name__ == "__main__":
    main()
