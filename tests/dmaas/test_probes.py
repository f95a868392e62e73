"""Data shapes and probes: writes keep each app's invariants, states are
comparable, and the checks catch broken data."""
import pytest

from runner.apps import catalogue
from runner.apps.probes import DataProbe, deterministic_bytes


@pytest.mark.parametrize("app", catalogue.names())
def test_writes_keep_the_app_consistent_and_change_the_state(local_pods, app):
    pods = local_pods(app, replicas=2)
    probe = DataProbe(pods, "ns", app)
    probe.write(1)
    first = probe.state()
    probe.write(2)
    second = probe.state()
    assert probe.consistency_problems() == []
    assert first != second
    assert second == probe.state()
    assert all(files for files in second.volumes.values())


def test_mysql_summary_counts_rows_and_ticks(local_pods):
    probe = DataProbe(local_pods("mysql"), "ns", "mysql")
    for tick in (1, 2, 3):
        probe.write(tick)
    summary = probe.state().summary["mysql/data"]
    assert summary["rows"] == 9 and summary["tick"] == 3


def test_a_broken_row_manifest_is_caught(local_pods, tmp_path):
    probe = DataProbe(local_pods("mysql"), "ns", "mysql")
    probe.write(1)
    manifest = tmp_path / "data-mysql-0" / "shop" / "orders.manifest"
    manifest.write_text(manifest.read_text().replace("rows=3", "rows=4"))
    problems = probe.consistency_problems()
    assert any("says 4 rows" in p for p in problems), problems


def test_rows_without_a_new_manifest_are_caught(local_pods, tmp_path):
    probe = DataProbe(local_pods("percona"), "ns", "percona")
    probe.write(1)
    with open(tmp_path / "datadir-percona-0" / "sales" / "orders.ibd", "a") as table:
        table.write("9-0|9|sku|1\n")
    assert any("checksum" in p for p in probe.consistency_problems())


def test_an_offset_gap_is_caught(local_pods, tmp_path):
    probe = DataProbe(local_pods("kafka"), "ns", "kafka")
    probe.write(1)
    probe.write(2)
    log = tmp_path / "data-kafka-0" / "events-1" / "00000000000000000000.log"
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[:1] + lines[2:]))
    problems = probe.consistency_problems()
    assert any("events-1" in p and "gap" in p for p in problems), problems


def test_a_missing_post_and_a_bad_sstable_are_caught(local_pods, tmp_path):
    probe = DataProbe(local_pods("wordpress"), "ns", "wordpress")
    probe.write(1)
    (tmp_path / "wordpress-content" / "wp-content" / "uploads" / "posts" / "post-1.html").unlink()
    assert any("missing" in p for p in probe.consistency_problems())
    probe = DataProbe(local_pods("cassandra"), "ns", "cassandra")
    probe.write(5)
    data = next((tmp_path / "data-cassandra-0").glob("data/*/*/nb-5-big-Data.db"))
    data.write_text("tampered\n")
    assert any("digest" in p for p in probe.consistency_problems())


def test_replicas_that_disagree_are_caught(local_pods, tmp_path):
    probe = DataProbe(local_pods("percona", replicas=3), "ns", "percona")
    probe.write(1)
    (tmp_path / "datadir-percona-2" / "auto.cnf").write_text("other\n")
    assert any("replica data differs" in p for p in probe.consistency_problems())


def test_same_data_ignores_replica_count(local_pods):
    three = DataProbe(local_pods("percona", 3, "a"), "ns", "percona")
    one = DataProbe(local_pods("percona", 1, "b"), "ns", "percona")
    for probe in (three, one):
        probe.write(1)
    a, b = three.state(), one.state()
    assert a != b and a.data_differences(b) == []
    one.write(2)
    assert a.data_differences(one.state())
    assert a.differences(one.state())


def test_write_bytes_sends_exactly_the_deterministic_content(local_pods, tmp_path):
    probe = DataProbe(local_pods("ml-dataset"), "ns", "ml-dataset")
    probe.write_bytes(1024 * 1024 + 100)
    raw = sorted((tmp_path / "dataset-dataset-0" / "datasets" / "raw").iterdir())
    assert [p.stat().st_size for p in raw] == [1024 * 1024, 100]
    assert raw[0].read_bytes() == deterministic_bytes("ml-dataset/datasets/raw/blob-00000.bin", 1024 * 1024)
    probe.write_bytes(10)
    assert len(list((tmp_path / "dataset-dataset-0" / "datasets" / "raw").iterdir())) == 3
    assert probe.consistency_problems() == []


def test_what_the_applications_own_server_writes_is_not_the_probes_data(local_pods, tmp_path):
    """Cortex's WAL (segments it replays and prunes after a restore) is left
    out of the state; the probe's own files beside it are in it."""
    probe = DataProbe(local_pods("cortex"), "ns", "cortex")
    probe.write(1)
    before = probe.state()
    (tmp_path / "wal-cortex-0" / "wal").mkdir()
    (tmp_path / "wal-cortex-0" / "wal" / "00000001").write_bytes(b"a segment Cortex writes")
    assert probe.state() == before
    assert any(path.startswith("series/") for path in before.volumes["wal-cortex-0"])
