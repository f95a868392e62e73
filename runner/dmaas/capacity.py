"""Capacity: will the next backup of some namespaces fit in a bucket?

needed = the file data on the namespaces' app volumes (read through the
probes; claims no catalogue app covers count with their requested size)
+ the size of the namespaces' resource manifests. free = capacity - the
bytes the bucket holds now. The capacity is a DMaaS setting per bucket
profile (kept on every BSL of that bucket as annotation
dmaas.openebs.io/capacity-bytes; on the lab the bucket also gets that quota)."""
from __future__ import annotations

import json

from runner.apps.probes import DataProbe, apps_in
from runner.dmaas.records import CapacityWarning

MANIFEST_KINDS = (("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "Service"), ("v1", "ServiceAccount"),
                  ("v1", "PersistentVolumeClaim"), ("apps/v1", "StatefulSet"), ("apps/v1", "Deployment"),
                  ("v1", "Pod"))
_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "K": 10**3, "k": 10**3, "M": 10**6,
          "G": 10**9, "T": 10**12}


def quantity_bytes(text):
    """A Kubernetes quantity ("1Gi", "500M", "1024") -> bytes."""
    text = str(text).strip()
    for suffix in sorted(_UNITS, key=len, reverse=True):
        if text.endswith(suffix):
            return int(float(text[:-len(suffix)]) * _UNITS[suffix])
    return int(float(text))


def needed_bytes(client, namespaces):
    total = 0
    for namespace in namespaces:
        covered = set()
        for app in apps_in(client, namespace):
            probe = DataProbe(client, namespace, app)
            covered |= {t.pvc for t in probe.targets()}
            total += probe.data_bytes()
        for api_version, kind in MANIFEST_KINDS:
            for obj in client.list(api_version, kind, namespace=namespace):
                total += len(json.dumps(obj))
                if kind == "PersistentVolumeClaim" and obj["metadata"]["name"] not in covered:
                    request = ((obj.get("spec") or {}).get("resources") or {}).get("requests", {}).get("storage")
                    total += quantity_bytes(request) if request else 0
    return total


def check(profile, capacity, used, needed):
    """CapacityWarning when `needed` exceeds what is free, else None."""
    if capacity is None:
        return None
    free = max(capacity - used, 0)
    if needed <= free:
        return None
    return CapacityWarning(bucket=profile, needed_bytes=needed, free_bytes=free, capacity_bytes=capacity,
                           used_bytes=used,
                           message=f"the {profile} bucket has {free} bytes free of {capacity} "
                                   f"({used} used); the next backup needs about {needed} bytes")
