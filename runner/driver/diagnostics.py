"""What a failed scenario leaves for a human: collected before cleanup.

    collect(driver, directory) -> [paths written]

    <directory>/<cluster>/events.yaml           events of the scenario's namespaces and Velero's
    <directory>/<cluster>/objects-<ns>.yaml     every listable object in each scenario namespace
    <directory>/<cluster>/cluster-objects.yaml  cluster-scoped objects the scenario created
    <directory>/<cluster>/velero.yaml           Velero objects with status (BSLs, schedules,
                                                backups, restores, ...)
    <directory>/buckets.txt                     keys and sizes under the scenario's root
    <directory>/velero-logs/<profile>/<key>     the backup and restore logs Velero wrote there
                                                (the newest MAX_LOGS of each bucket), as text
    <directory>/errors.txt                      what could not be collected, and why

Secret values are masked (runner/redact.py); bucket credentials are never written.
"""
import gzip
import hashlib
import pathlib

import yaml

from runner import redact
from runner.driver.layout import is_log_key
from runner.driver.waits import describe
from runner.driver.velero import KINDS as VELERO_KINDS

SKIPPED_KINDS = {"Event", "Binding", "ComponentStatus"}
MAX_LOGS = 40       # per bucket: a long plan's failure is near its end


def _dump(path, documents):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all([redact.api_object(d) for d in documents], sort_keys=False))
    return path


def collect(driver, directory):
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written, errors = [], []

    def attempt(what, action, *args):
        try:
            result = action(*args)
            if isinstance(result, list):
                written.extend(result)
            elif result:
                written.append(result)
        except Exception as error:   # collect what we can; say what we could not
            errors.append(f"{what}: {describe(error)}")

    for name, client in driver.clusters().items():
        if not client.reachable():
            errors.append(f"cluster {name}: not reachable, nothing collected")
            continue
        base = directory / name
        namespaces = []
        attempt(f"cluster {name}: scenario namespaces",
                lambda: namespaces.extend(driver.scenario_namespaces(name)))
        attempt(f"cluster {name}: events", _events, client, namespaces, base / "events.yaml")
        for namespace in namespaces:
            attempt(f"cluster {name}: objects of {namespace}", _namespace_objects, client, namespace,
                    base / f"objects-{namespace}.yaml")
        attempt(f"cluster {name}: cluster objects", _cluster_objects, driver, client,
                base / "cluster-objects.yaml")
        attempt(f"cluster {name}: velero objects", _velero_objects, client, base / "velero.yaml")
    attempt("buckets", _bucket_listing, driver, directory / "buckets.txt")
    for profile in driver.target.profile_buckets:
        attempt(f"bucket {profile}: velero logs", _velero_logs, driver, profile, directory / "velero-logs" / profile)
    if errors:
        (directory / "errors.txt").write_text("\n".join(errors) + "\n")
        written.append(directory / "errors.txt")
    return written


def _events(client, namespaces, path):
    events = []
    for namespace in [*namespaces, client.velero_namespace]:
        for event in client.list("v1", "Event", namespace=namespace):
            events.append({"namespace": namespace, "type": event.get("type"), "reason": event.get("reason"),
                           "object": "{kind}/{name}".format(**{k: (event.get("involvedObject") or {}).get(k)
                                                               for k in ("kind", "name")}),
                           "message": event.get("message"), "count": event.get("count"),
                           "lastTimestamp": event.get("lastTimestamp")})
    return _dump(path, events)


def _namespace_objects(client, namespace, path):
    objects = []
    for resource in client.served():
        if not resource.namespaced or "list" not in resource.verbs or resource.kind in SKIPPED_KINDS:
            continue
        objects.extend(client.list(resource.group_version, resource.kind, namespace=namespace))
    return _dump(path, objects)


def _cluster_objects(driver, client, path):
    objects = []
    for entry in driver.tracked(cluster=client.name):
        if entry.namespace is None:
            obj = client.get(entry.api_version, entry.kind, entry.name)
            if obj:
                objects.append(obj)
    return _dump(path, objects) if objects else None


# labels by which Velero ties what it makes to a backup, restore, schedule or location
_VELERO_REFERENCES = ("velero.io/backup-name", "velero.io/restore-name", "velero.io/schedule-name",
                      "velero.io/storage-location")


def _velero_objects(client, path):
    """The scenario's Velero objects: those it labelled and those Velero made
    for them (PodVolumeBackups, DeleteBackupRequests... by their reference
    labels). On a shared cluster the other teams' are none of its business."""
    listed = []
    for kind in VELERO_KINDS:
        for obj in client.velero.list(kind):
            obj.setdefault("kind", kind)
            listed.append(obj)
    own, others = [], []
    for obj in listed:
        (own if client.isolation.owns(obj) else others).append(obj)
    names = {_velero_label_value(obj["metadata"]["name"]) for obj in own}
    related = [obj for obj in others if any(
        ((obj.get("metadata") or {}).get("labels") or {}).get(label) in names for label in _VELERO_REFERENCES)]
    return _dump(path, own + related)


def _velero_label_value(name):
    """A name as Velero writes it in a label: past 63 characters, cut to 57
    plus six hex digits of its sha256 (Velero's label.GetValidName)."""
    if len(name) <= 63:
        return name
    return name[:57] + hashlib.sha256(name.encode()).hexdigest()[:6]


def _bucket_listing(driver, path):
    lines = []
    for profile in driver.target.profile_buckets:
        try:
            bucket = driver.bucket(profile)
            infos = bucket.list(driver.scenario_root + "/")
        except Exception as error:   # a cut or missing bucket is a finding, not a crash
            lines.append(f"[{profile}] unreadable: {type(error).__name__}")
            continue
        lines.append(f"[{profile}] bucket {bucket.name}, {len(infos)} objects under {driver.scenario_root}/")
        lines.extend(f"{info.size:>12}  {info.key}" for info in infos)
    path.write_text("\n".join(lines) + "\n")
    return path


def _velero_logs(driver, profile, directory):
    """Velero's own account of each backup and restore (what an admin reads
    with `velero backup logs`), from the bucket: it outlives the cluster."""
    bucket = driver.bucket(profile)
    logs = sorted((info for info in bucket.list(driver.scenario_root + "/") if is_log_key(info.key)),
                  key=lambda info: info.last_modified)[-MAX_LOGS:]
    written = []
    for info in logs:
        path = directory / info.key[len(driver.scenario_root) + 1:].removesuffix(".gz")
        path.parent.mkdir(parents=True, exist_ok=True)
        text = gzip.decompress(bucket.get(info.key)).decode("utf-8", errors="replace")
        path.write_text("\n".join(redact.text(line) for line in text.splitlines()) + "\n")
        written.append(path)
    return written
