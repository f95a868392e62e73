"""Data movement: a data-only backup (claims, volumes, their snapshots) of
one cluster's app poured into another cluster's own installation of that
app, which keeps its own sizing (replicas, resources, configuration).

How: the backup is restored on the target cluster into a scratch namespace
(namespaceMapping), which brings the source claims back with their data.
The target app's workloads are scaled to 0 so nothing writes, then for each
target claim a reader pod (scratch namespace, source claim at /src) and a
writer pod (target namespace, target claim at /dst) copy the files as a
tar stream through pod exec (base64 text, since exec streams are text):
the target claim is emptied first, so it ends up equal to the source.
A target claim with no source claim of the same name takes the data of
the source's replica 0 of that component (replicated apps hold the same
data on every replica). Then the helper pods and the scratch namespace are
deleted and the workloads scaled back to their replicas."""
from __future__ import annotations

from runner.apps import catalogue
from runner.apps.probes import apps_in
from runner.dmaas.records import MoveResult
from runner.dmaas.restores import delete_namespaces, run_restore, unique_name
from runner.driver.waits import wait_until

HELPER_IMAGE = "busybox:1.36"
CHUNK_CHARS = 32 * 1024


class MoveError(Exception):
    """The data could not be moved (message names the step that failed)."""


def _sh(client, namespace, pod, script):
    rc, out, err = client.exec(namespace, pod, ["sh", "-c", script])
    if rc != 0:
        raise MoveError(f"exec in pod {namespace}/{pod} exited {rc}: {str(err).strip()[:300]}")
    return out


def _helper_pod(client, namespace, name, claim, mount):
    client.apply({"apiVersion": "v1", "kind": "Pod",
                  "metadata": {"name": name, "namespace": namespace,
                               "labels": {"app.kubernetes.io/managed-by": "dmaas-mover"}},
                  "spec": {"restartPolicy": "Never",
                           "containers": [{"name": "mover", "image": HELPER_IMAGE, "command": ["sleep", "3600"],
                                           "volumeMounts": [{"name": "data", "mountPath": mount}]}],
                           "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]}})
    wait_until(f"helper pod {namespace}/{name} to run",
          lambda: ((client.get("v1", "Pod", name, namespace) or {}).get("status") or {}).get("phase") == "Running",
               "data_movement")


def _scale(client, namespace, kind, name, replicas):
    patch = {"spec": {"replicas": replicas}}
    if kind == "StatefulSet":
        client.apps.patch_namespaced_stateful_set(name, namespace, patch)
    else:
        client.apps.patch_namespaced_deployment(name, namespace, patch)


def _pods_of(client, namespace, component):
    return client.list("v1", "Pod", namespace=namespace,
                       label_selector=f"{catalogue.COMPONENT}={component}")


def _copy(client, source_ns, source_claim, target_ns, target_claim):
    reader, writer = unique_name("dmaas-read"), unique_name("dmaas-write")
    _helper_pod(client, source_ns, reader, source_claim, "/src")
    _helper_pod(client, target_ns, writer, target_claim, "/dst")
    try:
        archive = _sh(client, source_ns, reader, "cd /src && tar cf - . | base64").replace("\n", "")
        _sh(client, target_ns, writer, "cd /dst && rm -rf ./* ./.[!.]* && : > .dmaas-move.b64")
        for offset in range(0, len(archive), CHUNK_CHARS):
            _sh(client, target_ns, writer,
                f"printf '%s' '{archive[offset:offset + CHUNK_CHARS]}' >> /dst/.dmaas-move.b64")
        _sh(client, target_ns, writer,
            "cd /dst && base64 -d < .dmaas-move.b64 | tar xf - && rm .dmaas-move.b64")
    finally:
        client.delete("v1", "Pod", reader, source_ns)
        client.delete("v1", "Pod", writer, target_ns)


def _claim_pairs(component, replicas):
    """[(claim, the same volume's claim of replica 0)] of a component."""
    if component.kind != "StatefulSet":
        return [(claim, claim) for claim in component.claim_names(replicas)]
    return [(f"{v.name}-{component.name}-{i}", f"{v.name}-{component.name}-0")
            for v in component.volumes for i in range(replicas)]


def move(client, backup_name, source_namespace, target_namespace, layout):
    """See the module docstring. Returns a MoveResult."""
    apps = apps_in(client, target_namespace)
    if not apps:
        raise MoveError(f"no catalogue application in namespace {target_namespace} of cluster {client.name}")
    scratch = unique_name(f"{target_namespace}-move")
    restore = run_restore(client, backup_name, layout, {source_namespace: scratch})
    if restore.phase != "Completed":
        delete_namespaces(client, [scratch])
        raise MoveError(f"restore {restore.name} of {backup_name} ended {restore.phase}: "
                        f"{'; '.join(restore.messages[:3])}")
    copied, replicas = {}, {}
    try:
        wait_until(f"claims restored in namespace {scratch}",
              lambda: all(((p.get("status") or {}).get("phase") == "Bound")
                          for p in client.list("v1", "PersistentVolumeClaim", namespace=scratch)))
        source_claims = {p["metadata"]["name"] for p in client.list("v1", "PersistentVolumeClaim", namespace=scratch)}
        for app in apps:
            spec = catalogue.get(app)
            for component in (c for c in spec.components if c.volumes and c.kind != "CronJob"):
                workload = client.get("apps/v1", component.kind, component.name, target_namespace)
                if workload is None:
                    continue
                count = (workload.get("spec") or {}).get("replicas", 1)
                replicas[f"{component.kind}/{component.name}"] = count
                _scale(client, target_namespace, component.kind, component.name, 0)
                wait_until(f"pods of {component.kind} {target_namespace}/{component.name} to stop",
                      lambda: not _pods_of(client, target_namespace, component.name))
                for target_claim, replica_zero in _claim_pairs(component, count):
                    source_claim = target_claim if target_claim in source_claims else replica_zero
                    if source_claim not in source_claims:
                        raise MoveError(f"backup {backup_name} has no claim {source_claim} for {target_claim}")
                    _copy(client, scratch, source_claim, target_namespace, target_claim)
                    copied[target_claim] = source_claim
                _scale(client, target_namespace, component.kind, component.name, count)
    finally:
        delete_namespaces(client, [scratch])
    return MoveResult(backup=backup_name, cluster=client.name, namespace=target_namespace, restore=restore,
                      copied=copied, replicas=replicas)
