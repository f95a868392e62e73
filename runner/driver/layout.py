"""Velero's layout in a backup storage location, read from a bucket.

Written from Velero's documentation ("Backup Storage Locations" / object
store layout, pkg/persistence) and its tarball format 1.1.0; the lab has its
own writer, this is the reader a user's tooling would have:

    <prefix>/backups/<name>/velero-backup.json
    <prefix>/backups/<name>/<name>.tar.gz              resources/<gr>/namespaces/<ns>/<n>.json
                                                       resources/<gr>/cluster/<n>.json
                                                       (+ <version>-preferredversion/ copies)
    <prefix>/backups/<name>/<name>-logs.gz, -resource-list.json.gz,
                           -volumesnapshots.json.gz, -podvolumebackups.json.gz, -results.gz
    <prefix>/restores/<name>/...
    <prefix>/restic/<namespace>/...                    restic repositories (file-system backup; data/ holds packs)
    <prefix>/kopia/<namespace>/...                     kopia repositories (Velero 1.14+'s default uploader;
                                                       p* blobs hold content packs, q* metadata, xn* indexes)

    VeleroLayout(bucket: Bucket, prefix="")
    .backup_names() -> [str]                           # the directories under backups/ (as Velero lists them)
    .keys(name) -> [ObjectInfo]                        # everything under backups/<name>/
    .metadata(name) -> dict                            # velero-backup.json
    .contents(name) -> BackupContents                  # the tarball, parsed
    .resource_list(name) -> {"<apiVersion>/<Kind>": ["ns/name" | "name", ...]}
    .volume_snapshots(name) -> [dict]; .pod_volume_backups(name) -> [dict]
    .repository_data_keys(namespace, uploader) -> [ObjectInfo]   # the pack files of a namespace's repository
    .all_keys() -> [ObjectInfo]                        # everything under the prefix
    BackupContents.members -> [str]; .items -> [Item(group_resource, namespace, name, obj)]
    BackupContents.of(group_resource) -> [Item]; .kinds() -> {group_resource}
"""
import collections
import gzip
import io
import json
import tarfile

Item = collections.namedtuple("Item", "group_resource namespace name obj")
PREFERRED = "-preferredversion"


def join(*parts):
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


class LayoutError(Exception):
    """The bucket does not hold what Velero would have written."""


class BackupContents:
    def __init__(self, members, items):
        self.members = members
        self.items = items

    def of(self, group_resource):
        return [item for item in self.items if item.group_resource == group_resource]

    def kinds(self):
        return {item.group_resource for item in self.items}


def parse_tarball(data):
    """A backup's <name>.tar.gz -> BackupContents (items from the unversioned paths)."""
    members, items = [], []
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                members.append(member.name)
                parts = member.name.split("/")
                if parts[0] != "resources" or len(parts) < 4 or parts[2].endswith(PREFERRED):
                    continue
                if parts[2] == "cluster" and len(parts) == 4:
                    namespace = None
                elif parts[2] == "namespaces" and len(parts) == 5:
                    namespace = parts[3]
                else:
                    continue
                obj = json.loads(tar.extractfile(member).read())
                items.append(Item(parts[1], namespace, parts[-1][:-len(".json")], obj))
    except (tarfile.TarError, OSError, EOFError, ValueError) as error:
        raise LayoutError(f"backup tarball unreadable: {error}") from None
    return BackupContents(members, items)


class VeleroLayout:
    def __init__(self, bucket, prefix=""):
        self.bucket = bucket
        self.prefix = (prefix or "").strip("/")

    def key(self, *parts):
        return join(self.prefix, *parts)

    def _backup_key(self, name, suffix):
        return self.key("backups", name, f"{name}{suffix}")

    def all_keys(self):
        return self.bucket.list(self.prefix + "/" if self.prefix else "")

    def backup_names(self):
        """Names of the backups in the location: the "directories" under
        backups/, as Velero's ListBackups reads them (one delimited listing;
        a backup still uploading may lack its velero-backup.json, so
        readers of its metadata must expect LayoutError)."""
        root = self.key("backups") + "/"
        return sorted(d[len(root):].rstrip("/") for d in self.bucket.dirs(root))

    def keys(self, name):
        return self.bucket.list(self.key("backups", name) + "/")

    def metadata(self, name):
        return json.loads(self._read(self.key("backups", name, "velero-backup.json")))

    def contents(self, name):
        return parse_tarball(self._read(self._backup_key(name, ".tar.gz")))

    def resource_list(self, name):
        return self._gz_json(self._backup_key(name, "-resource-list.json.gz"), {})

    def volume_snapshots(self, name):
        return self._gz_json(self._backup_key(name, "-volumesnapshots.json.gz"), []) or []

    def pod_volume_backups(self, name):
        return self._gz_json(self._backup_key(name, "-podvolumebackups.json.gz"), []) or []

    def repository_data_keys(self, namespace, uploader="kopia"):
        """The objects holding the file data of a namespace's file-system
        backup repository: restic's data/ packs, or kopia's content pack
        blobs (names starting with "p"; "q" blobs hold kopia's own metadata)."""
        if uploader == "restic":
            return self.bucket.list(self.key("restic", namespace, "data") + "/")
        root = self.key("kopia", namespace) + "/"
        return [info for info in self.bucket.list(root)
                if "/" not in info.key[len(root):] and info.key[len(root):].startswith("p")]

    def _read(self, key):
        try:
            return self.bucket.get(key)
        except Exception as error:   # NoSuchKey from either client
            raise LayoutError(f"{self.bucket.profile}: cannot read {key} ({type(error).__name__})") from None

    def _gz_json(self, key, missing):
        if not self.bucket.exists(key):
            return missing
        return json.loads(gzip.decompress(self._read(key)))
