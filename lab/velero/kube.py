"""Small helpers over the cluster's ObjectStore shared by the Velero
controllers: the velero.io group, status updates that merge, durations
written as Go writes them."""
import datetime
import logging
import re
import sys

from lab.apiserver.errors import Conflict, NotFound
from lab.clock import format_time, parse_time

GROUP = "velero.io"
API_VERSION = "velero.io/v1"
NAMESPACE = "velero"

LABEL_BACKUP_NAME = "velero.io/backup-name"
LABEL_BACKUP_UID = "velero.io/backup-uid"
LABEL_RESTORE_NAME = "velero.io/restore-name"
LABEL_SCHEDULE = "velero.io/schedule-name"
LABEL_LOCATION = "velero.io/storage-location"
LABEL_PVC_UID = "velero.io/pvc-uid"

log = logging.getLogger("lab.velero")

# Go's time.ParseDuration: [-+]?(number unit)+ or "0"; number = digits with an
# optional fraction (".5", "1.", "1.5"); µs is U+00B5 or U+03BC.
_DURATION_PART = re.compile(r"(\d*)(?:\.(\d*))?([^\d.]*)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def parse_duration(text, default=None):
    """A Go duration ("720h0m0s", "1h30m", "90s", "-1.5h") -> timedelta, as
    time.ParseDuration reads it; None or "" -> default. Raises ValueError
    with Go's message on anything else."""
    if text in (None, ""):
        return default
    return go_duration(text)


def go_duration(text):
    """time.ParseDuration itself: "" and non-strings are errors too."""
    if not isinstance(text, str):
        raise ValueError(f"time: invalid duration {text!r}")
    quoted = '"' + text + '"'
    rest, sign = text, 1
    if rest[:1] in ("-", "+"):
        sign, rest = (-1 if rest[0] == "-" else 1), rest[1:]
    if rest == "0":
        return datetime.timedelta(0)
    if not rest:
        raise ValueError(f"time: invalid duration {quoted}")
    seconds = 0.0
    while rest:
        whole, fraction, unit = _DURATION_PART.match(rest).groups()
        if not whole and not fraction:
            raise ValueError(f"time: invalid duration {quoted}")
        if not unit:
            raise ValueError(f"time: missing unit in duration {quoted}")
        if unit not in _UNIT_SECONDS:
            raise ValueError(f'time: unknown unit "{unit}" in duration {quoted}')
        seconds += float(f"{whole or 0}.{fraction or 0}") * _UNIT_SECONDS[unit]
        rest = rest[_DURATION_PART.match(rest).end():]
    return datetime.timedelta(seconds=sign * seconds)


def format_duration(delta):
    """timedelta -> Go's String() form: "720h0m0s"."""
    total = int(delta.total_seconds())
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes}m{seconds}s"


def release(cluster):
    """(major, minor) of the Velero a cluster runs: what a behaviour that changed between releases follows."""
    major, minor = (int(x) for x in (cluster.velero_version.split(".") + ["0"])[:2])
    return major, minor


def now(cluster):
    return cluster.clock.now()


def stamp(cluster):
    return format_time(cluster.clock.now())


def parse_stamp(text):
    return parse_time(text) if text else None


def name_of(obj):
    return obj["metadata"]["name"]


def set_status(store, plural, obj, **fields):
    """Merge fields into obj's status (fresh read, retried on conflict);
    returns the stored object, or None if it is gone."""
    meta = obj["metadata"]
    for _ in range(5):
        current = store.get(GROUP, plural, meta.get("namespace"), meta["name"])
        if current is None or current["metadata"].get("uid") != meta.get("uid"):
            return None
        status = dict(current.get("status") or {})
        status.update({k: v for k, v in fields.items() if v is not None})
        for key in [k for k, v in fields.items() if v is None]:
            status.pop(key, None)
        current["status"] = status
        try:
            return store.update_status(GROUP, plural, current)
        except Conflict:
            continue
        except NotFound:
            return None
    raise Conflict(f"status of {plural} {meta['name']} kept changing")


def list_velero(store, plural):
    return store.list(GROUP, plural, NAMESPACE)


def get_velero(store, plural, name):
    return store.get(GROUP, plural, NAMESPACE, name)


def delete_quietly(store, group, plural, namespace, name):
    try:
        store.delete(group, plural, namespace, name)
    except NotFound:
        pass


def record_crash(store, plural, obj, final_phase="Failed"):
    """Called from an `except Exception` around one object's processing: log
    the traceback and end the object in a final phase with the reason, so one
    bad object neither stalls nor crashes the tick loop."""
    log.exception("velero: processing %s %s failed", plural, obj["metadata"]["name"])
    reason = f"internal error in the lab's Velero server: {sys.exc_info()[1]}"
    fields = {"errors": [reason]} if final_phase == "Processed" else {"failureReason": reason}
    try:
        set_status(store, plural, obj, phase=final_phase, **fields)
    except Exception:       # the store refused too: the log above is all we can do
        log.exception("velero: recording the failure of %s %s failed", plural, obj["metadata"]["name"])
