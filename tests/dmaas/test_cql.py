"""Cassandra's data through CQL (runner/apps/cql.py): which pods the probe
asks in CQL, what it sends, and how it reads and checks the answers. A real
Cassandra answers in tests/realstack/test_apps.py."""
import hashlib
import json

import pytest

from runner.apps import cql, served, shapes

DAEMON = "org.apache.cassandra.service.CassandraDaemon"


@pytest.mark.parametrize("cmdline,speaks", [
    (f"java -Xmx512M -cp /etc/cassandra:/opt/cassandra/lib/* {DAEMON}", True),
    (f"/opt/java/openjdk/bin/java -ea -da:net.openhft... -cp /etc/cassandra {DAEMON}", True),
    ("java -cp /opt/cassandra/lib/* org.apache.cassandra.tools.NodeTool", False),
    ("/pause -P -- cassandra -f", False), ("mariadbd --user=mysql", False), ("", False)])
def test_a_pod_speaks_cql_when_its_pid_1_runs_the_cassandra_daemon(cmdline, speaks):
    assert cql.speaks_cql(cmdline) is speaks


def _table(app="cassandra", replication=1):
    return cql.CqlTable(shapes.shape("cassandra", app), replication)


def _rows(tick, app="cassandra"):
    return [(row_id, tick, value) for row_id, value in shapes.shape("cassandra", app).rows(tick)]


def _sha(rows):
    return hashlib.sha256("\n".join(f"{i}|{t}|{v}" for i, t, v in sorted(rows)).encode()).hexdigest()


def _answer(partitions, files=""):
    """cqlsh's SELECT JSON lines as the read script marks them; partitions:
    {tick: (rows, recorded count, recorded sha256)}."""
    lines = []
    for tick, (rows, count, sha) in partitions.items():
        for row_id, _, value in rows or [(None, tick, None)]:
            lines.append(cql.ROW_MARK + json.dumps({"tick": tick, "id": row_id, "value": value,
                                                    "row_count": count, "sha256": sha}))
    return "\n".join(lines + [served.FILES_MARK, files])


def test_the_write_puts_a_ticks_rows_and_their_count_and_checksum_in_one_partition_batch():
    script = _table(replication=3).write_script(2)
    rows = _rows(2)
    batch = script[script.index("BEGIN BATCH"):script.index("APPLY BATCH")]
    assert all(f"VALUES (2, '{row_id}', '{value}')" in batch for row_id, _, value in rows)
    assert f"INSERT INTO metrics.samples (tick, row_count, sha256) VALUES (2, 4, '{_sha(rows)}')" in batch
    assert "'replication_factor': 3" in script
    assert "PRIMARY KEY (tick, id)" in script and "row_count int static" in script


def test_the_cortex_apps_cassandra_keeps_the_chunks_keyspace():
    assert "INSERT INTO cortex.chunks" in _table("cortex").write_script(1)


def test_a_consistent_answer_summarises_every_partition():
    table = _table()
    one, two = _rows(1), _rows(2)
    entries, texts = table.parse(_answer({1: (one, 4, _sha(one)), 2: (two, 4, _sha(two))},
                                         files="0" * 64 + "  bulk/blob-00000.bin\n"))
    assert table.problems(entries, texts) == []
    assert entries == {"metrics.samples": _sha(one + two), "bulk/blob-00000.bin": "0" * 64}
    assert table.summary(entries, texts) == {"rows": 8, "sha256": _sha(one + two), "tick": 2}


def test_no_table_yet_reads_as_no_rows():
    table = _table()
    entries, texts = table.parse(_answer({}))
    assert (entries, table.problems(entries, texts)) == ({}, [])
    assert table.summary(entries, texts) == {"rows": 0, "sha256": None, "tick": None}


@pytest.mark.parametrize("partition,problem", [
    ((_rows(1)[:3], 4, _sha(_rows(1))), "metrics.samples partition tick=1 records 4 rows, has 3"),
    (([(i, t, "changed") if i == "1-1" else (i, t, v) for i, t, v in _rows(1)], 4, _sha(_rows(1))),
     "metrics.samples partition tick=1: checksum does not match its rows"),
    ((_rows(1), None, None), "metrics.samples partition tick=1 has rows but no count and checksum"),
    (([], 4, _sha(_rows(1))), "metrics.samples partition tick=1 records 4 rows, has 0"),
])
def test_a_partition_that_disagrees_with_its_count_or_checksum_is_caught(partition, problem):
    table = _table()
    assert table.problems(*table.parse(_answer({1: partition}))) == [problem]
