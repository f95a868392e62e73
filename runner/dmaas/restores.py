"""Restores and restore-to-verify.

restore(): a Velero Restore of a backup the cluster knows (waiting for the
backup sync first), with the VolumeSnapshotLocations the backup names
created on that cluster if missing (a new cluster has none), then its
terminal phase plus the messages of the results file Velero writes to the
bucket (restores/<name>/restore-<name>-results.gz) and the resources its log
there says it could not resolve on the target (wording.py).

verify(): restore into scratch namespaces, wait for the app(s) there,
read their data and invariants, record what came back, delete the scratch
namespaces and wait until they are gone."""
from __future__ import annotations

import secrets

from runner.apps.probes import DataProbe, apps_in
from runner.dmaas import wording
from runner.dmaas.records import RestoreRecord, Verification
from runner.driver.waits import WaitTimeout, wait_until

FOUND_KINDS = (("apps/v1", "StatefulSet"), ("apps/v1", "Deployment"), ("v1", "ConfigMap"), ("v1", "Secret"),
               ("v1", "Service"), ("v1", "ServiceAccount"), ("v1", "PersistentVolumeClaim"),
               ("batch/v1", "CronJob"), ("networking.k8s.io/v1", "Ingress"))


def unique_name(base, limit=63):
    suffix = secrets.token_hex(3)
    return f"{base[:limit - len(suffix) - 1].rstrip('-')}-{suffix}"


def _flatten(results):
    messages = list(results.get("velero") or []) + list(results.get("cluster") or [])
    for namespace, items in sorted((results.get("namespaces") or {}).items()):
        messages += [f"{namespace}: {item}" for item in items]
    return messages


def results_messages(layout, restore_name):
    """(errors, warnings) from the restore's results file, or ([], []) if absent."""
    data = layout.restore_results(restore_name)
    if data is None:        # not written (validation failed before upload) or unreadable
        return [], []
    return _flatten(data.get("errors") or {}), _flatten(data.get("warnings") or {})


def run_restore(client, backup_name, layout, namespace_mapping=None, timeout="restore"):
    name = unique_name(backup_name)
    spec = {"backupName": backup_name, "includedNamespaces": ["*"], "restorePVs": True}
    if namespace_mapping:
        spec["namespaceMapping"] = dict(namespace_mapping)
    client.velero.create("Restore", name, spec)
    obj = client.velero.wait_restore(name, timeout=timeout)
    status = obj.get("status") or {}
    errors, warnings = results_messages(layout, name)
    messages = list(status.get("validationErrors") or [])
    if status.get("failureReason"):
        messages.append(status["failureReason"])
    return RestoreRecord(name=name, phase=status.get("phase"), errors=errors, warnings=warnings,
                         messages=messages + errors + warnings, backup=backup_name, cluster=client.name,
                         namespace_mapping=dict(namespace_mapping or {}),
                         unresolved=wording.unresolved_resources(layout.restore_log(name)))


def found_objects(client, namespace):
    found = {}
    for api_version, kind in FOUND_KINDS:
        try:
            names = sorted(o["metadata"]["name"] for o in client.list(api_version, kind, namespace=namespace))
        except Exception:       # a kind this cluster does not serve
            continue
        if names:
            found[kind] = names
    return found


def delete_namespaces(client, namespaces, timeout="namespace_gone"):
    """Deletes namespaces and waits until they are gone; True if they are."""
    for namespace in namespaces:
        client.delete("v1", "Namespace", namespace)
    try:
        return wait_until(f"namespaces {', '.join(namespaces)} to be gone from cluster {client.name}",
                          lambda: all(client.get("v1", "Namespace", ns) is None for ns in namespaces), timeout)
    except WaitTimeout:
        return False


def verify(client, backup_name, namespaces, layout, expected=None):
    """Restore-to-verify on `client`; see the module docstring."""
    mapping = {ns: unique_name(f"{ns}-verify") for ns in namespaces}
    restore = run_restore(client, backup_name, layout, mapping)
    problems, found, state = [], {}, None
    if restore.phase != "Completed":
        detail = "; ".join(restore.messages[:3])
        problems.append(f"restore {restore.name} of backup {backup_name} ended {restore.phase}"
                        + (f": {detail}" if detail else ""))
    else:
        for source, scratch in mapping.items():
            for kind, names in found_objects(client, scratch).items():
                found[kind] = sorted(set(found.get(kind, [])) | set(names))
            for app in apps_in(client, scratch):
                probe = DataProbe(client, scratch, app)
                try:
                    probe.wait_ready()
                    state = probe.state()
                    problems += [f"{app}: {p}" for p in probe.consistency_problems()]
                except Exception as exc:        # ProbeError, ApiException: the verification failed
                    problems.append(f"{app} in {scratch}: {exc}")
        if expected is not None and state is not None and state != expected:
            problems.append("restored data differs from the data recorded at backup time: "
                            + "; ".join(state.differences(expected, limit=5)))
        if expected is not None and state is None and not problems:
            problems.append("no application data found in the restored namespaces")
    cleaned = delete_namespaces(client, list(mapping.values()))
    return Verification(backup=backup_name, cluster=client.name, namespace=next(iter(mapping.values()), ""),
                        restore=restore, state=state, found=found, cleaned_up=cleaned, problems=problems,
                        passed=not problems, namespaces=mapping)
