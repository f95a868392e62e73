"""Kafka's data through Kafka's own clients: what a probe writes and reads
when the pod runs a Kafka broker (its PID 1 is the JVM running kafka.Kafka),
so "consistent" means the broker serves its records back at their offsets,
not that log segment files match.

Each tick is one batch of records keyed by the tick (so one partition of
the shape's topic, runner/apps/shapes.py Kafka: "events"): the tick's
records and a last record carrying their count and the sha256 of their
text. The console producer sends the tick's few records as one batch, which
a broker appends as one unit, and after a crash (a backup of a running
broker's files is one) truncates a torn batch away as it recovers its logs:
Kafka's own crash consistency, with no hook to quiesce it. The clients are
the container's own command-line tools on its own broker.

    topic = KafkaTopic(shapes.shape("kafka", app))
    topic.write_script(tick) / topic.read_script(bulk_dir) -> sh scripts
    topic.parse(out) -> (entries, texts)     entries: {name: sha256}
    topic.summary(entries, texts), topic.problems(entries, texts)
"""
from __future__ import annotations

from runner.apps import served, shapes

SERVER_CLASS = "kafka.Kafka"
BOOTSTRAP = "localhost:9092"
END_MARK, RECORD_MARK = "#end\t", "Partition:"
COUNT_ID = "#"          # the id of a tick's last record: its count and checksum
TIMEOUT_MS = 30000      # the consumer's wait for records the end offsets say are there


def speaks_kafka(pid1_cmdline: str) -> bool:
    """Whether a container whose PID 1 runs `pid1_cmdline` is a Kafka broker."""
    return SERVER_CLASS in pid1_cmdline.split()


class KafkaTopic:
    @staticmethod
    def holds(shape) -> bool:
        """Whether the shape's data is Kafka's (records a broker keeps)."""
        return isinstance(shape, shapes.Kafka)

    def __init__(self, shape):
        self.shape = shape
        self.topic = shape.topic

    def write_script(self, tick):
        tick = int(tick)
        records = [(record_id, tick, value) for record_id, value in self.shape.records(tick)]
        lines = [f"{tick}\\t{tick}|{i}|{v}" for i, _, v in records]
        lines.append(f"{tick}\\t{tick}|{COUNT_ID}|{len(records)}|{served.rows_sha(records)}")
        text = "\\n".join(lines)
        return (f"printf '{text}\\n' | kafka-console-producer.sh --bootstrap-server {BOOTSTRAP} "
                f"--topic {self.topic} --property parse.key=true --producer-property acks=all > /dev/null\n")

    def read_script(self, bulk_dir):
        """The topic's end offsets and every record with its partition and
        offset (none while the topic does not exist), and the files of the
        bulk directory (write_bytes), run from the volume's mount."""
        return (f"if ends=$(kafka-get-offsets.sh --bootstrap-server {BOOTSTRAP} --topic {self.topic} --time -1 2>&1); then\n"
                f"  printf '%s\\n' \"$ends\" | sed -n 's/^{self.topic}:/{END_MARK}/p'\n"
                f"  total=$(printf '%s\\n' \"$ends\" | awk -F: '/^{self.topic}:/ {{n += $3}} END {{print n + 0}}')\n"
                '  if [ "$total" -gt 0 ]; then\n'
                f"    kafka-console-consumer.sh --bootstrap-server {BOOTSTRAP} --topic {self.topic} --from-beginning "
                f"--max-messages \"$total\" --timeout-ms {TIMEOUT_MS} --property print.partition=true "
                "--property print.offset=true 2> /dev/null\n"
                "  fi\n"
                'else\n  case "$ends" in *"Could not match any topic-partitions"*) ;; '
                "*) printf '%s\\n' \"$ends\" >&2; exit 1 ;; esac\nfi\n"
                + served.bulk_files_script(bulk_dir))

    def parse(self, out):
        """-> (entries, texts): entries name the topic and the bulk files
        with a sha256 each; texts["partitions"] holds each partition's end
        offset and records (offset, tick, id, value)."""
        entries, partitions = {}, {}
        head, files = served.split_answer(out)
        for line in head.splitlines():
            if line.startswith(END_MARK):
                partition, _, end = line[len(END_MARK):].partition(":")
                partitions.setdefault(int(partition), {"records": []})["end"] = int(end)
            elif line.startswith(RECORD_MARK):
                where, offset, value = line.split("\t", 2)
                tick, record_id, rest = value.split("|", 2)
                partitions.setdefault(int(where[len(RECORD_MARK):]), {"records": []})["records"].append(
                    (int(offset[len("Offset:"):]), int(tick), record_id, rest))
        data = [(i, t, v) for p in partitions.values() for _, t, i, v in p["records"] if i != COUNT_ID]
        if partitions:
            entries[self.topic] = served.rows_sha(data)
        entries.update(files)
        return entries, {"partitions": partitions}

    def summary(self, entries, texts):
        records = [r for p in (texts.get("partitions") or {}).values() for r in p["records"] if r[2] != COUNT_ID]
        return {"records": len(records), "sha256": entries.get(self.topic),
                "tick": max((r[1] for r in records), default=None)}

    def problems(self, entries, texts):
        problems, ticks = [], {}
        for number, partition in sorted((texts.get("partitions") or {}).items()):
            where = f"{self.topic}-{number}"
            offsets = [r[0] for r in partition["records"]]
            end = partition.get("end", 0)
            first = offsets[0] if offsets else end
            if offsets != list(range(first, first + len(offsets))):
                problems.append(f"{where}: offsets are not consecutive from {first}")
            elif first + len(offsets) != end:
                problems.append(f"{where}: records up to offset {first + len(offsets)}, its end offset is {end}")
            for _, tick, record_id, value in partition["records"]:
                tick_records = ticks.setdefault((where, tick), {"records": [], "count": None})
                if record_id == COUNT_ID:
                    tick_records["count"] = value.split("|", 1)
                else:
                    tick_records["records"].append((record_id, tick, value))
        for (where, tick), found in sorted(ticks.items()):
            place = f"{where} tick={tick}"
            if found["count"] is None:
                problems.append(f"{place} has records but no count and checksum")
            elif str(len(found["records"])) != found["count"][0]:
                problems.append(f"{place} says {found['count'][0]} records, has {len(found['records'])}")
            elif served.rows_sha(found["records"]) != found["count"][1]:
                problems.append(f"{place}: checksum does not match its records")
        return problems
