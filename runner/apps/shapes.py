"""Data shapes: what an application keeps on its volume, written and read
with plain POSIX shell through pod exec (printf, cat, mkdir, mv, wc, cut,
sha256sum, find), so the same scripts run in a real container and in the lab.

A shape gives:
  write_script(tick) -> sh script (relative paths; the probe cds into the mount)
  read_patterns      -> shell globs of the small files whose text the checks need
  summary(files, texts) -> dict   (files: {path: sha256}, texts: {path: text})
  problems(files, texts) -> [str] (the app's invariants)
  bulk_dir           -> where write_bytes puts opaque files
  server_dirs        -> directories the application's own server writes, not
                        the probe: left out of what is read (a restored
                        server rewrites them as it recovers)

Files that must change together are published with write-to-temp + mv (the
way databases publish manifests), so a backup taken at any moment sees
either the old or the new version, never half of one.
"""
from __future__ import annotations

import hashlib
import re


def _publish(path, printf_args):
    """Write a file atomically: printf into a temp file beside it, then mv."""
    directory, _, base = path.rpartition("/")
    tmp = f"{directory}/.{base}.tmp" if directory else f".{base}.tmp"
    return f"printf {printf_args} > {tmp}\nmv {tmp} {path}\n"


def _sha_of(path):
    return f"$(sha256sum < {path} | cut -d ' ' -f 1)"


def _lines(text):
    return [line for line in (text or "").split("\n") if line]


def _det(*parts, n=8):
    """A short deterministic token (so data differs per tick and per app)."""
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:n]


class Shape:
    name = ""
    read_patterns: tuple = ()
    bulk_dir = "bulk"
    server_dirs: tuple = ()

    def __init__(self, app):
        self.app = app

    def write_script(self, tick):
        raise NotImplementedError

    def summary(self, files, texts):
        raise NotImplementedError

    def problems(self, files, texts):
        raise NotImplementedError


class MySQL(Shape):
    """InnoDB-like: a table file of rows and a manifest (row count, sha256,
    last tick) published after the rows, as a commit record is."""
    name = "mysql"
    database, table = "shop", "orders"
    rows_per_tick = 3

    @property
    def table_path(self):
        return f"{self.database}/{self.table}.ibd"

    @property
    def manifest_path(self):
        return f"{self.database}/{self.table}.manifest"

    @property
    def read_patterns(self):
        return (self.table_path, self.manifest_path)

    def rows(self, tick):
        """The rows one tick adds: (id, tick, sku, quantity)."""
        return [(f"{tick}-{k}", tick, f"sku-{_det(self.app, tick, k, n=6)}", (tick * 7 + k) % 50 + 1)
                for k in range(self.rows_per_tick)]

    def write_script(self, tick):
        rows = " ".join("'" + "|".join(map(str, row)) + "'" for row in self.rows(tick))
        return (f"mkdir -p {self.database}\n"
                f"[ -f auto.cnf ] || printf '[auto]\\nserver-uuid=%s\\n' {_det(self.app, 'uuid', n=32)} > auto.cnf\n"
                f"printf '%s\\n' {rows} >> {self.table_path}\n"
                f"n=$(wc -l < {self.table_path})\n"
                f"s={_sha_of(self.table_path)}\n"
                + _publish(self.manifest_path, f"'rows=%s\\nsha256=%s\\ntick=%s\\n' $((n)) \"$s\" {tick}"))

    def _manifest(self, texts):
        fields = {}
        for line in _lines(texts.get(self.manifest_path)):
            key, _, value = line.partition("=")
            fields[key] = value
        return fields

    def summary(self, files, texts):
        manifest = self._manifest(texts)
        return {"rows": int(manifest.get("rows", 0) or 0), "sha256": manifest.get("sha256"),
                "tick": int(manifest["tick"]) if manifest.get("tick") else None}

    def problems(self, files, texts):
        if self.manifest_path not in files:
            return [] if self.table_path not in files else [f"{self.table_path} has rows but no manifest"]
        manifest, problems = self._manifest(texts), []
        rows = _lines(texts.get(self.table_path))
        if str(len(rows)) != manifest.get("rows"):
            problems.append(f"{self.manifest_path} says {manifest.get('rows')} rows, "
                            f"{self.table_path} has {len(rows)}")
        if files.get(self.table_path) != manifest.get("sha256"):
            problems.append(f"{self.manifest_path} checksum does not match {self.table_path}")
        ids = [row.split("|", 1)[0] for row in rows]
        if len(set(ids)) != len(ids):
            problems.append(f"{self.table_path} has duplicate row ids")
        return problems


class Percona(MySQL):
    name = "percona"
    database, table = "sales", "orders"


class Kafka(Shape):
    """A topic's partition logs (one record per line, offsets from 0, no
    gaps) and the recovery-point checkpoint published after each append."""
    name = "kafka"
    topic, partitions, records_per_tick = "events", 3, 2
    checkpoint = "recovery-point-offset-checkpoint"

    def _log(self, partition):
        return f"{self.topic}-{partition}/00000000000000000000.log"

    @property
    def read_patterns(self):
        return tuple(self._log(p) for p in range(self.partitions)) + (self.checkpoint,)

    def write_script(self, tick):
        script = ""
        for p in range(self.partitions):
            log = self._log(p)
            script += f"mkdir -p {self.topic}-{p}\n: >> {log}\no=$(wc -l < {log})\n"
            for k in range(self.records_per_tick):
                script += (f"printf 'offset=%s tick={tick} key=k{k} value={_det(self.app, tick, p, k)}\\n' "
                           f"$((o+{k})) >> {log}\n")
        ends = "".join(f"$(($(wc -l < {self._log(p)})))" + " " for p in range(self.partitions))
        lines = "".join(f"{self.topic} {p} %s\\n" for p in range(self.partitions))
        return script + _publish(self.checkpoint, f"'0\\n{self.partitions}\\n{lines}' {ends}")

    def records(self, tick):
        """The records one tick adds to the topic through a broker: (id, value)."""
        return [(f"{tick}-{k}", _det(self.app, tick, k, n=16)) for k in range(self.records_per_tick)]

    def _offsets(self, text):
        return [int(m.group(1)) for m in re.finditer(r"^offset=(\d+) ", text or "", re.M)]

    def summary(self, files, texts):
        return {f"{self.topic}-{p}": len(self._offsets(texts.get(self._log(p)))) for p in range(self.partitions)}

    def problems(self, files, texts):
        problems = []
        checkpoint = {}
        for line in _lines(texts.get(self.checkpoint))[2:]:
            topic, partition, offset = line.split()
            checkpoint[f"{topic}-{partition}"] = int(offset)
        for p in range(self.partitions):
            log = self._log(p)
            if log not in files:
                continue
            offsets = self._offsets(texts.get(log))
            for expected, offset in enumerate(offsets):
                if offset != expected:
                    problems.append(f"{log}: offset {offset} where {expected} was expected (gap or reorder)")
                    break
            end = checkpoint.get(f"{self.topic}-{p}")
            if end is not None and end > len(offsets):
                problems.append(f"{log}: checkpoint at offset {end} beyond the log end {len(offsets)}")
        return problems


class Cassandra(Shape):
    """SSTables (Data, Digest, TOC written last) per flush plus commitlog
    segments. In the cortex app the keyspace holds cortex's chunks."""
    name = "cassandra"
    table_id = "5bc52802de2535edaeab188eecebb090"

    @property
    def keyspace(self):
        return ("cortex", "chunks") if self.app == "cortex" else ("metrics", "samples")

    @property
    def table_dir(self):
        keyspace, table = self.keyspace
        return f"data/{keyspace}/{table}-{self.table_id}"

    @property
    def read_patterns(self):
        return (f"{self.table_dir}/*-Digest.sha256", f"{self.table_dir}/*-TOC.txt")

    def rows(self, tick):
        """The rows one tick adds: (id, value)."""
        return [(f"{tick}-{k}", _det(self.app, tick, k, n=16)) for k in range(4)]

    def write_script(self, tick):
        base = f"{self.table_dir}/nb-{tick}-big"
        cells = " ".join(f"'{self.keyspace[1]}|{tick}|{k}|{value}'" for k, (_, value) in enumerate(self.rows(tick)))
        return (f"mkdir -p {self.table_dir} commitlog\n"
                f"printf '%s\\n' {cells} > {base}-Data.db\n"
                f"printf '%s\\n' \"{_sha_of(base + '-Data.db')}\" > {base}-Digest.sha256\n"
                f"printf 'Data.db\\nDigest.sha256\\nTOC.txt\\n' > {base}-TOC.txt\n"
                f"printf 'mutation tick={tick} table={self.keyspace[1]}\\n' >> commitlog/CommitLog-7-{tick}.log\n")

    def _generations(self, files):
        pattern = re.compile(re.escape(self.table_dir) + r"/nb-(\d+)-big-(.+)$")
        generations = {}
        for path in files:
            match = pattern.match(path)
            if match:
                generations.setdefault(int(match.group(1)), set()).add(match.group(2))
        return generations

    def summary(self, files, texts):
        generations = self._generations(files)
        return {"sstables": len(generations), "last_generation": max(generations, default=None),
                "commitlog_segments": sum(1 for p in files if p.startswith("commitlog/"))}

    def problems(self, files, texts):
        problems = []
        for gen, components in sorted(self._generations(files).items()):
            base = f"{self.table_dir}/nb-{gen}-big"
            if "TOC.txt" not in components:
                problems.append(f"{base}: sstable without TOC (incomplete flush)")
                continue
            for component in _lines(texts.get(f"{base}-TOC.txt")):
                if component not in components:
                    problems.append(f"{base}: TOC lists {component} which is missing")
            digest = _lines(texts.get(f"{base}-Digest.sha256"))
            if digest and files.get(f"{base}-Data.db") != digest[0]:
                problems.append(f"{base}-Data.db does not match its digest")
        return problems


class _IndexedFiles(Shape):
    """Files published into a directory plus an index (name and sha256 per
    line) published after them: every indexed file must exist and match."""
    directory = index = ""

    @property
    def read_patterns(self):
        return (self.index,)

    def _content(self, tick):
        raise NotImplementedError

    def _file(self, tick):
        raise NotImplementedError

    def write_script(self, tick):
        path = f"{self.directory}/{self._file(tick)}"
        return (f"mkdir -p {self.directory}\n"
                f"printf '%s\\n' '{self._content(tick)}' > {path}\n"
                f"s={_sha_of(path)}\n"
                f"{{ [ -f {self.index} ] && cat {self.index}; printf '%s %s\\n' {self._file(tick)} \"$s\"; }} "
                f"> {self.index}.tmp\nmv {self.index}.tmp {self.index}\n")

    def _entries(self, texts):
        return [line.split(" ", 1) for line in _lines(texts.get(self.index))]

    def summary(self, files, texts):
        return {"entries": len(self._entries(texts))}

    def problems(self, files, texts):
        problems = []
        for name, sha in self._entries(texts):
            path = f"{self.directory}/{name}"
            if path not in files:
                problems.append(f"{self.index} references {path} which is missing")
            elif files[path] != sha:
                problems.append(f"{path} does not match its checksum in {self.index}")
        return problems


class WordPress(_IndexedFiles):
    name = "wordpress"
    directory, index = "wp-content/uploads/posts", "wp-content/posts.index"

    def _file(self, tick):
        return f"post-{tick}.html"

    def _content(self, tick):
        return f"<article id=\"post-{tick}\"><h1>Post {tick}</h1><p>{_det(self.app, tick, n=32)}</p></article>"


class Nginx(_IndexedFiles):
    name = "nginx"
    directory, index = "static", "static.index"

    def _file(self, tick):
        return f"page-{tick}.html"

    def _content(self, tick):
        return f"<html><body><h1>Page {tick}</h1><p>{_det(self.app, tick, n=32)}</p></body></html>"


class Cortex(_IndexedFiles):
    """Series samples, a file per tick, and their index, beside the ingester's
    WAL (`wal/`): where a real Cortex runs, that WAL is its own."""
    name = "cortex"
    directory, index = "series", "series/chunks.index"
    server_dirs = ("wal",)      # the ingester's WAL: segments and checkpoints it replays and prunes

    def _file(self, tick):
        return f"{tick:08d}"

    def _content(self, tick):
        return f"series=up{{job=\"node\"}} tick={tick} samples={_det(self.app, tick, n=24)}"


class Dataset(_IndexedFiles):
    """ML dataset shards and their MANIFEST; write_bytes adds raw files."""
    name = "dataset"
    directory, index = "datasets/shards", "datasets/MANIFEST"
    bulk_dir = "datasets/raw"

    def _file(self, tick):
        return f"shard-{tick:05d}.csv"

    def _content(self, tick):
        return f"id,label,features\n{tick},{tick % 10},{_det(self.app, tick, n=40)}"


SHAPES = {shape.name: shape for shape in (MySQL, Percona, Kafka, Cassandra, WordPress, Nginx, Cortex, Dataset)}


def shape(name, app) -> Shape:
    return SHAPES[name](app)
