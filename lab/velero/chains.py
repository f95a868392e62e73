"""cStor snapshot chains as the OpenEBS velero-plugin keeps them in a
volume snapshot location: per schedule (label velero.io/schedule-name) a
volume's first snapshot is full, then `incrBackupCount` incrementals, then
full again; backups outside a schedule are always full.

A full snapshot object is a tar of the volume directory; an incremental is
a tar of the files changed or added since its parent plus the list of
deleted paths. Beside each snapshot object the lab keeps a small JSON
metadata object (kind, parent, volume, size, sha256 of the payload, the
file manifest at that time) so a restore can replay the chain and detect
corruption. Deleting a backup keeps its snapshot while a retained later
incremental of the same chain still needs it."""
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

    def _previous(self, volume, schedule, listing):
        """The latest live snapshot of volume taken by this schedule."""
        candidates = [s for s in listing if _schedule_backup(parse_snapshot_id(s)[1], schedule)]
        for snap in sorted(candidates, key=lambda s: parse_snapshot_id(s)[1], reverse=True):
            meta = self.read_meta(snap, listing)
            if not meta.get("backupDeleted"):
                return meta
        return None

    def next_kind(self, volume, schedule):
        """(FULL, None) or (INCREMENTAL, parent meta) for the next backup."""
        if not schedule or self.incr_count <= 0:
            return FULL, None
        listing = self.volume_snapshot_ids(volume)
        previous = self._previous(volume, schedule, listing)
        if previous is None:
            return FULL, None
        incrementals, meta = 0, previous
        while meta["kind"] == INCREMENTAL:
            incrementals += 1
            meta = self.read_meta(meta["parent"], listing)
        return (FULL, None) if incrementals >= self.incr_count else (INCREMENTAL, previous)

    def take(self, directory, volume, backup, schedule, created):
        """Snapshot directory as volume's snapshot for backup; returns meta."""
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

    def chain_to(self, snap_id):
        """Metas from the chain's full snapshot to snap_id, in replay order."""
        chain = [self.read_meta(snap_id)]
        while chain[-1]["kind"] == INCREMENTAL:
            chain.append(self.read_meta(chain[-1]["parent"]))
        return list(reversed(chain))

    def restore(self, snap_id, target):
        """Write snap_id's data into target (replaying its chain when
        restoreAllIncrementalSnapshots is set); returns bytes applied."""
        metas = self.chain_to(snap_id) if self.restore_all else [self.read_meta(snap_id)]
        payloads = [(meta, self._payload(meta)) for meta in metas]   # verify all before writing
        for meta, payload in payloads:
            apply_payload(payload, meta["deleted"], target)
        return sum(len(p) for _, p in payloads)

    def delete(self, snap_id):
        """The backup of snap_id is gone: drop its snapshot unless a retained
        later incremental needs it, and any earlier ones kept only for it.
        Returns the snapshot IDs whose objects were removed."""
        volume, _ = parse_snapshot_id(snap_id)
        meta = self.read_meta(snap_id)
        meta["backupDeleted"] = True
        self._write_meta(meta)
        listing = self.volume_snapshot_ids(volume)
        metas = {s: self.read_meta(s, listing) for s in listing}
        children = {}
        for sid, m in metas.items():
            if m.get("parent"):
                children.setdefault(m["parent"], []).append(sid)

        def removable(sid):
            return metas[sid].get("backupDeleted") and all(removable(c) for c in children.get(sid, []))

        removed = [sid for sid in metas if removable(sid)]
        for sid in removed:
            m = metas[sid]
            self.storage.delete_keys([self.layout.snapshot(m["volume"], m["backup"]),
                                      self.layout.snapshot_metadata(m["volume"], m["backup"])])
        return removed
