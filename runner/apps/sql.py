"""The MySQL family's data through SQL: what a probe writes and reads when
the pod runs a MySQL-family server (its PID 1 is mysqld or mariadbd), so
"consistent" means the server reads its rows back, not that files match.

The rows are the file shape's (runner/apps/shapes.py MySQL: an orders table
and a manifest recording its row count, the sha256 of its rows and the last
tick), written in one transaction, as an application commits an order and
its summary together. The client is the container's own `mysql` with the
root password from the container's environment (MYSQL_ROOT_PASSWORD, the
official images' contract), passed as MYSQL_PWD: it never leaves the pod.

    table = SqlTable(shapes.shape("mysql", app))
    table.write_script(tick) / table.read_script(bulk_dir) -> sh scripts
    table.parse(out) -> (entries, texts)     entries: {name: sha256}
    table.summary(entries, texts), table.problems(entries, texts)
"""
from __future__ import annotations

import hashlib

from runner.apps import served, shapes

SERVERS = ("mysqld", "mariadbd")          # PID 1 of a container that speaks SQL here
ROW_MARK, MANIFEST_MARK = "#rows\t", "#manifest\t"
_CLIENT = 'export MYSQL_PWD="$MYSQL_ROOT_PASSWORD"\nsql() { mysql -uroot -N -B -e "$1"; }\n'
ROW_TEXT = "CONCAT_WS('|', id, tick, sku, qty)"


def speaks_sql(pid1_cmdline: str) -> bool:
    """Whether a container whose PID 1 runs `pid1_cmdline` is a MySQL-family server."""
    argv0 = (pid1_cmdline.split() or [""])[0]
    return argv0.rsplit("/", 1)[-1] in SERVERS


class SqlTable:
    @staticmethod
    def holds(shape) -> bool:
        """Whether the shape's data is the MySQL family's (rows an SQL server keeps)."""
        return isinstance(shape, shapes.MySQL)

    def __init__(self, shape):
        self.shape = shape
        self.table = f"{shape.database}.{shape.table}"
        self.manifest = f"{shape.database}.{shape.table}_manifest"

    def write_script(self, tick):
        values = ", ".join(f"('{row_id}', {row_tick}, '{sku}', {qty})"
                           for row_id, row_tick, sku, qty in self.shape.rows(tick))
        statements = (
            f"CREATE DATABASE IF NOT EXISTS {self.shape.database}; "
            f"CREATE TABLE IF NOT EXISTS {self.table} (id VARCHAR(32) PRIMARY KEY, tick INT NOT NULL, "
            f"sku VARCHAR(32) NOT NULL, qty INT NOT NULL) ENGINE=InnoDB; "
            f"CREATE TABLE IF NOT EXISTS {self.manifest} (id TINYINT PRIMARY KEY, row_count INT NOT NULL, "
            f"sha256 CHAR(64) NOT NULL, tick INT NOT NULL) ENGINE=InnoDB; "
            "SET SESSION group_concat_max_len = 67108864; "
            "START TRANSACTION; "
            f"INSERT INTO {self.table} VALUES {values}; "
            f"REPLACE INTO {self.manifest} SELECT 1, COUNT(*), "
            f"SHA2(GROUP_CONCAT({ROW_TEXT} ORDER BY id SEPARATOR '\\n'), 256), {int(tick)} FROM {self.table}; "
            "COMMIT;")
        return _CLIENT + f'sql "{statements}"\n'

    def read_script(self, bulk_dir):
        """The table's rows (count and sha256), the manifest, and the files
        of the bulk directory (write_bytes), run from the volume's mount."""
        database, table = self.shape.database, self.shape.table
        exists = (f"SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{database}' "
                  f"AND TABLE_NAME IN ('{table}', '{table}_manifest')")
        rows = (f"SET SESSION group_concat_max_len = 67108864; "
                f"SELECT 'rows', COUNT(*), IFNULL(SHA2(GROUP_CONCAT({ROW_TEXT} ORDER BY id SEPARATOR '\\n'), 256), '') "
                f"FROM {self.table}; "
                f"SELECT 'manifest', row_count, sha256, tick FROM {self.manifest} WHERE id = 1")
        return (_CLIENT + f'if [ "$(sql "{exists}")" = 2 ]; then\n'
                f'  sql "{rows}" | sed "s/^/#/"\nfi\n'
                + served.bulk_files_script(bulk_dir))

    def parse(self, out):
        """-> (entries, texts): entries name the table, its manifest and the
        bulk files with a sha256 each; texts keep the values the checks read."""
        entries, texts = {}, {}
        head, files = served.split_answer(out)
        for line in head.splitlines():
            if line.startswith(ROW_MARK):
                count, sha = (line[len(ROW_MARK):].split("\t") + [""])[:2]
                texts["rows"] = {"count": int(count), "sha256": sha}
                entries[self.table] = sha
            elif line.startswith(MANIFEST_MARK):
                count, sha, tick = line[len(MANIFEST_MARK):].split("\t")
                texts["manifest"] = {"rows": int(count), "sha256": sha, "tick": int(tick)}
                entries[self.manifest] = hashlib.sha256(f"{count}|{sha}|{tick}".encode()).hexdigest()
        entries.update(files)
        return entries, texts

    def summary(self, entries, texts):
        manifest = texts.get("manifest") or {}
        return {"rows": manifest.get("rows", 0), "sha256": manifest.get("sha256"), "tick": manifest.get("tick")}

    def problems(self, entries, texts):
        rows, manifest = texts.get("rows"), texts.get("manifest")
        if manifest is None:
            return [f"{self.table} has rows but no manifest"] if rows and rows["count"] else []
        problems = []
        if rows["count"] != manifest["rows"]:
            problems.append(f"{self.manifest} says {manifest['rows']} rows, {self.table} has {rows['count']}")
        if rows["sha256"] != manifest["sha256"]:
            problems.append(f"{self.manifest} checksum does not match the rows of {self.table}")
        return problems
