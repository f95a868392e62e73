"""The images' archives: an application image is Debian's root filesystem
as a base layer under its own files, and the base is trimmed and edited
only where the upstream images differ from Debian."""
import gzip
import hashlib
import io
import json
import tarfile

import pytest

from runner.realstack import artifacts, images, rootfs


def _layer(tmp_path, files):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path = tmp_path / "base.tar.gz"
    path.write_bytes(gzip.compress(raw.getvalue()))
    return rootfs.Layer(path, "sha256:" + hashlib.sha256(raw.getvalue()).hexdigest())


def test_an_application_image_is_the_base_layer_under_its_own_files(tmp_path):
    base = _layer(tmp_path, {"etc/passwd": b"root:x:0:0::/root:/bin/sh\nmysql:x:100:101::/:/bin/false\n"})
    entry = tmp_path / "entrypoint.sh"
    entry.write_text("#!/bin/sh\nexec \"$@\"\n")
    image = images.Image("db", "1", {"/usr/local/bin/docker-entrypoint.sh": entry},
                         entrypoint=["docker-entrypoint.sh"], cmd=["mariadbd"], busybox=False, base=base,
                         workdir="/data")
    with tarfile.open(images.archive([image], tmp_path / "cache", "db")) as archive:
        blob = lambda digest: archive.extractfile(f"blobs/sha256/{digest[7:]}").read()
        [entry_manifest] = json.loads(archive.extractfile("index.json").read())["manifests"]
        manifest = json.loads(blob(entry_manifest["digest"]))
        config = json.loads(blob(manifest["config"]["digest"]))
        layers = [blob(layer["digest"]) for layer in manifest["layers"]]
    assert layers[0] == base.path.read_bytes()
    assert config["rootfs"]["diff_ids"][0] == base.diff_id
    assert config["config"]["Entrypoint"] == ["docker-entrypoint.sh"] and config["config"]["WorkingDir"] == "/data"
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layers[1]))) as own:
        names = own.getnames()
    # its own layer adds its files and leaves the base's users alone
    assert "usr/local/bin/docker-entrypoint.sh" in names and "etc/passwd" not in names


def test_a_debian_configuration_line_that_moved_is_named(tmp_path):
    config = tmp_path / "etc/mysql/mariadb.conf.d/50-server.cnf"
    config.parent.mkdir(parents=True)
    config.write_text("[mysqld]\nbind-address = ::1\n")
    with pytest.raises(rootfs.RootfsError, match="50-server.cnf in Debian's bookworm no longer says"):
        rootfs._trim(tmp_path)


def test_a_profile_mapping_to_an_image_not_built_is_named():
    from pathlib import Path
    from runner.realstack.stack import Stack, StackError
    stack = Stack(Path(__file__).resolve().parents[2])
    mirror = stack.image_mirror()
    built = sorted(set(mirror.values()))
    assert stack.image_mirror(built=built) == mirror
    with pytest.raises(StackError, match=r"realstack.yaml: images: docker.io/library/mysql:8.0.36 maps to "
                                         r"dmaas.local/mariadb:10.11, which the real stack does not build"):
        stack.image_mirror(built=[b for b in built if "mariadb" not in b])


def test_a_published_artifact_that_fails_to_fetch_leaves_nothing_and_is_named(tmp_path, monkeypatch):
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "mvn").write_text("#!/bin/sh\necho 'Could not resolve dependencies' >&2\nexit 1\n")
    (tools / "mvn").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}:/usr/bin:/bin")
    with pytest.raises(artifacts.ArtifactError, match=r"^Maven Central's org.example:lib:1.0: mvn exited 1 \(log: "):
        artifacts.jars(tmp_path / "cache", "org.example:lib:1.0")
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["jars-lib-1.0.log"]
    assert "Could not resolve" in (tmp_path / "cache" / "jars-lib-1.0.log").read_text()


def test_a_fetched_artifact_is_found_without_its_tool(tmp_path, monkeypatch):
    cached = tmp_path / "cache" / "wheel-cqlsh-6.1.2"
    cached.mkdir(parents=True)
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    assert artifacts.wheel(tmp_path / "cache", "cqlsh", "6.1.2") == cached


def _published(tmp_path):
    lib, wheel, kafka_lib = tmp_path / "lib", tmp_path / "wheel", tmp_path / "kafka-lib"
    (wheel / "cqlsh").mkdir(parents=True)
    (wheel / "cqlsh-6.1.2.dist-info").mkdir()
    lib.mkdir()
    kafka_lib.mkdir()
    for path in (lib / "cassandra-all-5.0.4.jar", lib / "netty-all-4.1.jar", wheel / "cqlsh" / "__main__.py",
                 wheel / "cqlsh-6.1.2.dist-info" / "RECORD", kafka_lib / "kafka_2.13-3.6.1.jar",
                 kafka_lib / "slf4j-reload4j-1.7.36.jar"):
        path.write_text("x")
    return images.Published(cassandra_lib=lib, cqlsh=wheel, kafka_lib=kafka_lib)


VERSIONS = {"VELERO_VERSION": "v1", "LEGACY_VELERO_VERSION": "v0", "VELERO_AWS_VERSION": "v1", "COREDNS_VERSION": "v1",
            "LOCALPV_PROVISIONER_VERSION": "v1", "CORTEX_VERSION": "v1", "TRAEFIK_VERSION": "v1", "CASSANDRA_VERSION": "5.0.4",
            "KAFKA_VERSION": "3.6.1"}


def test_the_cassandra_image_carries_the_jars_and_cqlsh_on_the_debian_layer(tmp_path):
    base = _layer(tmp_path, {"etc/passwd": b"root:x:0:0::/root:/bin/sh\n"})
    [cassandra] = [i for i in images.catalogue(tmp_path, VERSIONS, base, _published(tmp_path)) if i.name == "cassandra"]
    assert cassandra.base is base and cassandra.cmd == ["cassandra", "-f"]
    assert {"/opt/cassandra/lib/cassandra-all-5.0.4.jar", "/opt/cassandra/lib/netty-all-4.1.jar",
            "/opt/cqlsh/cqlsh/__main__.py", "/usr/local/bin/cqlsh", "/usr/local/bin/nodetool"} <= set(cassandra.files)
    assert not any("dist-info" in path for path in cassandra.files)
    assert all(source.is_file() for source in cassandra.files.values())


def test_the_kafka_image_lays_kafka_out_as_the_bitnami_image_does(tmp_path):
    base = _layer(tmp_path, {"etc/passwd": b"root:x:0:0::/root:/bin/sh\n"})
    [kafka] = [i for i in images.catalogue(tmp_path, VERSIONS, base, _published(tmp_path)) if i.name == "kafka"]
    assert kafka.reference == "dmaas.local/kafka:3.6.1" and kafka.base is base
    assert (kafka.entrypoint, kafka.cmd) == (["/opt/bitnami/scripts/kafka/entrypoint.sh"],
                                             ["/opt/bitnami/scripts/kafka/run.sh"])
    assert {"/opt/bitnami/kafka/libs/kafka_2.13-3.6.1.jar", "/opt/bitnami/kafka/libs/slf4j-reload4j-1.7.36.jar",
            "/usr/local/bin/kafka-console-producer.sh", "/usr/local/bin/kafka-get-offsets.sh",
            "/opt/bitnami/kafka/config/log4j.properties"} <= set(kafka.files)
    assert all(source.is_file() for source in kafka.files.values())
