"""Snapshot chains as the OpenEBS velero-plugin keeps them in a volume
snapshot location (github.com/openebs/velero-plugin; HACKING.md, "Backup
kinds"):

- full or incremental: backups outside a schedule are full; a schedule's
  (label velero.io/schedule-name, name <schedule>-<timestamp>) with
  `incrBackupCount: N` counts the schedule's snapshots of the volume the
  location holds, and makes the next one full when that count is a
  multiple of N+1, else incremental on the latest of them (the ZFS-LocalPV
  plugin's getPrevSnap, pkg/zfs/plugin/backup.go; the cStor plugin has no
  such setting, see README "Where the lab simplifies");
- deleting a backup deletes its snapshot, whatever later incrementals stand
  on it (DeleteSnapshot, pkg/cstor/cstor.go);
- a restore with `restoreAllIncrementalSnapshots` replays the chain from its
  full snapshot; an incremental whose parent is gone cannot be received
  (zfs receive refuses an incremental stream without its source snapshot),
  nor can an incremental restored alone.

A full snapshot object is a tar of the volume directory; an incremental is
a tar of the files changed or added since its parent plus the list of
deleted paths. Beside each snapshot object the lab keeps a small JSON
metadata object (kind, parent, volume, size, sha256 of the payload, the
file manifest at that time), the lab's stand-in for what a zfs send stream
carries in its header (its source snapshot), so a restore can replay the
chain and detect corruption. Nothing outside the lab reads it."""
import hashlib
import io
import json
import os
import re
import shutil
import tarfile
from pathlib import Path

from lab.velero.layout import parse_snapshot_id, snapshot_id

FULL, INCREMENTAL = "full", "incremental"


class ChainError(Exception):
    """A snapshot cannot be taken or restored; str() is the reason."""


# --- the data side: directory <-> payload ------------------------------------

def _file_digest(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest(directory):
    """{relative path: sha256} of every regular file, plus "dir/" entries
    for directories (so empty directories survive a restore)."""
    entries = {}
    root = Path(directory)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel_dir = Path(dirpath).relative_to(root)
        if rel_dir != Path("."):
            entries[rel_dir.as_posix() + "/"] = "dir"
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.is_file() and not path.is_symlink():
                entries[(rel_dir / name).as_posix()] = _file_digest(path)
    return entries


def build_payload(directory, paths):
    """An uncompressed tar of `paths` (relative) taken from directory."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel in sorted(paths):
            tar.add(Path(directory) / rel.rstrip("/"), arcname=rel.rstrip("/"), recursive=False)
    return buffer.getvalue()


def changes_since(parent_manifest, current_manifest):
    """(changed or added paths, deleted paths)."""
    changed = [p for p, digest in current_manifest.items() if parent_manifest.get(p) != digest]
    deleted = [p for p in parent_manifest if p not in current_manifest]
    return changed, sorted(deleted, reverse=True)


def apply_payload(payload, deleted, target):
    """Replay one snapshot onto target: remove deleted paths, extract."""
    target = Path(target)
    for rel in deleted:
        path = target / rel.rstrip("/")
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists() or path.is_symlink():
            path.unlink()
    with tarfile.open(fileobj=io.BytesIO(payload), mode="r:") as tar:
        tar.extractall(target, filter="data")


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# --- the bucket side: chain bookkeeping --------------------------------------

def _plugin_claim(pvc):
    """The claim as the plugin uploads it: no resourceVersion, uid,
    annotations or volumeName; the class from the beta annotation if unset;
    Go's json.MarshalIndent with tabs."""
    claim = json.loads(json.dumps(pvc))
    meta = claim.setdefault("metadata", {})
    for key in ("resourceVersion", "uid", "selfLink", "annotations"):
        meta.pop(key, None)
    spec = claim.setdefault("spec", {})
    if not spec.get("storageClassName"):
        spec["storageClassName"] = (pvc["metadata"].get("annotations") or {}).get(
            "volume.beta.kubernetes.io/storage-class", "")
    spec.pop("volumeName", None)
    return json.dumps(claim, indent="\t").encode()


def _schedule_backup(name, schedule):
    return bool(schedule) and re.fullmatch(re.escape(schedule) + r"-\d{14}", name) is not None


class SnapshotChains:
    """Snapshots of one VSL: storage (ObjectStorage) + layout (SnapshotLayout)."""

    def __init__(self, storage, layout, incr_count=0, restore_all=True):
        self.storage = storage
        self.layout = layout
        self.incr_count = incr_count
        self.restore_all = restore_all

    @classmethod
    def from_config(cls, storage, layout, config):
        try:
            incr_count = int(config.get("incrBackupCount") or 0)
        except ValueError:
            raise ChainError(f"incrBackupCount {config.get('incrBackupCount')!r} is not a number") from None
        restore_all = str(config.get("restoreAllIncrementalSnapshots", "false")).lower() == "true"
        return cls(storage, layout, incr_count, restore_all)

    def _meta_key(self, snap_id):
        volume, backup = parse_snapshot_id(snap_id)
        return self.layout.snapshot_metadata(volume, backup)

    def read_meta(self, snap_id, listing=None):
        """The snapshot's metadata; `listing` ({snapshot id: ETag} from
        volume_snapshot_ids) spares reading again what has not changed."""
        try:
            return json.loads(self.storage.get(self._meta_key(snap_id), (listing or {}).get(snap_id)))
        except ValueError:
            raise ChainError(f"snapshot metadata of {snap_id} is corrupt") from None

    def _write_meta(self, meta):
        self.storage.put(self._meta_key(meta["snapshotID"]), json.dumps(meta, sort_keys=True).encode())

    def volume_snapshot_ids(self, volume):
        """{snapshot ID: ETag of its metadata} of `volume`'s snapshots present
        in the location, oldest backup first (one listing)."""
        ids = {}
        for key, etag in sorted(self.storage.list_etags(self.layout.root()).items()):
            if not self.layout.is_metadata(key):
                continue
            backup = key[len(self.layout.root()):].split("/", 1)[0]
            if key == self.layout.snapshot_metadata(volume, backup):
                ids[snapshot_id(volume, backup)] = etag
        return ids

    def _schedule_snapshots(self, volume, schedule, listing):
        """The IDs of the schedule's snapshots of volume in the location, oldest first."""
        return sorted((s for s in listing if _schedule_backup(parse_snapshot_id(s)[1], schedule)),
                      key=lambda s: parse_snapshot_id(s)[1])

    def next_kind(self, volume, schedule):
        """(FULL, None) or (INCREMENTAL, parent meta) for the next backup."""
        if not schedule or self.incr_count <= 0:
            return FULL, None
        listing = self.volume_snapshot_ids(volume)
        taken = self._schedule_snapshots(volume, schedule, listing)
        if len(taken) % (self.incr_count + 1) == 0:
            return FULL, None
        return INCREMENTAL, self.read_meta(taken[-1], listing)

    def take(self, directory, volume, backup, schedule, created, claim=None):
        """Snapshot directory as volume's snapshot for backup; returns meta.
        With `claim` (the PVC), the plugin's copy of it goes beside the
        snapshot (`<snapshot>.pvc`, backupPVC in pkg/cstor/pvc_operation.go);
        deleting the snapshot leaves it, as the plugin does."""
        kind, parent = self.next_kind(volume, schedule)
        current = manifest(directory)
        if kind == FULL:
            paths, deleted = list(current), []
        else:
            paths, deleted = changes_since(parent["manifest"], current)
        payload = build_payload(directory, paths)
        meta = {"snapshotID": snapshot_id(volume, backup), "volume": volume, "backup": backup,
                "schedule": schedule or "", "kind": kind,
                "parent": parent["snapshotID"] if parent else "",
                "size": len(payload), "sha256": sha256(payload), "deleted": deleted,
                "manifest": current, "created": created}
        if claim is not None:
            self.storage.put(self.layout.snapshot(volume, backup) + ".pvc", _plugin_claim(claim))
        self.storage.put(self.layout.snapshot(volume, backup), payload)
        self._write_meta(meta)
        return meta

    def _payload(self, meta):
        key = self.layout.snapshot(meta["volume"], meta["backup"])
        payload = self.storage.get(key)
        if sha256(payload) != meta["sha256"]:
            raise ChainError(f"checksum mismatch for snapshot {meta['snapshotID']} (object {key}): "
                             f"expected sha256 {meta['sha256']}, got {sha256(payload)}")
        return payload

    def _present(self, snap_id, needed_by=None):
        """The metadata of a snapshot the location holds, or ChainError."""
        volume, backup = parse_snapshot_id(snap_id)
        if not self.storage.exists(self.layout.snapshot_metadata(volume, backup)):
            if needed_by:
                raise ChainError(f"snapshot {needed_by} is incremental on snapshot {snap_id}, which is no longer "
                                 f"in the location: an incremental cannot be received without its source "
                                 f"snapshot")
            raise ChainError(f"snapshot {snap_id} is not in the location")
        return self.read_meta(snap_id)

    def chain_to(self, snap_id):
        """Metas from the chain's full snapshot to snap_id, in replay order."""
        chain = [self._present(snap_id)]
        while chain[-1]["kind"] == INCREMENTAL:
            chain.append(self._present(chain[-1]["parent"], needed_by=chain[-1]["snapshotID"]))
        return list(reversed(chain))

    def restore(self, snap_id, target):
        """Write snap_id's data into target (replaying its chain when
        restoreAllIncrementalSnapshots is set); returns bytes applied."""
        if self.restore_all:
            metas = self.chain_to(snap_id)
        else:
            metas = [self._present(snap_id)]
            if metas[0]["kind"] == INCREMENTAL:
                raise ChainError(f"snapshot {snap_id} is incremental on snapshot {metas[0]['parent']}, which a "
                                 f"new volume does not hold (restoreAllIncrementalSnapshots is not set)")
        payloads = [(meta, self._payload(meta)) for meta in metas]   # verify all before writing
        for meta, payload in payloads:
            apply_payload(payload, meta["deleted"], target)
        return sum(len(p) for _, p in payloads)

    def delete(self, snap_id):
        """The backup of snap_id is gone: so is its snapshot, whatever stands
        on it (the plugin's DeleteSnapshot). Deleting what is not there is no
        error (an S3 DELETE of a missing key succeeds)."""
        volume, backup = parse_snapshot_id(snap_id)
        self.storage.delete_keys([self.layout.snapshot(volume, backup), self.layout.snapshot_metadata(volume, backup)])
        return [snap_id]
