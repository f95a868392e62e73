"""The Debian root filesystem the catalogue's application images share: one
`debootstrap --variant=minbase` of Debian's servers (MariaDB for the MySQL
family, nginx, Redis, Apache with PHP and WordPress, Python, the JRE
Cassandra runs on), trimmed and written once as an image layer that every
application image starts from (one layer, so a node's containerd stores and
unpacks it once whatever the number of applications).

Debian's packages come from the machine's own apt source (its mirror and
suite), so the layer is what `apt-get install` gives on this machine; it is
cached under `$DMAAS_CACHE/realstack/images/` by the package list and this
module's format, and rebuilt only when they change.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

SUITE = "bookworm"                          # the machine's Debian release
MIRROR = "http://deb.debian.org/debian"     # the machine's apt source
PACKAGES = ("mariadb-server", "mariadb-client", "nginx-light", "redis-server", "python3",
            # WordPress as its image runs it: Apache with mod_php (debootstrap takes no Recommends)
            "apache2", "libapache2-mod-php", "php-mysql", "wordpress", "wordpress-theme-twentytwentythree",
            # Cassandra's JRE, and the driver and libraries cqlsh runs on (Cassandra's jars and
            # cqlsh itself are published artifacts: artifacts.py)
            "openjdk-17-jre-headless", "python3-cassandra", "python3-pure-sasl", "python3-wcwidth")
FORMAT = 1                                  # bump when the trimming or layout changes
# Left out of the layer: apt's caches and lists, documentation, and the
# database Debian's postinst initialises and Apache's default page (each pod
# initialises its own volume).
TRIM = ("var/cache/apt", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/info",
        "usr/share/locale", "var/lib/mysql", "etc/nginx/sites-enabled/default", "var/www/html")
# Debian's server configuration, changed as the upstream images change it
EDITS = {
    # MariaDB listens on the pod's addresses (Debian binds 127.0.0.1; the official images do not)
    "etc/mysql/mariadb.conf.d/50-server.cnf": ("bind-address            = 127.0.0.1", "bind-address            = 0.0.0.0"),
}
TIMEOUT = 900


class RootfsError(Exception):
    """The layer could not be built (message names the step and its log)."""


@dataclass(frozen=True)
class Layer:
    path: Path          # the gzip-compressed layer tar
    diff_id: str        # sha256 of the uncompressed tar, as an image config names it

    @cached_property
    def digest(self) -> str:
        """sha256 of the compressed tar, as a manifest names the blob (read
        once: every application image on this layer names it)."""
        return "sha256:" + sha256_file(self.path)


def _key() -> str:
    return hashlib.sha256(json.dumps([SUITE, MIRROR, sorted(PACKAGES), TRIM, EDITS, FORMAT]).encode()).hexdigest()[:16]


def layer(cache: Path, progress=lambda message: None) -> Layer:
    """The cached layer, built first when missing (about a minute)."""
    path = cache / f"debian-rootfs-{_key()}.tar.gz"
    digest_file = path.with_suffix(".diffid")
    if path.is_file() and digest_file.is_file():
        return Layer(path, digest_file.read_text().strip())
    if shutil.which("debootstrap") is None:
        raise RootfsError("debootstrap is not installed: run `dmaas realstack build` (it installs it)")
    cache.mkdir(parents=True, exist_ok=True)
    progress(f"debootstrap {SUITE} with {', '.join(PACKAGES)}")
    with tempfile.TemporaryDirectory(prefix="rootfs-", dir=cache) as work:
        root, log = Path(work) / "root", cache / "debootstrap.log"
        with open(log, "w") as out:
            done = subprocess.run(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}",
                                   SUITE, str(root), MIRROR], stdout=out, stderr=subprocess.STDOUT,
                                  timeout=TIMEOUT)
        if done.returncode != 0:
            raise RootfsError(f"debootstrap of {SUITE} failed (exit {done.returncode}); see {log}")
        _trim(root)
        raw = Path(work) / "layer.tar"
        _write_tar(root, raw)
        diff_id = "sha256:" + sha256_file(raw)
        partial = path.with_suffix(".tmp")
        with open(raw, "rb") as source, gzip.GzipFile(partial, "wb", compresslevel=1, mtime=0) as target:
            shutil.copyfileobj(source, target, 1 << 20)
        digest_file.write_text(diff_id + "\n")
        os.replace(partial, path)
    for stale in cache.glob("debian-rootfs-*"):     # layers of earlier package lists
        if not stale.name.startswith(path.name.removesuffix(".tar.gz")):
            stale.unlink()
    return Layer(path, diff_id)


def _trim(root: Path) -> None:
    for relative in TRIM:
        target = root / relative
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.is_dir():
            shutil.rmtree(target)
            target.mkdir()                      # the directory stays (var/lib/mysql, var/www/html)
    for relative, (old, new) in EDITS.items():
        path = root / relative
        text = path.read_text()
        if old not in text:
            raise RootfsError(f"{relative} in Debian's {SUITE} no longer says {old!r}: update rootfs.EDITS")
        path.write_text(text.replace(old, new))


def _write_tar(root: Path, target: Path) -> None:
    """The tree as a layer: ownership and modes kept; what is under dev, proc
    and sys left out (the runtime gives a container its own), as are fifos and
    sockets."""
    with tarfile.open(target, "w", format=tarfile.PAX_FORMAT) as tar:
        for directory, dirs, files in os.walk(root):
            here = Path(directory)
            entries = sorted(dirs) + sorted(files)
            if here == root:
                dirs[:] = [d for d in dirs if d not in ("dev", "proc", "sys")]
            dirs.sort()
            for name in entries:
                path = here / name
                if path.is_symlink() or path.is_dir() or path.is_file():
                    tar.add(path, arcname=str(path.relative_to(root)), recursive=False)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
