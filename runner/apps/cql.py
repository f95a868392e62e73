"""Cassandra's data through CQL: what a probe writes and reads when the pod
runs Cassandra (its PID 1 is the JVM running CassandraDaemon), so
"consistent" means Cassandra reads its rows back, not that SSTable files
match.

Each tick is one partition of the shape's table (runner/apps/shapes.py
Cassandra: metrics.samples, or cortex.chunks in the cortex app): the tick's
rows and, in static columns, their count and the sha256 of their text,
written in one batch. A batch into one partition is applied as one
mutation, atomically and in isolation, as an application records samples
and their summary together. The client is the container's own `cqlsh` on
its own node.

    table = CqlTable(shapes.shape("cassandra", app), replication=1)
    table.write_script(tick) / table.read_script(bulk_dir) -> sh scripts
    table.parse(out) -> (entries, texts)     entries: {name: sha256}
    table.summary(entries, texts), table.problems(entries, texts)
"""
from __future__ import annotations

import json

from runner.apps import served, shapes

SERVER_CLASS = "org.apache.cassandra.service.CassandraDaemon"
ROW_MARK = "#cql\t"


def speaks_cql(pid1_cmdline: str) -> bool:
    """Whether a container whose PID 1 runs `pid1_cmdline` is a Cassandra node."""
    return SERVER_CLASS in pid1_cmdline.split()


class CqlTable:
    @staticmethod
    def holds(shape) -> bool:
        """Whether the shape's data is Cassandra's (rows a Cassandra node keeps)."""
        return isinstance(shape, shapes.Cassandra)

    def __init__(self, shape, replication=1):
        self.shape = shape
        self.keyspace, table = shape.keyspace
        self.table = f"{self.keyspace}.{table}"
        self.replication = int(replication)     # the keyspace's replication factor: the ring's nodes

    def write_script(self, tick):
        rows = [(row_id, int(tick), value) for row_id, value in self.shape.rows(tick)]
        inserts = " ".join(f"INSERT INTO {self.table} (tick, id, value) VALUES ({t}, '{i}', '{v}');"
                           for i, t, v in rows)
        statements = (
            f"CREATE KEYSPACE IF NOT EXISTS {self.keyspace} WITH replication = "
            f"{{'class': 'SimpleStrategy', 'replication_factor': {self.replication}}}; "
            f"CREATE TABLE IF NOT EXISTS {self.table} (tick int, id text, value text, "
            "row_count int static, sha256 text static, PRIMARY KEY (tick, id)); "
            f"BEGIN BATCH {inserts} INSERT INTO {self.table} (tick, row_count, sha256) "
            f"VALUES ({int(tick)}, {len(rows)}, '{served.rows_sha(rows)}'); APPLY BATCH;")
        return f'cqlsh -e "{statements}" > /dev/null\n'

    def read_script(self, bulk_dir):
        """The table's rows with their partition's count and sha256 (none
        while the table does not exist), and the files of the bulk directory
        (write_bytes), run from the volume's mount."""
        query = f"SELECT JSON tick, id, value, row_count, sha256 FROM {self.table}"
        return (f'if out=$(cqlsh -e "{query}" 2>&1); then\n'
                f"  printf '%s\\n' \"$out\" | sed -n 's/^ *{{/{ROW_MARK}{{/p'\n"
                'else\n  case "$out" in *"does not exist"*) ;; *) printf \'%s\\n\' "$out" >&2; exit 1 ;; esac\nfi\n'
                + served.bulk_files_script(bulk_dir))

    def parse(self, out):
        """-> (entries, texts): entries name the table and the bulk files
        with a sha256 each; texts["partitions"] holds each tick's rows and
        recorded count and sha256."""
        entries, partitions = {}, {}
        head, files = served.split_answer(out)
        for line in head.splitlines():
            if line.startswith(ROW_MARK):
                row = json.loads(line[len(ROW_MARK):])
                partition = partitions.setdefault(int(row["tick"]), {"rows": [], "row_count": row["row_count"],
                                                                      "sha256": row["sha256"]})
                if row["id"] is not None:       # a partition with only its static columns has one row of nulls
                    partition["rows"].append((row["id"], int(row["tick"]), row["value"]))
        if partitions:
            entries[self.table] = served.rows_sha([r for p in partitions.values() for r in p["rows"]])
        entries.update(files)
        return entries, {"partitions": partitions}

    def summary(self, entries, texts):
        partitions = texts.get("partitions") or {}
        return {"rows": sum(len(p["rows"]) for p in partitions.values()), "sha256": entries.get(self.table),
                "tick": max(partitions, default=None)}

    def problems(self, entries, texts):
        problems = []
        for tick, partition in sorted((texts.get("partitions") or {}).items()):
            where = f"{self.table} partition tick={tick}"
            if partition["row_count"] is None:
                problems.append(f"{where} has rows but no count and checksum")
            elif len(partition["rows"]) != partition["row_count"]:
                problems.append(f"{where} records {partition['row_count']} rows, has {len(partition['rows'])}")
            elif served.rows_sha(partition["rows"]) != partition["sha256"]:
                problems.append(f"{where}: checksum does not match its rows")
        return problems
