"""Object keys in a backup storage location, as Velero lays them out
(pkg/persistence/object_store_layout.go), plus the keys of the OpenEBS
plugin's snapshot objects in a volume snapshot location. This is the only
module that knows object keys."""

TOP_LEVEL_DIRS = ("backups", "restores", "restic", "kopia", "metadata", "plugins")


def _join(*parts):
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


class BackupStoreLayout:
    """Keys under one BSL's `prefix` (may be empty)."""

    def __init__(self, prefix=""):
        self.prefix = (prefix or "").strip("/")

    def key(self, *parts):
        return _join(self.prefix, *parts)

    # backups/<name>/...
    def backups_root(self):
        return self.key("backups") + "/"

    def backup_dir(self, backup):
        return self.key("backups", backup) + "/"

    def backup_metadata(self, backup):
        return self.key("backups", backup, "velero-backup.json")

    def backup_contents(self, backup):
        return self.key("backups", backup, f"{backup}.tar.gz")

    def backup_log(self, backup):
        return self.key("backups", backup, f"{backup}-logs.gz")

    def backup_resource_list(self, backup):
        return self.key("backups", backup, f"{backup}-resource-list.json.gz")

    def backup_volume_snapshots(self, backup):
        return self.key("backups", backup, f"{backup}-volumesnapshots.json.gz")

    def backup_pod_volume_backups(self, backup):
        return self.key("backups", backup, f"{backup}-podvolumebackups.json.gz")

    def backup_results(self, backup):
        return self.key("backups", backup, f"{backup}-results.gz")

    def backup_item_operations(self, backup):
        return self.key("backups", backup, f"{backup}-itemoperations.json.gz")

    def backup_volume_info(self, backup):
        return self.key("backups", backup, f"{backup}-volumeinfo.json.gz")

    def backup_csi(self, backup, what):
        """what: volumesnapshots | volumesnapshotcontents | volumesnapshotclasses"""
        return self.key("backups", backup, f"{backup}-csi-{what}.json.gz")

    def backup_name_from_dir(self, dir_key):
        """`<prefix>/backups/<name>/` -> `<name>`."""
        return dir_key[len(self.backups_root()):].strip("/")

    # restores/<name>/...
    def restore_dir(self, restore):
        return self.key("restores", restore) + "/"

    def restore_log(self, restore):
        return self.key("restores", restore, f"restore-{restore}-logs.gz")

    def restore_results(self, restore):
        return self.key("restores", restore, f"restore-{restore}-results.gz")

    def restore_resource_list(self, restore):
        return self.key("restores", restore, f"restore-{restore}-resource-list.json.gz")

    def restore_item_operations(self, restore):
        return self.key("restores", restore, f"restore-{restore}-itemoperations.json.gz")

    def restore_volume_info(self, restore):
        return self.key("restores", restore, f"{restore}-volumeinfo.json.gz")   # no "restore-" prefix, as Velero

    # restic repositories, one per volume namespace
    def restic_prefix(self, namespace):
        return self.key("restic", namespace)

    def restic_config(self, namespace):
        return self.key("restic", namespace, "config")

    def restic_repository(self, s3_url, bucket, namespace):
        """Velero's restic repo identifier: s3:<s3Url>/<bucket>/<prefix>/restic/<ns>."""
        return f"s3:{s3_url.rstrip('/')}/{_join(bucket, self.restic_prefix(namespace))}"

    # kopia repositories, one per volume namespace (unified_repo.go getStorageVariables)
    def kopia_prefix(self, namespace):
        return self.key("kopia", namespace) + "/"

    def kopia_format_blob(self, namespace):
        return self.key("kopia", namespace, "kopia.repository")


class SnapshotLayout:
    """Keys of cStor snapshot objects in a VSL (openebs/velero-plugin
    clouduploader GenerateRemoteFilename: `<backupPathPrefix>/backups/<backup>/
    <prefix>-<volume>-<backup>`). Where the plugin would put them at the
    bucket root (no backupPathPrefix), the lab uses `prefix` as the path
    prefix so snapshots never land inside a BSL's backups/<name>/ directory."""

    def __init__(self, config):
        self.prefix = (config.get("prefix") or "").strip("/")
        self.path_prefix = (config.get("backupPathPrefix") or self.prefix).strip("/")

    def root(self):
        return _join(self.path_prefix, "backups") + "/"

    def snapshot(self, volume, backup):
        return _join(self.path_prefix, "backups", backup, f"{self.prefix}-{volume}-{backup}")

    def snapshot_metadata(self, volume, backup):
        return self.snapshot(volume, backup) + ".meta.json"

    @staticmethod
    def is_metadata(key):
        return key.endswith(".meta.json")


def snapshot_id(volume, backup):
    """The plugin's snapshot ID: <volume>-velero-bkp-<backup>."""
    return f"{volume}-velero-bkp-{backup}"


def parse_snapshot_id(snap_id):
    volume, _, backup = snap_id.partition("-velero-bkp-")
    return volume, backup
