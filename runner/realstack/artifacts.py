"""Published artifacts that application images carry beside Debian's
packages, fetched by their registries' own tools and cached by name:

    jars(cache, "org.apache.cassandra:cassandra-all:5.0.4") -> directory of
        the artifact's jar and its runtime dependencies (Maven Central, mvn)
    jars(cache, "org.apache.kafka:kafka_2.13:3.6.1", "org.slf4j:slf4j-reload4j:1.7.36")
        -> the same with a further artifact beside it
    wheel(cache, "cqlsh", "6.1.2") -> directory of the unpacked wheel (PyPI, pip)

Each lands in a directory of its own under the cache, written whole or not
at all (a failed fetch leaves nothing behind); a present directory is the
cache hit.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

TIMEOUT = 900

POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.dmaas</groupId><artifactId>image-jars</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
{dependencies}
  </dependencies>
</project>
"""
DEPENDENCY = ("    <dependency><groupId>{}</groupId><artifactId>{}</artifactId>"
              "<version>{}</version></dependency>")


class ArtifactError(Exception):
    """An artifact could not be fetched (message names it and the tool's log)."""


def _fetched(directory: Path, describe: str, fetch, progress) -> Path:
    """`directory` once `fetch(work, log)` has filled `work/out`, which then
    takes its name (the log stays beside it when the fetch fails)."""
    if directory.is_dir():
        return directory
    progress(f"fetching {describe}")
    directory.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"{directory.name}-", dir=directory.parent) as work:
        log = directory.parent / f"{directory.name}.log"
        fetch(Path(work), log)
        os.replace(Path(work) / "out", directory)
        log.unlink(missing_ok=True)
    return directory


def _run(command: list[str], log: Path, describe: str, cwd: Path) -> None:
    tool = command[0]
    if shutil.which(tool) is None:
        raise ArtifactError(f"{describe}: {tool} is not installed")
    with open(log, "w") as out:
        try:
            done = subprocess.run(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            raise ArtifactError(f"{describe}: {tool} did not finish in {TIMEOUT} s (log: {log})") from None
    if done.returncode != 0:
        raise ArtifactError(f"{describe}: {tool} exited {done.returncode} (log: {log})")


def jars(cache: Path, *coordinates: str, progress=lambda message: None) -> Path:
    """The jars of `group:artifact:version` (and of any further coordinates
    given, which the first needs beside it: a logging binding, say) with
    their runtime dependencies."""
    group, artifact, version = coordinates[0].split(":")
    describe = f"Maven Central's {' and '.join(coordinates)}"

    def fetch(work: Path, log: Path) -> None:
        dependencies = "\n".join(DEPENDENCY.format(*c.split(":")) for c in coordinates)
        (work / "pom.xml").write_text(POM.format(dependencies=dependencies))
        _run(["mvn", "-q", "-B", "dependency:copy-dependencies", "-DincludeScope=runtime",
              f"-DoutputDirectory={work / 'out'}", f"-Dmaven.repo.local={cache / 'maven-repository'}"],
             log, describe, work)
        if not (work / "out" / f"{artifact}-{version}.jar").is_file():
            raise ArtifactError(f"{describe}: mvn gave no {artifact}-{version}.jar (log: {log})")
    return _fetched(cache / f"jars-{artifact}-{version}", describe, fetch, progress)


def wheel(cache: Path, name: str, version: str, progress=lambda message: None) -> Path:
    """The unpacked wheel of PyPI's `name==version` (its dependencies are the image's business)."""
    describe = f"PyPI's {name}=={version}"

    def fetch(work: Path, log: Path) -> None:
        _run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
              "-d", str(work / "download"), f"{name}=={version}"], log, describe, work)
        wheels = list((work / "download").glob("*.whl"))
        if len(wheels) != 1:
            raise ArtifactError(f"{describe}: pip gave {len(wheels)} wheels (log: {log})")
        with zipfile.ZipFile(wheels[0]) as archive:
            archive.extractall(work / "out")
    return _fetched(cache / f"wheel-{name}-{version}", describe, fetch, progress)
