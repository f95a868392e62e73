"""The backup contents tarball (<name>.tar.gz), format 1.1.0 as Velero
1.16 writes it (pkg/backup/item_backupper.go, pkg/archive):

    metadata/version                                       "1.1.0" and a newline
    resources/<group-resource>/namespaces/<ns>/<name>.json
    resources/<group-resource>/cluster/<name>.json
    resources/<group-resource>/<version>-preferredversion/namespaces/<ns>/<name>.json
    resources/<group-resource>/<version>-preferredversion/cluster/<name>.json"""
import gzip
import io
import json
import tarfile
import zlib

FORMAT_VERSION = "1.1.0"
PREFERRED_SUFFIX = "-preferredversion"


class TarballError(Exception):
    """The tarball cannot be read (corrupt, not gzip, unknown format)."""


def item_path(group_resource, namespace, name, version_dir=None):
    scope = f"namespaces/{namespace}" if namespace else "cluster"
    middle = f"{version_dir}/" if version_dir else ""
    return f"resources/{group_resource}/{middle}{scope}/{name}.json"


def _add(tar, path, data, mtime):
    info = tarfile.TarInfo(path)
    info.size = len(data)
    info.mode = 0o755
    info.mtime = mtime
    tar.addfile(info, io.BytesIO(data))


def write_tarball(items, mtime=0):
    """items: dicts with group_resource, version (preferred), namespace, name,
    obj. Returns the gzip-compressed tar bytes."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=mtime) as gz, \
            tarfile.open(fileobj=gz, mode="w") as tar:
        _add(tar, "metadata/version", f"{FORMAT_VERSION}\n".encode(), mtime)     # backup.go: "%s\\n"
        for item in items:
            data = json.dumps(item["obj"], sort_keys=True).encode()
            gr, ns, name = item["group_resource"], item.get("namespace"), item["name"]
            _add(tar, item_path(gr, ns, name), data, mtime)
            _add(tar, item_path(gr, ns, name, item["version"] + PREFERRED_SUFFIX), data, mtime)
    return buffer.getvalue()


def read_tarball(data):
    """-> (format_version, [item dicts with group_resource, namespace, name,
    obj]) from the unversioned paths, in tar order."""
    items, version = [], None
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                parts = member.name.split("/")
                content = tar.extractfile(member).read()
                if member.name == "metadata/version":
                    version = content.decode().strip()
                    continue
                if parts[0] != "resources" or len(parts) < 4 or parts[2].endswith(PREFERRED_SUFFIX):
                    continue
                if parts[2] == "cluster" and len(parts) == 4:
                    namespace = None
                elif parts[2] == "namespaces" and len(parts) == 5:
                    namespace = parts[3]
                else:
                    continue
                items.append({"group_resource": parts[1], "namespace": namespace,
                              "name": parts[-1][:-len(".json")], "obj": json.loads(content)})
    except (tarfile.TarError, OSError, EOFError, ValueError, zlib.error) as exc:
        raise TarballError(f"cannot read backup tarball: {exc}") from None
    if version is None:
        raise TarballError("backup tarball has no metadata/version")
    if version.split(".")[0] != FORMAT_VERSION.split(".")[0]:
        raise TarballError(f"backup tarball format {version} is not supported (want {FORMAT_VERSION})")
    return version, items

