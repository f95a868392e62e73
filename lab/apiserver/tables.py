"""Server-side printing: the meta.k8s.io/v1 Table kubectl asks for
(`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`). Ages are
computed on the lab's virtual clock, as kube-apiserver computes them on its
own clock, so `kubectl get` shows lab time. Columns follow kube-apiserver's
printers for the common types; CRDs use their additionalPrinterColumns."""
import datetime

from .registry import CRD_GROUP, CRD_PLURAL


def wants_table(accept):
    return "as=Table" in (accept or "") and "g=meta.k8s.io" in accept


def human_duration(seconds):
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    seconds = int(seconds)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes, hours = seconds // 60, seconds // 3600
    if minutes < 10:
        return f"{minutes}m" if seconds % 60 == 0 else f"{minutes}m{seconds % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def _path(obj, dotted):
    value = obj
    for part in dotted.strip(".").split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _ready_containers(pod):
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    total = len((pod.get("spec") or {}).get("containers") or [])
    return f"{sum(1 for s in statuses if s.get('ready'))}/{total}"


def _ratio(obj, ready_field):
    status = obj.get("status") or {}
    return f"{status.get(ready_field) or 0}/{(obj.get('spec') or {}).get('replicas', 1)}"


_COLUMNS = {
    ("", "namespaces"): [("Status", lambda o: _path(o, "status.phase"))],
    ("", "pods"): [("Ready", _ready_containers), ("Status", lambda o: _path(o, "status.phase")),
                   ("Restarts", lambda o: sum(s.get("restartCount", 0) for s in
                                              (o.get("status") or {}).get("containerStatuses") or []))],
    ("", "persistentvolumeclaims"): [
        ("Status", lambda o: _path(o, "status.phase")), ("Volume", lambda o: _path(o, "spec.volumeName")),
        ("Capacity", lambda o: _path(o, "status.capacity.storage")),
        ("Access Modes", lambda o: ",".join(_path(o, "status.accessModes") or [])),
        ("StorageClass", lambda o: _path(o, "spec.storageClassName"))],
    ("", "persistentvolumes"): [
        ("Capacity", lambda o: _path(o, "spec.capacity.storage")),
        ("Access Modes", lambda o: ",".join(_path(o, "spec.accessModes") or [])),
        ("Reclaim Policy", lambda o: _path(o, "spec.persistentVolumeReclaimPolicy")),
        ("Status", lambda o: _path(o, "status.phase")),
        ("Claim", lambda o: "/".join(filter(None, [_path(o, "spec.claimRef.namespace"),
                                                   _path(o, "spec.claimRef.name")]))),
        ("StorageClass", lambda o: _path(o, "spec.storageClassName"))],
    ("apps", "deployments"): [("Ready", lambda o: _ratio(o, "readyReplicas")),
                              ("Up-to-date", lambda o: _path(o, "status.updatedReplicas") or 0),
                              ("Available", lambda o: _path(o, "status.availableReplicas") or 0)],
    ("apps", "statefulsets"): [("Ready", lambda o: _ratio(o, "readyReplicas"))],
    ("storage.k8s.io", "storageclasses"): [("Provisioner", lambda o: o.get("provisioner"))],
}


def _custom_columns(store, rtype):
    crd = store.get(CRD_GROUP, CRD_PLURAL, None, f"{rtype.plural}.{rtype.group}")
    versions = (crd or {}).get("spec", {}).get("versions") or []
    printer = next((v.get("additionalPrinterColumns") for v in versions if v.get("name") == rtype.versions[0]), None)
    return [(c["name"], lambda o, p=c["jsonPath"]: _path(o, p)) for c in printer or []
            if c.get("jsonPath", "").startswith(".") and "[" not in c["jsonPath"]]


def table(store, rtype, objects, include_object="Metadata"):
    """The Table of `objects` with the type's columns and a virtual-clock Age."""
    columns = _COLUMNS.get((rtype.group, rtype.plural)) or _custom_columns(store, rtype)
    now = store.clock.now()

    def age(obj):
        stamp = obj["metadata"].get("creationTimestamp")
        if not stamp:
            return "<unknown>"
        created = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
        return human_duration((now - created).total_seconds())

    def row_object(obj):
        if include_object == "None":
            return None
        if include_object == "Object":
            return obj
        return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}

    definitions = [{"name": "Name", "type": "string", "format": "name", "description": "", "priority": 0}]
    definitions += [{"name": name, "type": "string", "format": "", "description": "", "priority": 0}
                    for name, _ in columns]
    definitions.append({"name": "Age", "type": "string", "format": "", "description": "", "priority": 0})
    rows = [{"cells": [obj["metadata"]["name"]] + [cell(obj) if cell(obj) is not None else "<none>"
                                                   for _, cell in columns] + [age(obj)],
             "object": row_object(obj)} for obj in objects]
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
            "metadata": {"resourceVersion": store.resource_version()},
            "columnDefinitions": definitions, "rows": rows}
