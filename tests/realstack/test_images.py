"""The images' archives: an application image is Debian's root filesystem
as a base layer under its own files, and the base is trimmed and edited
only where the upstream images differ from Debian."""
import gzip
import hashlib
import io
import json
import tarfile

import pytest

from runner.realstack import images, rootfs


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
