"""Velero's layout in a backup storage location: the only module of the
runner that builds bucket keys, and the reader of what they hold.

Written from Velero's documentation ("Backup Storage Locations" / object
store layout, pkg/persistence/object_store_layout.go) and its tarball
format 1.1.0; the lab has its own writer, this is the reader a user's
tooling would have:

    <prefix>/backups/<name>/velero-backup.json          backup_metadata_key(name)
    <prefix>/backups/<name>/<name>.tar.gz               backup_contents_key(name): resources/<gr>/namespaces/<ns>/<n>.json,
                                                        resources/<gr>/cluster/<n>.json (+ <version>-preferredversion/)
    <prefix>/backups/<name>/<name>-logs.gz              backup_log_key(name)
    <prefix>/backups/<name>/<name>-results.gz           backup_results_key(name)
    <prefix>/backups/<name>/<name>-resource-list.json.gz, -volumesnapshots.json.gz, -podvolumebackups.json.gz
    <prefix>/restores/<name>/restore-<name>-logs.gz     restore_log_key(name)
    <prefix>/restores/<name>/restore-<name>-results.gz  restore_results(name)
    <prefix>/restic/<namespace>/...                     repository_dir("restic", ns): restic repositories (data/ holds packs)
    <prefix>/kopia/<namespace>/...                      repository_dir("kopia", ns): Velero 1.14+'s default uploader
                                                        (p* blobs hold content packs, q* metadata, xn* indexes)
    <prefix>/snapshots/backups/<name>/cstor-<volume>-<name>[.pvc]     (OpenEBS plugin: the snapshot, the claim)
                                                        snapshot_dir(name): the cStor snapshot objects of a backup;
                                                        <prefix>/snapshots is the backupPathPrefix DMaaS gives the
                                                        location's VSLs (snapshots_path()), under which the
                                                        OpenEBS plugin writes backups/<backup>/<prefix>-<volume>-<backup>

    BucketKeys(prefix="")                              # the keys alone (no bucket): .key(*parts), the accessors above,
                                                       # .backup_dir(name), .restore_dir(name) (with a trailing /),
                                                       # .relative(key) (the key without the prefix)
    VeleroLayout(bucket: Bucket, prefix="")            # BucketKeys + reads:
    .backup_names() -> [str]                           # the directories under backups/ (as Velero lists them)
    .keys(name) -> [ObjectInfo]                        # everything under backups/<name>/
    .metadata(name) -> dict                            # velero-backup.json
    .contents(name) -> BackupContents                  # the tarball, parsed
    .log(name) -> str | None                           # <name>-logs.gz as text (None: not there yet)
    .restore_log(name) -> str | None                   # restore-<name>-logs.gz as text
    .restore_results(name) -> dict | None              # restore-<name>-results.gz, parsed
    .resource_list(name) -> {"<apiVersion>/<Kind>": ["ns/name" | "name", ...]}
    .volume_snapshots(name) -> [dict]; .pod_volume_backups(name) -> [dict]
    .repository_data_keys(namespace, uploader) -> [ObjectInfo]   # the pack files of a namespace's repository
    .snapshot_keys(name) -> [ObjectInfo]               # the cStor snapshot objects of a backup (data and records)
    .volume_data_keys(name) -> [str]                   # the objects holding a backup's volume data
    .backup_object_keys(name, namespaces) -> [str]     # a backup's directory, snapshot objects and repositories
    .all_keys() -> [ObjectInfo]                        # everything under the prefix
    is_log_key(key) -> bool                            # a backup's or a restore's log, under any prefix
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
UPLOADERS = ("restic", "kopia")     # Velero's file-system backup uploaders, one repository directory each
SNAPSHOTS = "snapshots"             # the VSL backupPathPrefix DMaaS gives a location, under its prefix


def join(*parts):
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


def is_log_key(key):
    """Whether `key` is a backup's log (backups/<n>/<n>-logs.gz) or a
    restore's (restores/<n>/restore-<n>-logs.gz), under any prefix."""
    parts = key.split("/")
    if len(parts) < 3:
        return False
    kind, name, file = parts[-3:]
    return ((kind == "backups" and file == f"{name}-logs.gz")
            or (kind == "restores" and file == f"restore-{name}-logs.gz"))


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


def _backup_file(suffix):
    """The accessor of one file of backups/<name>/: <name><suffix>."""
    def key(self, name):
        return self.key("backups", name, f"{name}{suffix}")
    key.__doc__ = f"<prefix>/backups/<name>/<name>{suffix}"
    return key


def _restore_file(kind):
    """The accessor of one file of restores/<name>/: restore-<name>-<kind>.gz."""
    def key(self, name):
        return self.key("restores", name, f"restore-{name}-{kind}.gz")
    key.__doc__ = f"<prefix>/restores/<name>/restore-<name>-{kind}.gz"
    return key


class BucketKeys:
    """The keys of one backup storage location (`prefix` may be empty), named
    after Velero's ObjectStoreLayout accessors."""

    def __init__(self, prefix=""):
        self.prefix = (prefix or "").strip("/")

    def key(self, *parts):
        return join(self.prefix, *parts)

    def relative(self, key):
        """A key of this location without the location's prefix."""
        base = self.prefix + "/" if self.prefix else ""
        return key[len(base):] if base and key.startswith(base) else key

    # backups/<name>/...
    def backup_dir(self, name):
        return self.key("backups", name) + "/"

    def backup_metadata_key(self, name):
        return self.key("backups", name, "velero-backup.json")

    backup_contents_key = _backup_file(".tar.gz")
    backup_log_key = _backup_file("-logs.gz")
    backup_results_key = _backup_file("-results.gz")
    backup_resource_list_key = _backup_file("-resource-list.json.gz")
    backup_volume_snapshots_key = _backup_file("-volumesnapshots.json.gz")
    backup_pod_volume_backups_key = _backup_file("-podvolumebackups.json.gz")

    # restores/<name>/...
    def restore_dir(self, name):
        return self.key("restores", name) + "/"

    restore_log_key = _restore_file("logs")
    restore_results_key = _restore_file("results")

    # file-system backup repositories, one per uploader and volume namespace
    def repository_dir(self, uploader, namespace):
        return self.key(uploader, namespace) + "/"

    # cStor snapshot objects (the OpenEBS plugin, under the VSL's backupPathPrefix)
    def snapshots_path(self):
        return self.key(SNAPSHOTS)

    def snapshot_dir(self, name):
        return self.key(SNAPSHOTS, "backups", name) + "/"


class VeleroLayout(BucketKeys):
    def __init__(self, bucket, prefix=""):
        super().__init__(prefix)
        self.bucket = bucket

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
        return self.bucket.list(self.backup_dir(name))

    def metadata(self, name):
        return json.loads(self._read(self.backup_metadata_key(name)))

    def contents(self, name):
        return parse_tarball(self._read(self.backup_contents_key(name)))

    def log(self, name):
        """The backup's log as text, or None when it is not (yet) there."""
        try:
            return gzip.decompress(self.bucket.get(self.backup_log_key(name))).decode(errors="replace")
        except Exception:           # NoSuchKey from either client, or not gzip
            return None

    def restore_log(self, name):
        """A restore's log as text, or None when it is not there."""
        try:
            return gzip.decompress(self.bucket.get(self.restore_log_key(name))).decode(errors="replace")
        except Exception:           # NoSuchKey from either client, or not gzip
            return None

    def restore_results(self, name):
        """A restore's results file, parsed, or None (not written: validation
        failed before upload, or unreadable)."""
        try:
            return json.loads(gzip.decompress(self.bucket.get(self.restore_results_key(name))))
        except Exception:
            return None

    def resource_list(self, name):
        return self._gz_json(self.backup_resource_list_key(name), {})

    def volume_snapshots(self, name):
        return self._gz_json(self.backup_volume_snapshots_key(name), []) or []

    def pod_volume_backups(self, name):
        return self._gz_json(self.backup_pod_volume_backups_key(name), []) or []

    def repository_data_keys(self, namespace, uploader="kopia"):
        """The objects holding the file data of a namespace's file-system
        backup repository: restic's data/ packs, or kopia's content pack
        blobs (names starting with "p"; "q" blobs hold kopia's own metadata)."""
        root = self.repository_dir(uploader, namespace)
        if uploader == "restic":
            return self.bucket.list(root + "data/")
        return [info for info in self.bucket.list(root)
                if "/" not in info.key[len(root):] and info.key[len(root):].startswith("p")]

    def snapshot_keys(self, name):
        """The snapshot plugin's objects of a backup: each snapshot's data
        (`cstor-<volume>-<backup>`, no extension: volume and backup names
        hold no dot) and what it keeps beside it (the claim, `.pvc`)."""
        return self.bucket.list(self.snapshot_dir(name))

    def volume_data_keys(self, name):
        """Keys holding a backup's volume data: its cStor snapshot objects
        (not the records beside them), else the pack files of the
        repositories its PodVolumeBackups wrote to (restic or kopia as each
        records; a repository is shared by the backups of a namespace)."""
        snapshots = [info.key for info in self.snapshot_keys(name) if "." not in info.key.rsplit("/", 1)[-1]]
        if snapshots:
            return snapshots
        repositories = {((p.get("spec") or {}).get("pod", {}).get("namespace"),
                         (p.get("spec") or {}).get("uploaderType") or "restic")
                        for p in self.pod_volume_backups(name)}
        return sorted({info.key for namespace, uploader in repositories if namespace
                       for info in self.repository_data_keys(namespace, uploader)})

    def backup_object_keys(self, name, namespaces):
        """Every key of a backup in the location: backups/<name>/, its cStor
        snapshot objects and the file-system backup repositories of its namespaces."""
        keys = [info.key for info in self.keys(name)]
        keys += [info.key for info in self.snapshot_keys(name)]
        for namespace in namespaces:
            for uploader in UPLOADERS:
                keys += [info.key for info in self.bucket.list(self.repository_dir(uploader, namespace))]
        return keys

    def _read(self, key):
        try:
            return self.bucket.get(key)
        except Exception as error:   # NoSuchKey from either client
            raise LayoutError(f"{self.bucket.profile}: cannot read {key} ({type(error).__name__})") from None

    def _gz_json(self, key, missing):
        if not self.bucket.exists(key):
            return missing
        return json.loads(gzip.decompress(self._read(key)))
