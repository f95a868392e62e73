"""Running one row of validation_cases.py on a cluster (a lab's, or real
Velero's through its kubeconfig: tests/realstack/test_differential_validation.py)
and checking what Velero made of it."""
import string
import time
import uuid

from lab_http import wait_for
from velero_lab import unique

PLURALS = {"Backup": "backups", "Restore": "restores"}
SETUP_KEYS = ("namespaces", "snapshot_locations", "configmaps", "backups")
ROW_KEYS = {"name", "kind", "spec", "expected_errors", "expected_phase", "expected_spec", "location",
            "location_default", *SETUP_KEYS}
LOCATION_STATES = ("available", "read-only", "unavailable", "read-only-unavailable")
UNDECODED_WAIT = 1.0        # real seconds a Backup Velero cannot decode is given to (not) get a phase


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _fill(value, names):
    if isinstance(value, str):
        return value.format_map(names)
    if isinstance(value, dict):
        return {_fill(key, names): _fill(item, names) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, names) for item in value]
    return value


class RowRun:
    """One row: its names, the objects it needs, the object under test."""

    def __init__(self, cluster, bucket, row, undecoded_wait=UNDECODED_WAIT, settle=0.0):
        self.cluster, self.bucket, self.undecoded_wait, self.settle = cluster, bucket, undecoded_wait, settle
        keys = {"name", "location"} | {key for section in SETUP_KEYS for key in row.get(section) or {}}
        keys |= {field for text in _strings(row) for _, field, _, _ in string.Formatter().parse(text) if field}
        self.names = {key: f"{key.lower()}-{uuid.uuid4().hex[:6]}" for key in keys}
        self.row = _fill({k: v for k, v in row.items() if k not in SETUP_KEYS}, self.names)
        self.setup = {section: {self.names[key]: _fill(spec, self.names)
                                for key, spec in (row.get(section) or {}).items()}
                      for section in SETUP_KEYS}
        self.made = []          # (plural or "namespaces"/"configmaps", name), removed in reverse

    def prepare(self):
        cluster = self.cluster
        for name, spec in self.setup["namespaces"].items():
            cluster.namespace(name, labels=spec.get("labels"))
            self.made.append(("namespaces", name))
        for name, spec in self.setup["configmaps"].items():
            cluster.core.create_namespaced_config_map("velero", {"metadata": {"name": name}, "data": spec["data"]})
            self.made.append(("configmaps", name))
        state = self.row.get("location")
        if state:
            self._location(state)
        for name, spec in self.setup["snapshot_locations"].items():
            cluster.create("volumesnapshotlocations", name, spec)
            self.made.append(("volumesnapshotlocations", name))
        for name, backup in self.setup["backups"].items():
            self._setup_backup(name, backup)

    def _setup_backup(self, name, backup, attempts=3):
        """A set-up backup in the phase the row needs. Real Velero refuses a backup while
        its location reads Unavailable (or is not yet in its cache), and on a loaded machine
        one of its periodic location checks can fail or its cache lag: that is not the row's
        business, so such a refusal is retried."""
        for attempt in range(attempts):
            self.cluster.create("backups", name, backup["spec"], labels=backup.get("labels"))
            status = self.cluster.wait_phase("backups", name)["status"]
            errors = status.get("validationErrors") or []
            location_down = (backup["phase"] != "FailedValidation" and errors
                             and all("Unavailable status" in error or "wasn't found" in error for error in errors))
            if not location_down or attempt == attempts - 1:
                break
            self.cluster.delete("backups", name)
            wait_for(f"set-up backup {name} gone", lambda: self.cluster.get("backups", name) is None, timeout=30)
            self._await_location(backup["spec"].get("storageLocation"), "Available")
        assert status["phase"] == backup["phase"], (
            f"set-up backup {name} ended {status['phase']} {errors}, the row needs {backup['phase']}")

    def _location(self, state):
        assert state in LOCATION_STATES, state
        name = self.names["location"]
        spec = {"accessMode": "ReadOnly"} if state.startswith("read-only") else {}
        if state.endswith("unavailable"):
            spec["objectStorage"] = {"bucket": unique("no-such-bucket"), "prefix": name}
        if self.row.get("location_default"):
            spec["default"] = True
        self.cluster.location(self.bucket, name=name, prefix=name, **spec)
        self.made.append(("backupstoragelocations", name))
        self._await_location(name, "Unavailable" if state.endswith("unavailable") else "Available")

    def _await_location(self, name, phase):
        # real Velero validates again every --store-validation-frequency: a first check that
        # failed by chance is not the row's business
        if name:
            wait_for(f"set-up location {name} {phase}", lambda: (
                self.cluster.get("backupstoragelocations", name).get("status") or {}).get("phase") == phase,
                timeout=30)

    def run(self):
        """The object under test, once Velero has looked at it."""
        plural, name = PLURALS[self.row["kind"]], self.names["name"]
        if self.settle and any(self.setup[key] for key in ("namespaces", "snapshot_locations", "configmaps")):
            time.sleep(self.settle)     # real Velero reads them through informer caches, a moment behind
        self.cluster.create(plural, name, self.row["spec"])
        if self.row.get("expected_phase") == "":
            # a Backup Velero cannot decode gets no phase; on real Velero it also stalls the Backup
            # informer until it is gone, so: give it a while, delete it, then show that a later
            # Backup gets its phase (Velero was looking)
            deadline = time.monotonic() + self.undecoded_wait
            while time.monotonic() < deadline and not (self.cluster.get(plural, name).get("status") or {}):
                time.sleep(0.2)
            seen = self.cluster.get(plural, name)
            self.cluster.delete(plural, name)
            sentinel = unique("sentinel")
            self.cluster.create("backups", sentinel, {"storageLocation": "nowhere"})
            self.cluster.wait_phase("backups", sentinel)
            self.cluster.delete("backups", sentinel)
            return seen
        return self.cluster.wait_phase(plural, name)

    def cleanup(self):
        for kind, name in reversed(self.made):
            if kind == "namespaces":
                self.cluster.core.delete_namespace(name)
                if (self.setup["namespaces"].get(name) or {}).get("labels"):
                    # a labelled one would still exclude itself from the next row's backups
                    wait_for(f"namespace {name} gone", lambda: name not in {
                        ns.metadata.name for ns in self.cluster.core.list_namespace().items}, timeout=60)
            elif kind == "configmaps":
                self.cluster.core.delete_namespaced_config_map(name, "velero")
            else:
                self.cluster.delete(kind, name)


def observe_row(cluster, bucket, row, undecoded_wait=UNDECODED_WAIT, settle=0.0):
    """{"phase", "errors", "spec"} of the row's object on that cluster, its
    placeholders turned back into the row's names (so two clusters compare)."""
    run = RowRun(cluster, bucket, row, undecoded_wait, settle)
    try:
        run.prepare()
        obj = run.run()
    finally:
        run.cleanup()
    back = {value: "{" + key + "}" for key, value in run.names.items()}

    def unfill(value):
        if isinstance(value, str):
            for name, placeholder in back.items():
                value = value.replace(name, placeholder)
            return value
        if isinstance(value, dict):
            return {unfill(k): unfill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [unfill(v) for v in value]
        return value
    status = obj.get("status") or {}
    return {"phase": status.get("phase") or "", "errors": unfill(status.get("validationErrors") or []),
            "spec": {key: unfill(obj["spec"].get(key)) for key in row.get("expected_spec") or {}}}


def check_row(cluster, bucket, row):
    run = RowRun(cluster, bucket, row)
    try:
        run.prepare()
        obj = run.run()
        expected = run.row
        status = obj.get("status") or {}
        phase = status.get("phase")
        if expected.get("expected_phase") == "":
            assert not phase, f"{row['name']}: Velero cannot decode this object, yet it reached {phase}: {status}"
            return
        assert (status.get("validationErrors") or []) == expected["expected_errors"]
        if "expected_phase" in expected:
            assert phase == expected["expected_phase"], status
        elif expected["expected_errors"]:
            assert phase == "FailedValidation", status
        else:
            assert phase != "FailedValidation", status
        for key, value in (expected.get("expected_spec") or {}).items():
            assert obj["spec"].get(key) == value, (key, obj["spec"])
    finally:
        run.cleanup()
