"""Kafka's data through its clients (runner/apps/kafka.py): which pods the
probe asks through Kafka's tools, what it produces, and how it reads and
checks what the broker serves. A real broker answers in
tests/realstack/test_apps.py."""
import hashlib

import pytest

from runner.apps import kafka, served, shapes


@pytest.mark.parametrize("cmdline,speaks", [
    ("java -Xmx384m -Xms384m -XX:+UseG1GC -cp /opt/bitnami/kafka/libs/* kafka.Kafka /opt/bitnami/kafka/config/server.properties", True),
    ("/opt/bitnami/java/bin/java -server -cp /opt/bitnami/kafka/bin/../libs/* kafka.Kafka /opt/bitnami/kafka/config/server.properties", True),
    ("java -Xmx256M -cp /opt/bitnami/kafka/libs/* kafka.tools.ConsoleProducer --topic events", False),
    ("/pause -P -- /opt/bitnami/scripts/kafka/run.sh", False), ("mariadbd --user=mysql", False), ("", False)])
def test_a_pod_speaks_kafka_when_its_pid_1_runs_the_broker(cmdline, speaks):
    assert kafka.speaks_kafka(cmdline) is speaks


def _topic():
    return kafka.KafkaTopic(shapes.shape("kafka", "kafka"))


def _records(tick):
    return [(record_id, tick, value) for record_id, value in shapes.shape("kafka", "kafka").records(tick)]


def _sha(records):
    return hashlib.sha256("\n".join(f"{i}|{t}|{v}" for i, t, v in sorted(records)).encode()).hexdigest()


def _batch(tick, records=None, count=None, sha=None):
    """A tick's records as the producer sends them: its records, then the count record."""
    records = _records(tick) if records is None else records
    count = len(records) if count is None else count
    return [(i, t, v) for i, t, v in records] + [("#", tick, f"{count}|{sha or _sha(records)}")]


def _answer(partitions, files=""):
    """The read script's output: end offsets, then the console consumer's
    lines (partition, offset, value); partitions: {number: [(id, tick, value)...]}."""
    lines = [f"{kafka.END_MARK}{p}:{len(records)}" for p, records in partitions.items()]
    for p, records in partitions.items():
        lines += [f"Partition:{p}\tOffset:{offset}\t{t}|{i}|{v}" for offset, (i, t, v) in enumerate(records)]
    return "\n".join(lines + [served.FILES_MARK, files])


def test_the_write_produces_a_ticks_records_and_their_count_as_one_keyed_batch():
    script = _topic().write_script(2)
    records = _records(2)
    assert script.count("\n") == 1 and "kafka-console-producer.sh --bootstrap-server localhost:9092 --topic events" in script
    assert "--property parse.key=true" in script and "acks=all" in script
    produced = script[script.index("'") + 1:script.index("' |")].split("\\n")[:-1]
    assert produced == [f"2\\t2|{i}|{v}" for i, _, v in records] + [f"2\\t2|#|{len(records)}|{_sha(records)}"]


def test_a_consistent_topic_summarises_every_record():
    topic = _topic()
    one, two = _records(1), _records(2)
    entries, texts = topic.parse(_answer({0: _batch(1), 1: [], 2: _batch(2)}, files="0" * 64 + "  bulk/blob-00000.bin\n"))
    assert topic.problems(entries, texts) == []
    assert entries == {"events": _sha(one + two), "bulk/blob-00000.bin": "0" * 64}
    assert topic.summary(entries, texts) == {"records": 4, "sha256": _sha(one + two), "tick": 2}


def test_no_topic_yet_reads_as_no_records():
    topic = _topic()
    entries, texts = topic.parse(_answer({}))
    assert (entries, topic.problems(entries, texts)) == ({}, [])
    assert topic.summary(entries, texts) == {"records": 0, "sha256": None, "tick": None}


def test_records_short_of_the_end_offset_are_caught():
    topic = _topic()
    answer = _answer({0: _batch(1)}).replace(f"{kafka.END_MARK}0:3", f"{kafka.END_MARK}0:5")
    assert topic.problems(*topic.parse(answer)) == ["events-0: records up to offset 3, its end offset is 5"]


def test_a_gap_in_the_offsets_is_caught():
    topic = _topic()
    answer = _answer({0: _batch(1) + _batch(2)}).replace("Offset:3\t", "Offset:4\t")
    assert "events-0: offsets are not consecutive from 0" in topic.problems(*topic.parse(answer))


@pytest.mark.parametrize("batch,problem", [
    (_batch(1)[:1] + _batch(1)[2:], "events-0 tick=1 says 2 records, has 1"),
    ([(i, t, "changed" if i == "1-1" else v) for i, t, v in _batch(1)], "events-0 tick=1: checksum does not match its records"),
    (_batch(1)[:-1], "events-0 tick=1 has records but no count and checksum"),
    (_batch(1) + [("1-9", 1, "forged")], "events-0 tick=1 says 2 records, has 3"),
])
def test_a_tick_that_disagrees_with_its_count_or_checksum_is_caught(batch, problem):
    topic = _topic()
    assert topic.problems(*topic.parse(_answer({0: batch}))) == [problem]
