"""The MySQL family's data through SQL (runner/apps/sql.py): which pods the
probe asks in SQL, what it sends, and how it reads and checks the answers.
The real servers answer in tests/realstack/test_apps.py."""
import hashlib

import pytest

from runner.apps import shapes, sql
from runner.apps.probes import DataProbe


@pytest.mark.parametrize("cmdline,speaks", [
    ("mariadbd --user=mysql", True), ("/usr/sbin/mysqld --datadir=/var/lib/mysql", True), ("mysqld", True),
    ("nginx: master process nginx -g daemon off;", False), ("/pause -P -- mysqld", False), ("", False),
    ("/sbin/docker-init -- sh", False)])
def test_a_pod_speaks_sql_when_its_pid_1_is_a_mysql_family_server(cmdline, speaks):
    assert sql.speaks_sql(cmdline) is speaks


def _table(app="mysql"):
    return sql.SqlTable(shapes.shape("mysql", app))


def _answer(count, rows_sha, manifest=None, files=""):
    out = f"#rows\t{count}\t{rows_sha}\n"
    if manifest:
        out += "#manifest\t{}\t{}\t{}\n".format(*manifest)
    return out + "#files\n" + files


def test_the_write_inserts_the_ticks_rows_and_the_manifest_in_one_transaction():
    script = _table().write_script(2)
    rows = shapes.shape("mysql", "mysql").rows(2)
    assert all(f"('{row_id}', 2, '{sku}', {qty})" in script for row_id, _, sku, qty in rows)
    transaction = script[script.index("START TRANSACTION"):script.index("COMMIT")]
    assert "INSERT INTO shop.orders VALUES" in transaction and "REPLACE INTO shop.orders_manifest" in transaction
    # the password stays in the pod: the script names the container's variable, never a value
    assert 'MYSQL_PWD="$MYSQL_ROOT_PASSWORD"' in script


def test_a_consistent_answer_reads_as_the_file_shapes_summary():
    table = _table()
    entries, texts = table.parse(_answer(6, "ab" * 32, (6, "ab" * 32, 2), files="0" * 64 + "  bulk/blob-00000.bin\n"))
    assert entries["shop.orders"] == "ab" * 32
    assert entries["bulk/blob-00000.bin"] == "0" * 64
    assert entries["shop.orders_manifest"] == hashlib.sha256(f"6|{'ab' * 32}|2".encode()).hexdigest()
    assert table.problems(entries, texts) == []
    summary = table.summary(entries, texts)
    assert summary == {"rows": 6, "sha256": "ab" * 32, "tick": 2}
    assert set(summary) == set(shapes.shape("mysql", "mysql").summary({}, {}))


@pytest.mark.parametrize("answer,problem", [
    (_answer(7, "ab" * 32, (6, "ab" * 32, 2)), "shop.orders_manifest says 6 rows, shop.orders has 7"),
    (_answer(6, "cd" * 32, (6, "ab" * 32, 2)), "shop.orders_manifest checksum does not match the rows of shop.orders"),
    (_answer(3, "ab" * 32), "shop.orders has rows but no manifest"),
])
def test_rows_that_disagree_with_their_manifest_are_caught(answer, problem):
    table = _table()
    assert table.problems(*table.parse(answer)) == [problem]


def test_a_database_with_no_table_yet_is_empty_and_consistent():
    table = _table()
    entries, texts = table.parse("#files\n")
    assert entries == {} and table.problems(entries, texts) == []


class SqlPods:
    """One pod of the mysql app whose PID 1 is `pid1`; it records the scripts
    it is sent and answers the cmdline question and the SQL read."""
    def __init__(self, local_pods, pid1):
        self.pods = local_pods("mysql")
        self.core = self.pods.core
        self.pid1, self.scripts = pid1, []

    def exec(self, namespace, pod, argv):
        script = argv[2]
        if "/proc/1/cmdline" in script:
            return 0, self.pid1 + "\n", ""
        self.scripts.append(script)
        if "information_schema.TABLES" in script:
            return 0, _answer(3, "ab" * 32, (3, "ab" * 32, 1)), ""
        if "mysql -uroot" in script:
            return 0, "", ""                # the server took the transaction
        return self.pods.exec(namespace, pod, argv)


def test_the_probe_asks_a_mysql_server_in_sql_and_writes_files_elsewhere(local_pods):
    server = SqlPods(local_pods, "mariadbd --user=mysql")
    probe = DataProbe(server, "ns", "mysql")
    probe.write(1)
    assert "INSERT INTO shop.orders" in server.scripts[-1]
    assert probe.state().summary["mysql/data"]["rows"] == 3
    placeholder = SqlPods(local_pods, "/pause -P -- mysqld")
    DataProbe(placeholder, "ns", "mysql").write(1)
    assert "INSERT" not in placeholder.scripts[-1] and "orders.ibd" in placeholder.scripts[-1]
