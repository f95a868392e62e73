"""The real stack's container images, built here, never pulled: each is a
few files (our static builds of upstream binaries, and Debian's static
busybox and catatonit) laid out as upstream's image lays them out, or, for
the catalogue's applications, Debian's root filesystem with their servers
(rootfs.py) as a base layer under an entrypoint and configuration of their
own; written as OCI image archives that `ctr images import` takes into a
node's containerd (the applications in one archive, their base stored
once). Archives are cached by content under `$DMAAS_CACHE/realstack/images/`,
so an unchanged image is not written again.

Names: each image is built under a local name (`dmaas.local/<name>:<tag>`);
a target profile's `images:` maps the names manifests use (`velero/velero:v1.16.2`,
`registry.k8s.io/pause:3.10`) to local names, as an air-gapped cluster's
registry mirror would, and the stack tags each local image with those names
in every node's containerd.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from runner.realstack import artifacts, rootfs

BUSYBOX = Path("/usr/bin/busybox")        # Debian's busybox-static
CATATONIT = Path("/usr/bin/catatonit")    # Debian's catatonit: an init with a pause mode (-P)
LOCAL_REGISTRY = "dmaas.local"
EPOCH = 0                                 # every file's mtime: the same inputs make the same digest
FORMAT = 2                                # bump when the archive's layout changes


@dataclass
class Image:
    name: str                              # local name without registry, e.g. "velero"
    tag: str
    files: dict[str, Path]                 # path in the image -> file on this machine
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    user: str = ""
    busybox: bool = True                   # a shell and coreutils (sh, cp, mkdir ...) in /bin
    base: rootfs.Layer | None = None       # a layer under the files (Debian's root filesystem)
    workdir: str = ""

    @property
    def reference(self) -> str:
        return f"{LOCAL_REGISTRY}/{self.name}:{self.tag}"


IMAGE_FILES = Path(__file__).resolve().parents[2] / "realstack" / "images"
# the names of Kafka's command-line tools in its distribution's bin/ (one launcher: kafka-tool)
KAFKA_TOOLS = ("kafka-run-class.sh", "kafka-server-start.sh", "kafka-storage.sh", "kafka-topics.sh",
               "kafka-console-producer.sh", "kafka-console-consumer.sh", "kafka-get-offsets.sh")


def catalogue(bin_dir: Path, versions: dict[str, str], debian: rootfs.Layer,
              published: "Published") -> list[Image]:
    """The images the real stack runs, from the built binaries, Debian's
    packages and the published artifacts (artifacts.py) the build fetched."""
    cassandra = {f"/opt/cassandra/lib/{jar.name}": jar for jar in sorted(published.cassandra_lib.glob("*.jar"))}
    cassandra.update({f"/opt/cqlsh/{path.relative_to(published.cqlsh)}": path
                      for path in sorted(published.cqlsh.glob("cqlsh*/**/*.py"))})
    cassandra.update({"/usr/local/bin/docker-entrypoint.sh": IMAGE_FILES / "cassandra-entrypoint.sh",
                      "/usr/local/bin/cassandra": IMAGE_FILES / "cassandra",
                      "/usr/local/bin/nodetool": IMAGE_FILES / "nodetool",
                      "/usr/local/bin/cqlsh": IMAGE_FILES / "cqlsh",
                      "/etc/cassandra/jvm17-server.options": IMAGE_FILES / "cassandra-jvm17-server.options",
                      "/etc/cassandra/logback.xml": IMAGE_FILES / "cassandra-logback.xml",
                      "/etc/cassandra/logback-tools.xml": IMAGE_FILES / "cassandra-logback-tools.xml"})
    # laid out as the bitnami/kafka image users name lays Kafka out, its tools on PATH
    kafka = {f"/opt/bitnami/kafka/libs/{jar.name}": jar for jar in sorted(published.kafka_lib.glob("*.jar"))}
    kafka.update({f"/usr/local/bin/{tool}": IMAGE_FILES / "kafka-tool" for tool in KAFKA_TOOLS})
    kafka.update({"/opt/bitnami/scripts/kafka/entrypoint.sh": IMAGE_FILES / "kafka-entrypoint.sh",
                  "/opt/bitnami/scripts/kafka/run.sh": IMAGE_FILES / "kafka-run.sh",
                  "/opt/bitnami/kafka/config/log4j.properties": IMAGE_FILES / "kafka-log4j.properties",
                  "/opt/bitnami/kafka/config/tools-log4j.properties": IMAGE_FILES / "kafka-tools-log4j.properties"})
    return [
        # velero/velero: /velero (server, node-agent, CLI) and the restore helper
        # the restore-wait init container runs; the official image runs as 65532
        Image("velero", versions["VELERO_VERSION"],
              {"/velero": bin_dir / "velero", "/velero-restore-helper": bin_dir / "velero-restore-helper"},
              entrypoint=["/velero"], user="65532:65532"),
        # the legacy set's Velero; before 1.14 its restore helper has an image of its
        # own (velero/velero-restore-helper), as upstream publishes it
        Image("velero", versions["LEGACY_VELERO_VERSION"],
              {"/velero": bin_dir / "legacy" / "velero",
               "/velero-restore-helper": bin_dir / "legacy" / "velero-restore-helper"},
              entrypoint=["/velero"], user="65532:65532"),
        Image("velero-restore-helper", versions["LEGACY_VELERO_VERSION"],
              {"/velero-restore-helper": bin_dir / "legacy" / "velero-restore-helper"},
              entrypoint=["/velero-restore-helper"], user="65532:65532"),
        # velero/velero-plugin-for-aws: an init container copying the plugin to /target
        Image("velero-plugin-for-aws", versions["VELERO_AWS_VERSION"],
              {"/plugins/velero-plugin-for-aws": bin_dir / "velero-plugin-for-aws"},
              entrypoint=["cp", "/plugins/velero-plugin-for-aws", "/target/."], user="65532:65532"),
        Image("coredns", versions["COREDNS_VERSION"], {"/coredns": bin_dir / "coredns"},
              entrypoint=["/coredns"], busybox=False),
        Image("local-path-provisioner", versions["LOCALPV_PROVISIONER_VERSION"],
              {"/usr/bin/local-path-provisioner": bin_dir / "local-path-provisioner"}),
        # quay.io/cortexproject/cortex: /bin/cortex (every target in one binary) with a shell, as its alpine image
        Image("cortex", versions["CORTEX_VERSION"], {"/bin/cortex": bin_dir / "cortex"}, entrypoint=["/bin/cortex"]),
        # Traefik serving Ingresses in ingress-nginx's place: the controller
        # image's /nginx-ingress-controller takes its flags and execs Traefik
        Image("traefik", versions["TRAEFIK_VERSION"],
              {"/usr/local/bin/traefik": bin_dir / "traefik",
               "/nginx-ingress-controller": IMAGE_FILES / "nginx-ingress-controller"},
              cmd=["/nginx-ingress-controller"]),
        # what local-path-provisioner's helper pods and small test pods run
        Image("busybox", "1.35", {}, cmd=["sh"]),
        # the pod sandbox's process: pause's job (sleep, reap, exit on a signal)
        Image("pause", "3.10", {"/pause": CATATONIT}, entrypoint=["/pause", "-P"], busybox=False),
        # what the catalogue's application images are mapped to until they are
        # built here: a process that only waits (its arguments, the application's,
        # ignored after "--"), with busybox's shell for the probes' exec
        Image("app-placeholder", "1", {"/pause": CATATONIT}, entrypoint=["/pause", "-P", "--"]),
        # the catalogue's applications, on Debian's packages (tags: Debian's versions)
        Image("mariadb", "10.11", {"/usr/local/bin/docker-entrypoint.sh": IMAGE_FILES / "mysql-entrypoint.sh",
                                   "/etc/mysql/mariadb.conf.d/70-small.cnf": IMAGE_FILES / "mariadb-small.cnf"},
              entrypoint=["docker-entrypoint.sh"], cmd=["mariadbd"], busybox=False, base=debian),
        Image("nginx", "1.22", {"/etc/nginx/conf.d/default.conf": IMAGE_FILES / "nginx-default.conf"},
              cmd=["nginx", "-g", "daemon off;"], busybox=False, base=debian),
        Image("redis", "7.0", {}, cmd=["redis-server", "--protected-mode", "no"], workdir="/data",
              busybox=False, base=debian),
        Image("wordpress", "6.1", {"/usr/local/bin/docker-entrypoint.sh": IMAGE_FILES / "wordpress-entrypoint.sh"},
              entrypoint=["docker-entrypoint.sh"], cmd=["apache2-foreground"], workdir="/var/www/html",
              busybox=False, base=debian),
        Image("python", "3.11", {}, cmd=["python3"], busybox=False, base=debian),
        # Cassandra's jars on Debian's JRE, with cqlsh (PyPI) on Debian's Cassandra driver
        Image("cassandra", versions["CASSANDRA_VERSION"], cassandra, entrypoint=["docker-entrypoint.sh"],
              cmd=["cassandra", "-f"], busybox=False, base=debian),
        # Kafka's jars on Debian's JRE, with the bitnami image's environment contract
        Image("kafka", versions["KAFKA_VERSION"], kafka, entrypoint=["/opt/bitnami/scripts/kafka/entrypoint.sh"],
              cmd=["/opt/bitnami/scripts/kafka/run.sh"], busybox=False, base=debian),
    ]


def _tar_bytes(image: Image) -> bytes:
    """The image's own layer: its files and their parent directories; on no
    base, a minimal root too (/tmp, /etc/passwd with root and nonroot, and
    busybox's applets)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = set() if image.base else {"tmp", "etc", "bin"} if image.busybox else {"tmp", "etc"}
        for path in image.files:
            parts = path.strip("/").split("/")[:-1]
            dirs |= {"/".join(parts[:i + 1]) for i in range(len(parts))}
        for d in sorted(dirs):
            info = tarfile.TarInfo(d)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755, EPOCH
            tar.addfile(info)
        files = dict(image.files)
        if not image.base:
            _minimal_root(tar, image, files)
        for path, source in sorted(files.items()):
            info = tarfile.TarInfo(path.strip("/"))
            info.size, info.mode, info.mtime = source.stat().st_size, 0o755, EPOCH
            with open(source, "rb") as data:
                tar.addfile(info, data)
        if image.busybox:
            applets = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True, check=True).stdout
            for applet in sorted(set(applets.split()) - {"busybox"}):
                info = tarfile.TarInfo(f"bin/{applet}")
                info.type, info.linkname, info.mode, info.mtime = tarfile.SYMTYPE, "busybox", 0o777, EPOCH
                tar.addfile(info)
    return out.getvalue()


def _minimal_root(tar: tarfile.TarFile, image: Image, files: dict[str, Path]) -> None:
    # the unprivileged user's home, where Velero's kopia keeps its config
    for d in ("home", "home/nonroot"):
        info = tarfile.TarInfo(d)
        info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, EPOCH
        info.uid = info.gid = 65532 if d == "home/nonroot" else 0
        tar.addfile(info)
    passwd = b"root:x:0:0:root:/root:/bin/sh\nnonroot:x:65532:65532:nonroot:/home/nonroot:/bin/sh\n"
    group = b"root:x:0:\nnonroot:x:65532:\n"
    if image.busybox:
        files["/bin/busybox"] = BUSYBOX
    for name, data in (("etc/passwd", passwd), ("etc/group", group)):
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(data), 0o644, EPOCH
        tar.addfile(info, io.BytesIO(data))


def _blob(data: bytes) -> tuple[str, bytes]:
    return "sha256:" + hashlib.sha256(data).hexdigest(), data


def _inputs_key(image: Image) -> str:
    """What the archive is made of: the image's definition and its files'
    identity (path, size, mtime), so a warm cache is found without reading them."""
    files = dict(image.files, **({"/bin/busybox": BUSYBOX} if image.busybox else {}))
    described = [image.reference, image.entrypoint, image.cmd, image.user, image.workdir, FORMAT,
                 image.base.diff_id if image.base else None] + [
        (path, str(source), source.stat().st_size, source.stat().st_mtime_ns) for path, source in sorted(files.items())]
    return hashlib.sha256(json.dumps(described).encode()).hexdigest()[:16]


def _manifest(image: Image, blobs: dict[str, bytes | Path]) -> tuple[str, int]:
    """Adds the image's layers, config and manifest to `blobs` (by digest);
    -> (manifest digest, size)."""
    layer = _tar_bytes(image)
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    layer_digest, layer_gz = _blob(gzip.compress(layer, compresslevel=1, mtime=0))
    blobs[layer_digest] = layer_gz
    layers = [(layer_digest, len(layer_gz), diff_id)]
    if image.base:
        blobs[image.base.digest] = image.base.path
        layers.insert(0, (image.base.digest, image.base.path.stat().st_size, image.base.diff_id))
    path_env = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    config = {"architecture": "amd64", "os": "linux",
              "config": {k: v for k, v in (("Entrypoint", image.entrypoint), ("Cmd", image.cmd),
                                           ("User", image.user), ("WorkingDir", image.workdir),
                                           ("Env", [path_env])) if v},
              "rootfs": {"type": "layers", "diff_ids": [d for _, _, d in layers]}}
    config_digest, config_bytes = _blob(json.dumps(config, sort_keys=True).encode())
    blobs[config_digest] = config_bytes
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": config_digest, "size": len(config_bytes)},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                            "digest": digest, "size": size} for digest, size, _ in layers]}
    manifest_digest, manifest_bytes = _blob(json.dumps(manifest, sort_keys=True).encode())
    blobs[manifest_digest] = manifest_bytes
    return manifest_digest, len(manifest_bytes)


def archive(images: list[Image], cache: Path, name: str) -> Path:
    """One OCI archive of `images` (written once per set of inputs): images
    on the same base share its blob, so a node imports it once."""
    key = hashlib.sha256("".join(_inputs_key(image) for image in images).encode()).hexdigest()[:16]
    path = cache / f"{name}-{key}.tar"
    if path.is_file():
        return path
    blobs: dict[str, bytes | Path] = {}
    entries = []
    for image in images:
        digest, size = _manifest(image, blobs)
        entries.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": size,
                        "annotations": {"io.containerd.image.name": image.reference,
                                        "org.opencontainers.image.ref.name": image.tag}})
    cache.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    with tarfile.open(partial, "w") as tar:
        for member, data in (("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'),
                             ("index.json", json.dumps({"schemaVersion": 2, "manifests": entries}).encode())):
            info = tarfile.TarInfo(member)
            info.size, info.mtime = len(data), EPOCH
            tar.addfile(info, io.BytesIO(data))
        for digest, data in blobs.items():
            if isinstance(data, Path):
                tar.add(data, arcname=f"blobs/sha256/{digest[7:]}")
                continue
            info = tarfile.TarInfo(f"blobs/sha256/{digest[7:]}")
            info.size, info.mtime = len(data), EPOCH
            tar.addfile(info, io.BytesIO(data))
    os.replace(partial, path)
    return path


def build_all(bin_dir: Path, versions: dict[str, str], cache: Path,
              progress=lambda message: None) -> dict[Path, list[str]]:
    """Every image's archive -> the local references it holds: one archive
    an image, but the applications on Debian's layer share one."""
    debian = rootfs.layer(cache, progress)
    images = catalogue(bin_dir, versions, debian, published(versions, cache, progress))
    archives = {archive([image], cache, f"{image.name}-{image.tag}"): [image.reference]
                for image in images if not image.base}
    on_debian = [image for image in images if image.base]
    shared = archive(on_debian, cache, "apps-on-debian")
    for stale in cache.glob("apps-on-debian-*.tar"):      # each holds Debian's layer: keep the current one
        if stale != shared:
            stale.unlink()
    archives[shared] = [image.reference for image in on_debian]
    return archives


@dataclass(frozen=True)
class Published:
    """The published artifacts the application images carry (artifacts.py)."""
    cassandra_lib: Path       # Cassandra's jars
    cqlsh: Path               # cqlsh's unpacked wheel
    kafka_lib: Path           # Kafka's jars with the log4j binding its distribution ships


def published(versions: dict[str, str], cache: Path, progress=lambda message: None) -> Published:
    """The applications' published artifacts, fetched first when missing."""
    where = cache / "artifacts"
    return Published(
        cassandra_lib=artifacts.jars(where, f"org.apache.cassandra:cassandra-all:{versions['CASSANDRA_VERSION']}",
                                     progress=progress),
        cqlsh=artifacts.wheel(where, "cqlsh", versions["CQLSH_VERSION"], progress),
        kafka_lib=artifacts.jars(where, f"org.apache.kafka:kafka_2.13:{versions['KAFKA_VERSION']}",
                                 f"org.slf4j:slf4j-reload4j:{versions['KAFKA_SLF4J_VERSION']}", progress=progress))


def normalise(reference: str) -> str:
    """A reference as containerd names it (docker.io/library/ for short names, :latest)."""
    name, _, digest = reference.partition("@")
    first = name.split("/", 1)[0]
    if "/" not in name:
        name = f"docker.io/library/{name}"
    elif "." not in first and ":" not in first and first != "localhost":
        name = f"docker.io/{name}"
    if ":" not in name.rsplit("/", 1)[-1] and not digest:
        name += ":latest"
    return name + (f"@{digest}" if digest else "")


def cache_dir() -> Path:
    return Path(os.environ.get("DMAAS_CACHE") or Path.home() / ".cache" / "dmaas") / "realstack" / "images"


def clear_cache() -> None:
    shutil.rmtree(cache_dir(), ignore_errors=True)
