"""Write and read an application's data through pod exec.

    probe = DataProbe(cluster, namespace, "mysql")
    probe.write(tick)            # app-shaped data (rows, offsets, sstables, posts...)
    probe.write_bytes(n)         # n bytes of deterministic pseudo-random files
    probe.state() -> DataState   # sha256 per volume (PVC) and file + app summary
    probe.consistency_problems() -> [str]
    probe.ready_problems() -> [str]; probe.wait_ready(timeout)

Every command is `sh -c SCRIPT` with plain POSIX tools and literal mount
paths, so it runs in a real container and in the lab (which rewrites mount
paths to the volume's directory). Where the pod runs the application's
server and the data has an interface of its own, the probe asks the server
instead (runner/apps/sql.py: the MySQL family's rows through SQL; cql.py:
Cassandra's through CQL; kafka.py: Kafka's records at their offsets through
its clients), chosen by the pod's PID 1, never by target. Scripts cd into the mount first and use
relative paths, so what they print never contains a node path.

DataState keys volumes by PVC name (stable across restores, whatever the
pod names), and `summary` by "<component>/<volume>": for a replicated
component (every replica holds the same data) it is the data of replica 0,
so two installations of different sizing compare equal when they hold the
same data: `a.data_differences(b) == []`.
"""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import json

from runner.apps import catalogue, cql, kafka, sql
from runner.apps.catalogue import COMPONENT, PART_OF
from runner.apps.shapes import shape as make_shape
from runner.driver import timeouts
from runner.driver.waits import WaitTimeout, wait_until

# (the server view of a data shape, whether a PID 1 is that server): one per server kind
SERVER_TABLES = ((sql.SqlTable, sql.speaks_sql), (cql.CqlTable, cql.speaks_cql), (kafka.KafkaTopic, kafka.speaks_kafka))
CHUNK_BYTES = 24 * 1024          # raw bytes per exec: the command travels in the exec URL
BULK_FILE_BYTES = 1024 * 1024
CONTENTS_MARK = "#--contents"
FILE_START, FILE_END = "#>> ", "#<<"


class ProbeError(Exception):
    """An exec failed or the app is not there (message names pod and command)."""


@dataclasses.dataclass
class DataState:
    app: str
    volumes: dict           # pvc -> {relative path: sha256}
    summary: dict           # "<component>/<volume>" -> {"files", "digest", ...shape summary}

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data):
        return cls(**data)

    def data_differences(self, other, limit=10):
        """Differences of the app's data only (summaries), whatever the replica counts."""
        return [f"{key}: {json.dumps(self.summary.get(key))} != {json.dumps(other.summary.get(key))}"
                for key in sorted(set(self.summary) | set(other.summary))
                if self.summary.get(key) != other.summary.get(key)][:limit]

    def differences(self, other, limit=10):
        """Human-readable differences to `other` (for assertion messages)."""
        found = []
        for pvc in sorted(set(self.volumes) | set(other.volumes)):
            mine, theirs = self.volumes.get(pvc), other.volumes.get(pvc)
            if mine is None or theirs is None:
                found.append(f"volume {pvc} only on {'this' if theirs is None else 'the other'} side")
                continue
            for path in sorted(set(mine) | set(theirs)):
                if mine.get(path) != theirs.get(path):
                    found.append(f"{pvc}:{path}: {mine.get(path, 'missing')[:12]} != "
                                 f"{theirs.get(path, 'missing')[:12]}")
        for key in sorted(set(self.summary) | set(other.summary)):
            if self.summary.get(key) != other.summary.get(key):
                found.append(f"summary {key}: {json.dumps(self.summary.get(key))} != "
                             f"{json.dumps(other.summary.get(key))}")
        return found[:limit]


@dataclasses.dataclass(frozen=True)
class VolumeTarget:
    component: str
    volume: str
    shape: str
    mount: str
    pvc: str
    pod: str
    ordinal: int
    replicated: bool


def _ordinal(kind, pod_name):
    if kind != "StatefulSet":
        return 0
    tail = pod_name.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _octal(data):
    """printf escapes for bytes, for shells without base64."""
    return "".join("\\%03o" % b for b in data)


def deterministic_bytes(seed, size):
    """`size` pseudo-random bytes: sha256(seed:counter) blocks."""
    out, counter = bytearray(), 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


class DataProbe:
    def __init__(self, cluster, namespace, app):
        self.cluster = cluster
        self.namespace = namespace
        self.app = app if isinstance(app, catalogue.AppSpec) else catalogue.get(app)
        self._has_base64 = {}
        self._pid1 = {}

    # pods and volumes ----------------------------------------------------
    def _pods(self):
        pods = self.cluster.core.list_namespaced_pod(
            self.namespace, label_selector=f"{PART_OF}={self.app.name}").items
        return sorted(pods, key=lambda p: p.metadata.name)

    def targets(self):
        """One VolumeTarget per PVC holding app data, through a Running pod."""
        found = {}
        for pod in self._pods():
            if (pod.status.phase if pod.status else None) != "Running" or pod.metadata.deletion_timestamp:
                continue
            component_name = (pod.metadata.labels or {}).get(COMPONENT)
            try:
                component = self.app.component(component_name)
            except KeyError:
                continue
            claims = {v.name: v.persistent_volume_claim.claim_name
                      for v in pod.spec.volumes or [] if v.persistent_volume_claim}
            mounts = {m.name: m.mount_path for m in (pod.spec.containers[0].volume_mounts or [])}
            for volume in component.volumes:
                pvc = claims.get(volume.name)
                if pvc and pvc not in found:
                    found[pvc] = VolumeTarget(component.name, volume.name, volume.shape,
                                              mounts.get(volume.name, volume.mount), pvc, pod.metadata.name,
                                              _ordinal(component.kind, pod.metadata.name), component.replicated)
        return [found[pvc] for pvc in sorted(found)]

    def _read_workload(self, kind, name):
        read = (self.cluster.apps.read_namespaced_stateful_set if kind == "StatefulSet"
                else self.cluster.apps.read_namespaced_deployment)
        return read(name, self.namespace)

    def replicas(self):
        """spec.replicas of the app's main workload (its first component with volumes)."""
        main = next(c for c in self.app.components if c.volumes)
        return self._read_workload(main.kind, main.name).spec.replicas

    def ready(self, skip=()):
        return not self.ready_problems(skip)

    def ready_problems(self, skip=()):
        """What keeps the app from being ready: missing or unready workloads
        (those named in `skip` are not required)."""
        problems = []
        for kind, name in self.app.workloads():
            if kind == "CronJob" or name in skip:
                continue
            try:
                obj = self._read_workload(kind, name)
            except Exception as exc:          # ApiException 404 and transport errors alike
                problems.append(f"{kind} {self.namespace}/{name}: {getattr(exc, 'reason', exc)}")
                continue
            want = obj.spec.replicas if obj.spec.replicas is not None else 1
            ready = (obj.status.ready_replicas if obj.status else 0) or 0
            if ready < want:
                problems.append(f"{kind} {self.namespace}/{name}: {ready}/{want} replicas ready")
        return problems

    def wait_ready(self, timeout="app_ready", skip=()):
        """Waits until every workload of the app (except those named in
        `skip`) is ready; raises ProbeError naming what is not."""
        problems = []

        def ready():
            problems[:] = self.ready_problems(skip)
            return not problems
        try:
            wait_until(f"application {self.app.name} in namespace {self.namespace} to be ready", ready, timeout)
        except WaitTimeout:
            raise ProbeError(f"application {self.app.name} in namespace {self.namespace} not ready "
                             f"after {timeouts.seconds(timeout):g} s{timeouts.label(timeout)}: "
                             f"{'; '.join(problems)}") from None

    # exec ----------------------------------------------------------------
    def _sh(self, target, script):
        rc, out, err = self.cluster.exec(self.namespace, target.pod, ["sh", "-c", script])
        out = out.decode() if isinstance(out, bytes) else (out or "")
        err = err.decode() if isinstance(err, bytes) else (err or "")
        if rc != 0:
            lines = [line for line in script.splitlines()
                     if line.strip() and line != "set -e" and not line.startswith("cd ")]
            first = lines[0][:80] if lines else ""
            raise ProbeError(f"exec in pod {self.namespace}/{target.pod} ({first!r}...) exited {rc}: "
                             f"{err.strip()[:300]}")
        return out

    def _in_mount(self, target, body):
        return f"set -e\ncd {target.mount}\n{body}"

    # writing -------------------------------------------------------------
    def write(self, tick):
        """Writes the app's data for `tick` on every data volume."""
        targets = self.targets()
        if not targets:
            raise ProbeError(f"no running pod of application {self.app.name} with a data volume "
                             f"in namespace {self.namespace}")
        for target in targets:
            table = self._server_table(target, targets)
            script = table.write_script(tick) if table else make_shape(target.shape, self.app.name).write_script(tick)
            self._sh(target, self._in_mount(target, script))

    # the application's own interface -------------------------------------
    def _server_table(self, target, targets=()):
        """The server's view of the volume's data when its pod runs the
        server that keeps it (a MySQL-family server: SQL; Cassandra: CQL,
        its keyspace replicated to the component's every node; a Kafka
        broker: its clients), so the probe asks the server, not its files;
        None otherwise."""
        shape = make_shape(target.shape, self.app.name)
        kind = next(((table, speaks) for table, speaks in SERVER_TABLES if table.holds(shape)), None)
        if kind is None:
            return None
        table, speaks = kind
        if target.pod not in self._pid1:
            self._pid1[target.pod] = self._sh(target, "tr '\\0' ' ' < /proc/1/cmdline").strip()
        if not speaks(self._pid1[target.pod]):
            return None
        if table is cql.CqlTable:
            nodes = sum(1 for t in targets if (t.component, t.volume) == (target.component, target.volume))
            return cql.CqlTable(shape, replication=max(nodes, 1))
        return table(shape)

    def write_bytes(self, nbytes):
        """Adds `nbytes` of deterministic pseudo-random files (1 MiB each)
        under the first data volume's bulk directory (every replica)."""
        targets = self.targets()
        if not targets:
            raise ProbeError(f"no running pod of application {self.app.name} with a data volume "
                             f"in namespace {self.namespace}")
        first = targets[0]
        group = [t for t in targets if (t.component, t.volume) == (first.component, first.volume)]
        bulk = make_shape(first.shape, self.app.name).bulk_dir
        existing = self._sh(first, self._in_mount(first, f"mkdir -p {bulk}\nls {bulk} | wc -l"))
        index = int(existing.strip() or 0)
        remaining = nbytes
        while remaining > 0:
            size = min(BULK_FILE_BYTES, remaining)
            name = f"{bulk}/blob-{index:05d}.bin"
            data = deterministic_bytes(f"{self.app.name}/{name}", size)
            for target in group:
                self._send_file(target, name, data)
            remaining -= size
            index += 1

    def _send_file(self, target, path, data):
        part = f"{path}.part"
        self._sh(target, self._in_mount(target, f": > {part}"))
        use_base64 = self._base64_available(target)
        step = CHUNK_BYTES if use_base64 else CHUNK_BYTES // 4
        for offset in range(0, len(data), step):
            chunk = data[offset:offset + step]
            if use_base64:
                body = f"printf '%s' '{base64.b64encode(chunk).decode()}' | base64 -d >> {part}"
            else:
                body = f"printf '{_octal(chunk)}' >> {part}"
            self._sh(target, self._in_mount(target, body))
        self._sh(target, self._in_mount(target, f"mv {part} {path}"))

    def _base64_available(self, target):
        if target.pod not in self._has_base64:
            out = self._sh(target, "command -v base64 >/dev/null 2>&1 && echo yes || echo no")
            self._has_base64[target.pod] = out.strip() == "yes"
        return self._has_base64[target.pod]

    # reading -------------------------------------------------------------
    def _read(self, target):
        """({path: sha256}, {path: text}) of one volume, in one exec (through
        the pod's server when it keeps the data: {table: sha256}, its values)."""
        table, shape = self._server_table(target), make_shape(target.shape, self.app.name)
        if table:
            return table.parse(self._sh(target, self._in_mount(target, table.read_script(shape.bulk_dir))))
        patterns = " ".join(shape.read_patterns)
        # .velero/: node-agent's done files, which Velero 1.16's restore helper (non-root)
        # cannot remove (vmware-tanzu/velero#8973): Velero's, not the application's
        skipped = " -o ".join(f"-path ./{d}" for d in (".velero", *shape.server_dirs))
        script = self._in_mount(target, (
            f"find . \\( {skipped} \\) -prune -o -type f ! -name '.*.tmp' ! -name '*.part' -exec sha256sum {{}} +\n"
            f"printf '%s\\n' '{CONTENTS_MARK}'\n"
            f"for f in {patterns}; do if [ -f \"$f\" ]; then printf '{FILE_START}%s\\n' \"$f\"; "
            f"cat \"$f\"; printf '\\n{FILE_END}\\n'; fi; done\n"))
        out = self._sh(target, script)
        listing, _, contents = out.partition(CONTENTS_MARK + "\n")
        files = {}
        for line in listing.splitlines():
            sha, _, path = line.partition("  ")
            if path:
                files[path[2:] if path.startswith("./") else path] = sha
        texts, current, buffer = {}, None, []
        for line in contents.split("\n"):
            if line.startswith(FILE_START):
                current, buffer = line[len(FILE_START):], []
            elif line == FILE_END and current is not None:
                texts[current] = "\n".join(buffer)[:-1] if buffer else ""
                current = None
            elif current is not None:
                buffer.append(line)
        return files, texts

    def _checks(self, target):
        """What summarises and checks the volume's data as _read returned it."""
        return self._server_table(target) or make_shape(target.shape, self.app.name)

    def _read_all(self):
        return [(target, *self._read(target)) for target in self.targets()]

    def state(self) -> DataState:
        volumes, summary = {}, {}
        for target, files, texts in self._read_all():
            volumes[target.pvc] = dict(sorted(files.items()))
            key = f"{target.component}/{target.volume}"
            if key in summary and target.ordinal != 0:      # the summary is replica 0's data
                continue
            digest = hashlib.sha256(json.dumps(sorted(files.items())).encode()).hexdigest()
            summary[key] = {"files": len(files), "digest": digest,
                            **self._checks(target).summary(files, texts)}
        return DataState(app=self.app.name, volumes=volumes, summary=dict(sorted(summary.items())))

    def data_bytes(self):
        """Bytes of file data on all the app's volumes (a backup takes every replica's)."""
        total = 0
        for target in self.targets():
            out = self._sh(target, self._in_mount(target, "find . -type f -exec cat {} + | wc -c"))
            total += int(out.strip() or 0)
        return total

    def consistency_problems(self):
        """The app's invariants on every volume, and replicas agreeing."""
        problems, by_volume = [], {}
        for target, files, texts in self._read_all():
            problems += [f"{target.pvc}: {p}" for p in self._checks(target).problems(files, texts)]
            if target.replicated:
                by_volume.setdefault((target.component, target.volume), []).append((target.pvc, files))
        for (component, volume), replicas in by_volume.items():
            first_pvc, first = replicas[0]
            for pvc, files in replicas[1:]:
                if files != first:
                    problems.append(f"{pvc}: replica data differs from {first_pvc} "
                                    f"({component} replicates {volume} to every replica)")
        return problems


def apps_in(cluster, namespace):
    """Names of catalogue apps whose workloads are in `namespace` (by label)."""
    found = set()
    for listing in (cluster.apps.list_namespaced_stateful_set, cluster.apps.list_namespaced_deployment):
        for obj in listing(namespace).items:
            name = (obj.metadata.labels or {}).get(PART_OF)
            if name in catalogue.names():
                found.add(name)
    return sorted(found)
