"""What the probes that ask a server (sql.py, cql.py, kafka.py) share: the
files write_bytes left in the volume's bulk directory, listed after the
server's answer in the same exec, and the checksum of a tick's rows.

    bulk_files_script(bulk_dir) -> the sh lines that list them after FILES_MARK
    split_answer(out) -> (the server's lines, {bulk file: sha256})
    rows_sha(rows) -> sha256 of rows (id, tick, value)
"""
from __future__ import annotations

import hashlib

FILES_MARK = "#files"


def bulk_files_script(bulk_dir: str) -> str:
    """The bulk directory's finished files with their sha256, after FILES_MARK."""
    return (f"printf '%s\\n' '{FILES_MARK}'\n"
            f"if [ -d {bulk_dir} ]; then find {bulk_dir} -type f ! -name '*.part' -exec sha256sum {{}} +; fi\n")


def split_answer(out: str) -> tuple[str, dict[str, str]]:
    """(the server's part of a read script's output, {bulk file: sha256})."""
    head, _, listing = out.partition(FILES_MARK + "\n")
    files = {}
    for line in listing.splitlines():
        sha, _, path = line.partition("  ")
        if path:
            files[path] = sha
    return head, files


def rows_sha(rows) -> str:
    """sha256 of rows (id, tick, value), one `id|tick|value` line each, by id."""
    return hashlib.sha256("\n".join(f"{i}|{t}|{v}" for i, t, v in sorted(rows)).encode()).hexdigest()
