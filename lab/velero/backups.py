"""The Backup controller (Velero's pkg/controller/backup_controller.go and
pkg/backup): validate a new Backup, collect the items it selects, take the
volume data (cStor plugin snapshots or file-system backups with the
node-agent's uploader, kopia or restic), and
write Velero's bucket layout. Every failure ends in a phase, never an
exception out of reconcile()."""
import datetime
import json

from lab.apiserver.errors import ApiError
from lab.apiserver.selectors import label_matcher
from lab.controllers.storage import volume_dir
from lab.controllers.util import Dirty, random_suffix
from lab.velero import kube
from lab.velero.chains import ChainError, SnapshotChains
from lab.velero.credentials import CredentialsError
from lab.velero.locations import (BSL, CSTOR_PROVIDER, VSL, LocationError, bsl_storage, check_bsl,
                                  default_bsl, is_read_only, validate_bsl, vsl_config, vsl_storage)
from lab.velero.logs import OperationLog, gzip_json
from lab.velero.objectstorage import StorageError
from lab.velero.repositories import UPLOADER_ERRORS, default_uploader, open_repository
from lab.velero.selection import IncludesExcludes, group_resource, resource_filter, validate_includes_excludes
from lab.velero.tarball import FORMAT_VERSION, write_tarball

PLURAL = "backups"
DEFAULT_TTL = datetime.timedelta(hours=720)
EXCLUDE_LABEL = "velero.io/exclude-from-backup"
FS_INCLUDE_ANNOTATION = "backup.velero.io/backup-volumes"
FS_EXCLUDE_ANNOTATION = "backup.velero.io/backup-volumes-excludes"
PVC_NAME_ANNOTATION = "velero.io/pvc-name"
CRD_GR = "customresourcedefinitions.apiextensions.k8s.io"
VOLUME_DATA_ERRORS = (StorageError, ChainError, *UPLOADER_ERRORS, CredentialsError, LocationError, OSError)


def _parent_snapshot(store, pvb):
    """Velero's getParentSnapshot: the snapshot of the most recent completed
    PodVolumeBackup of the same PVC, uploader and BSL (read from the
    cluster's objects, not from the repository)."""
    selector = f"{kube.LABEL_PVC_UID}={pvb['metadata']['labels'][kube.LABEL_PVC_UID]}"
    candidates = [p for p in store.list(kube.GROUP, "podvolumebackups", kube.NAMESPACE, label_selector=selector)
                  if p["spec"].get("uploaderType") == pvb["spec"]["uploaderType"]
                  and p["spec"].get("backupStorageLocation") == pvb["spec"]["backupStorageLocation"]
                  and (p.get("status") or {}).get("phase") == "Completed"]
    latest = max(candidates, key=lambda p: p["status"].get("startTimestamp") or "", default=None)
    return (latest or {}).get("status", {}).get("snapshotID") or None


def host_path(pod, pv):
    """Where kubelet mounts the volume on the node, as node-agent sees it
    (/host_pods/<pod uid>/volumes/<plugin>/<name>): the source path kopia
    records and PodVolumeBackup.status.path."""
    spec = pv.get("spec") or {}
    plugin, tail = (("kubernetes.io~csi", f"{pv['metadata']['name']}/mount") if spec.get("csi")
                    else ("kubernetes.io~local-volume", pv["metadata"]["name"]))
    return f"/host_pods/{pod['metadata']['uid']}/volumes/{plugin}/{tail}"


def _annotation_list(obj, key):
    value = (obj["metadata"].get("annotations") or {}).get(key) or ""
    return [v.strip() for v in value.split(",") if v.strip()]


class ItemCollector:
    """The items a BackupSpec selects on one cluster (pkg/backup/item_collector.go
    plus the PVC->PV and CR->CRD additional items)."""

    def __init__(self, cluster, spec):
        self.store = cluster.store
        self.served = cluster.registry.served()
        self.spec = spec
        self.namespaces = IncludesExcludes(spec.get("includedNamespaces"), spec.get("excludedNamespaces"))
        self.resources = resource_filter(spec.get("includedResources"), spec.get("excludedResources"),
                                         self.served)
        selectors = [spec["labelSelector"]] if spec.get("labelSelector") else []
        selectors += spec.get("orLabelSelectors") or []
        self.matchers = [label_matcher(s) for s in selectors]

    def _selected(self, obj):
        labels = obj["metadata"].get("labels") or {}
        if labels.get(EXCLUDE_LABEL) == "true":
            return False
        return not self.matchers or any(match(labels) for match in self.matchers)

    def collect(self):
        """-> list of (ResourceType, object), each item once."""
        items, seen = [], set()

        def add(rtype, obj):
            key = (rtype.group, rtype.plural, obj["metadata"].get("namespace"), obj["metadata"]["name"])
            if key not in seen and not obj["metadata"].get("deletionTimestamp"):
                seen.add(key)
                items.append((rtype, obj))

        namespaces = [ns for ns in self.store.list("", "namespaces")
                      if self.namespaces.should_include(ns["metadata"]["name"])
                      and not ns["metadata"].get("deletionTimestamp")]
        include_cluster = self.spec.get("includeClusterResources")
        all_cluster = include_cluster is True or (include_cluster is None and self.namespaces.includes_everything())
        by_gr = {group_resource(r): r for r in self.served}
        for rtype in self.served:
            gr = group_resource(rtype)
            if not self.resources.should_include(gr):
                continue
            if rtype.namespaced:
                for ns in namespaces:
                    for obj in self.store.list(rtype.group, rtype.plural, ns["metadata"]["name"]):
                        if self._selected(obj):
                            add(rtype, obj)
            elif gr == "namespaces":
                # the namespaces themselves always go with their contents
                for ns in namespaces:
                    add(rtype, ns)
            elif all_cluster:
                for obj in self.store.list(rtype.group, rtype.plural):
                    if self._selected(obj):
                        add(rtype, obj)
        if include_cluster is not False:
            for rtype, obj in list(items):
                for related_gr, related in self._related(rtype, obj):
                    if related is not None and self.resources.should_include(related_gr):
                        add(by_gr[related_gr], related)
        return items

    def _related(self, rtype, obj):
        """Cluster-scoped items an item needs: a PVC's PV, a CR's CRD."""
        if (rtype.group, rtype.plural) == ("", "persistentvolumeclaims"):
            pv_name = (obj.get("spec") or {}).get("volumeName")
            if pv_name:
                yield "persistentvolumes", self.store.get("", "persistentvolumes", None, pv_name)
        elif rtype.group:
            crd = self.store.get("apiextensions.k8s.io", "customresourcedefinitions", None,
                                 f"{rtype.plural}.{rtype.group}")
            if crd is not None:
                yield CRD_GR, crd


class BackupController:
    def __init__(self, cluster):
        self.cluster = cluster
        self.store = cluster.store
        self.dirty = Dirty(self.store, {(kube.GROUP, PLURAL)})

    def next_due(self):
        return None

    def reconcile(self):
        if not self.dirty.take():
            return False
        changed = False
        for backup in kube.list_velero(self.store, PLURAL):
            if (backup.get("status") or {}).get("phase") in (None, "", "New"):
                try:
                    BackupRun(self.cluster, backup).run()
                except ApiError:
                    continue     # the Backup changed or went away under us; that change marks us dirty
                except Exception:
                    kube.record_crash(self.store, PLURAL, backup)
                changed = True
        return changed


class BackupRun:
    """One Backup from New to its final phase."""

    def __init__(self, cluster, backup):
        self.cluster = cluster
        self.store = cluster.store
        self.backup = backup
        self.name = kube.name_of(backup)
        self.spec = backup.get("spec") or {}
        self.log = OperationLog(cluster, f"backup=velero/{self.name}")
        self.volume_snapshots = []
        self.pod_volume_backups = []

    # -- validation ---------------------------------------------------------
    def _location(self, errors):
        name = self.spec.get("storageLocation")
        bsl = kube.get_velero(self.store, BSL, name) if name else default_bsl(self.store)
        if bsl is None and name:
            errors.append(f"an existing backup storage location wasn't specified at backup creation time and "
                          f"the server default 'default' doesn't exist. Please address this issue (see `velero "
                          f"backup-location -h` for options) and create a new backup. Error: "
                          f"backupstoragelocations.velero.io \"{name}\" not found")
        elif bsl is None:
            errors.append("an existing backup storage location wasn't specified at backup creation time and the "
                          "default 'default' wasn't found. Please address this issue (see `velero backup-location "
                          "-h` for options) and create a new backup. Error: backupstoragelocations.velero.io "
                          "\"default\" not found")
        elif is_read_only(bsl):
            errors.append(f"backup can't be created because backup storage location {kube.name_of(bsl)} "
                          f"is currently in read-only mode")
        return bsl

    def _snapshot_location(self, errors):
        """The cStor VSL this backup snapshots with, or None."""
        names = self.spec.get("volumeSnapshotLocations") or []
        locations = []
        for name in names:
            vsl = kube.get_velero(self.store, VSL, name)
            if vsl is None:
                errors.append(f"a VolumeSnapshotLocation CRD for the location {name} with the name specified "
                              f"in the backup spec needs to be created before this snapshot can be executed. "
                              f"Error: volumesnapshotlocations.velero.io \"{name}\" not found")
            else:
                locations.append(vsl)
        if not names:
            locations = kube.list_velero(self.store, VSL)
        cstor = [v for v in locations if (v.get("spec") or {}).get("provider") == CSTOR_PROVIDER]
        if len(cstor) > 1 and not names:
            errors.append(f"provider {CSTOR_PROVIDER} has more than one possible volume snapshot location, "
                          f"and none were specified explicitly or as a default")
        return cstor[0] if cstor else None

    def _validate(self):
        errors = []
        errors += validate_includes_excludes(self.spec.get("includedNamespaces"),
                                             self.spec.get("excludedNamespaces"), "namespaces")
        errors += validate_includes_excludes(self.spec.get("includedResources"),
                                             self.spec.get("excludedResources"), "resources")
        try:
            ttl = kube.parse_duration(self.spec.get("ttl"), DEFAULT_TTL)
        except ValueError as exc:
            errors.append(f"invalid ttl: {exc}")
            ttl = DEFAULT_TTL
        bsl = self._location(errors)
        vsl = self._snapshot_location(errors)
        return errors, bsl, vsl, ttl

    # -- the run ------------------------------------------------------------
    def run(self):
        start = kube.now(self.cluster)
        errors, bsl, vsl, ttl = self._validate()
        self._stamp_object(bsl, ttl)
        base = {"version": self.cluster.velero_version, "formatVersion": FORMAT_VERSION}
        if errors:
            kube.set_status(self.store, PLURAL, self.backup, phase="FailedValidation",
                            validationErrors=errors, **base)
            return
        kube.set_status(self.store, PLURAL, self.backup, phase="InProgress", startTimestamp=kube.stamp(self.cluster),
                        expiration=kube.format_time(start + ttl), **base)
        self.log.info(f"Setting up backup temp file (backup {self.name})")
        # re-check the location when a backup starts, as the BSL controller would
        problem = check_bsl(self.store, bsl)
        if problem:
            validate_bsl(self.cluster, bsl)
            self._finish("Failed", failure=f"backup storage location {kube.name_of(bsl)} is unavailable: {problem}")
            return
        storage, layout = bsl_storage(self.store, bsl)
        items = ItemCollector(self.cluster, self.spec).collect()
        self.log.info(f"Collected {len(items)} items matching the backup spec")
        self._volume_data(items, bsl, vsl, storage, layout)
        phase = "PartiallyFailed" if self.log.error_count() else "Completed"
        try:
            self._upload(items, storage, layout, phase)
        except (StorageError, OSError) as exc:
            self.log.error(f"Error uploading backup: {exc}")
            self._finish("Failed", failure=f"error uploading backup: {exc}", items=items)
            return
        self._finish(phase, items=items)

    def _stamp_object(self, bsl, ttl):
        """Defaults and labels Velero puts on the Backup before it runs."""
        backup = self.store.get(kube.GROUP, PLURAL, kube.NAMESPACE, self.name)
        labels = backup["metadata"].setdefault("labels", {}) or {}
        backup["metadata"]["labels"] = labels
        annotations = backup["metadata"].setdefault("annotations", {}) or {}
        backup["metadata"]["annotations"] = annotations
        spec = backup.setdefault("spec", {})
        if bsl is not None:
            spec.setdefault("storageLocation", kube.name_of(bsl))
            labels[kube.LABEL_LOCATION] = kube.name_of(bsl)
        spec.setdefault("ttl", kube.format_duration(ttl))
        major, minor = (self.cluster.version.split(".") + ["0"])[:2]
        annotations.update({"velero.io/source-cluster-k8s-gitversion": f"v{self.cluster.version}",
                            "velero.io/source-cluster-k8s-major-version": major,
                            "velero.io/source-cluster-k8s-minor-version": minor,
                            "velero.io/resource-timeout": "10m0s"})
        self.backup = self.store.update(kube.GROUP, PLURAL, backup)
        self.spec = self.backup["spec"]

    def _finish(self, phase, failure=None, items=()):
        attempted = len(self.volume_snapshots)
        completed = sum(1 for s in self.volume_snapshots if s["status"]["phase"] == "Completed")
        kube.set_status(self.store, PLURAL, self.backup, phase=phase,
                        completionTimestamp=kube.stamp(self.cluster), failureReason=failure,
                        errors=self.log.error_count() or None, warnings=self.log.warning_count() or None,
                        progress={"totalItems": len(items), "itemsBackedUp": len(items)},
                        volumeSnapshotsAttempted=attempted or None, volumeSnapshotsCompleted=completed or None)

    # -- volume data ----------------------------------------------------------
    def _volume_data(self, items, bsl, vsl, storage, layout):
        pvcs = {(o["metadata"]["namespace"], o["metadata"]["name"]): o
                for r, o in items if (r.group, r.plural) == ("", "persistentvolumeclaims")}
        pods = [o for r, o in items if (r.group, r.plural) == ("", "pods")]
        # the OpenEBS plugin's volumes: by CSI driver, those of the engines that back up by snapshot
        snapshot_drivers = {e.provisioner for e in self.cluster.engines.values() if e.backup == "snapshot"}
        done = set()
        for key, pvc in pvcs.items():
            pv_name = (pvc.get("spec") or {}).get("volumeName")
            pv = self.store.get("", "persistentvolumes", None, pv_name) if pv_name else None
            if pv is None:
                continue
            driver = ((pv.get("spec") or {}).get("csi") or {}).get("driver")
            if driver in snapshot_drivers and self.spec.get("snapshotVolumes") is not False and vsl is not None:
                self._snapshot(pvc, pv, vsl)
                done.add(key)
        for pod in pods:
            for volume in self._fs_volumes(pod):
                key = (pod["metadata"]["namespace"], volume["persistentVolumeClaim"]["claimName"])
                pvc = pvcs.get(key) or self.store.get("", "persistentvolumeclaims", *key)
                if key in done or pvc is None:
                    continue
                done.add(key)
                self._fs_backup(pod, volume["name"], pvc, bsl, storage, layout)

    def _fs_volumes(self, pod):
        """The pod's PVC volumes that go to file-system backup (opt-in by
        annotation, or defaultVolumesToFsBackup minus the opt-outs)."""
        opted_in = _annotation_list(pod, FS_INCLUDE_ANNOTATION)
        opted_out = _annotation_list(pod, FS_EXCLUDE_ANNOTATION)
        default = bool(self.spec.get("defaultVolumesToFsBackup"))
        return [v for v in (pod.get("spec") or {}).get("volumes") or []
                if v.get("persistentVolumeClaim")
                and (v["name"] in opted_in or (default and v["name"] not in opted_out))]

    def _snapshot(self, pvc, pv, vsl):
        pv_name = pv["metadata"]["name"]
        record = {"spec": {"backupName": self.name, "backupUID": self.backup["metadata"]["uid"],
                           "location": kube.name_of(vsl), "persistentVolumeName": pv_name,
                           "providerVolumeID": pv_name, "volumeType": "cstor-snapshot",
                           "volumeAZ": "", "volumeIOPS": None},
                  "status": {"providerSnapshotID": "", "phase": "New"}}
        self.volume_snapshots.append(record)
        schedule = (self.backup["metadata"].get("labels") or {}).get(kube.LABEL_SCHEDULE, "")
        try:
            storage, layout = vsl_storage(self.store, vsl)
            chains = SnapshotChains.from_config(storage, layout, vsl_config(vsl))
            meta = chains.take(volume_dir(self.cluster, pv_name), pv_name, self.name, schedule,
                               kube.stamp(self.cluster))
        except VOLUME_DATA_ERRORS as exc:
            record["status"]["phase"] = "Failed"
            self.log.error(f"Error taking snapshot of volume {pv_name}: {exc}",
                           namespace=pvc["metadata"]["namespace"])
            return
        record["status"].update(providerSnapshotID=meta["snapshotID"], phase="Completed")
        self.log.info(f"Snapshot {meta['snapshotID']} of volume {pv_name} taken ({meta['kind']}, "
                      f"{meta['size']} bytes{', parent ' + meta['parent'] if meta['parent'] else ''})")

    def _fs_backup(self, pod, volume_name, pvc, bsl, storage, layout):
        """One PodVolumeBackup as Velero's backupper creates it and node-agent
        runs it (pkg/podvolume/backupper.go, pod_volume_backup_controller.go)."""
        namespace, pod_name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        pvc_uid = pvc["metadata"]["uid"]
        pv_name = (pvc.get("spec") or {}).get("volumeName")
        pv = self.store.get("", "persistentvolumes", None, pv_name) if pv_name else None
        path = volume_dir(self.cluster, pv_name) if pv_name else None
        uploader = default_uploader(self.cluster.velero_version)
        tags = {"backup": self.name, "backup-uid": self.backup["metadata"]["uid"], "ns": namespace,
                "pod": pod_name, "pod-uid": pod["metadata"]["uid"], "pvc-uid": pvc_uid, "volume": volume_name}
        pvb = {"apiVersion": kube.API_VERSION, "kind": "PodVolumeBackup",
               "metadata": {"name": f"{self.name}-{random_suffix()}", "namespace": kube.NAMESPACE,
                            "labels": {kube.LABEL_BACKUP_NAME: self.name,
                                       kube.LABEL_BACKUP_UID: self.backup["metadata"]["uid"],
                                       kube.LABEL_PVC_UID: pvc_uid},
                            "annotations": {PVC_NAME_ANNOTATION: pvc["metadata"]["name"]},
                            "ownerReferences": [self._owner_reference()]},
               "spec": {"node": self.cluster.node_name,
                        "pod": {"kind": "Pod", "namespace": namespace, "name": pod_name,
                                "uid": pod["metadata"]["uid"]},
                        "volume": volume_name, "backupStorageLocation": kube.name_of(bsl),
                        "uploaderType": uploader, "tags": tags, "repoIdentifier": ""},
               "status": {"phase": "InProgress", "startTimestamp": kube.stamp(self.cluster)}}
        try:
            if path is None or pv is None or not path.is_dir():
                raise OSError(f"volume {volume_name} of pod {namespace}/{pod_name} has no data directory")
            repo = open_repository(self.cluster, bsl, namespace, storage, layout, uploader)
            source = host_path(pod, pv)
            if uploader == "restic":
                pvb["spec"]["repoIdentifier"] = repo.identifier
                snap, total = repo.backup(path, tags, kube.now(self.cluster),
                                          parent=_parent_snapshot(self.store, pvb))
            else:
                snap, total = repo.backup(path, source, tags, kube.now(self.cluster))
        except VOLUME_DATA_ERRORS as exc:
            pvb["status"].update(phase="Failed", message=str(exc), completionTimestamp=kube.stamp(self.cluster))
            self.log.error(f"Error backing up volume {volume_name} of pod {namespace}/{pod_name}: {exc}",
                           namespace=namespace)
        else:
            pvb["status"].update(phase="Completed", snapshotID=snap or "", path=source,
                                 completionTimestamp=kube.stamp(self.cluster),
                                 progress={"totalBytes": total, "bytesDone": total})
            if not snap:
                pvb["status"]["message"] = "volume was empty so no snapshot was taken"
                self.log.info(f"Volume {volume_name} of pod {namespace}/{pod_name} was empty so no snapshot "
                              f"was taken")
            else:
                self.log.info(f"Backed up volume {volume_name} of pod {namespace}/{pod_name} with {uploader}: "
                              f"snapshot {snap}")
        status = pvb.pop("status")
        created = self.store.create(kube.GROUP, "podvolumebackups", pvb)
        created["status"] = status
        self.pod_volume_backups.append(self.store.update_status(kube.GROUP, "podvolumebackups", created))

    def _owner_reference(self):
        return {"apiVersion": kube.API_VERSION, "kind": "Backup", "name": self.name,
                "uid": self.backup["metadata"]["uid"], "controller": True}

    # -- the bucket layout ----------------------------------------------------
    def _upload(self, items, storage, layout, phase):
        entries, resource_list = [], {}
        for rtype, obj in items:
            obj = dict(obj, apiVersion=rtype.api_version(), kind=rtype.kind)
            meta = obj["metadata"]
            entries.append({"group_resource": group_resource(rtype), "version": rtype.versions[0],
                            "namespace": meta.get("namespace"), "name": meta["name"], "obj": obj})
            resource_list.setdefault(f"{rtype.api_version()}/{rtype.kind}", []).append(
                f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"])
        mtime = int(kube.now(self.cluster).timestamp())
        tarball = write_tarball(entries, self.cluster.velero_version, mtime)
        self.log.info(f"Backed up a total of {len(items)} items")
        final = self.store.get(kube.GROUP, PLURAL, kube.NAMESPACE, self.name)
        attempted = len(self.volume_snapshots)
        final["status"].update(
            phase=phase, completionTimestamp=kube.stamp(self.cluster),
            progress={"totalItems": len(items), "itemsBackedUp": len(items)})
        for key, value in (("errors", self.log.error_count()), ("warnings", self.log.warning_count()),
                           ("volumeSnapshotsAttempted", attempted),
                           ("volumeSnapshotsCompleted",
                            sum(1 for s in self.volume_snapshots if s["status"]["phase"] == "Completed"))):
            if value:
                final["status"][key] = value
        storage.put(layout.backup_log(self.name), self.log.log_gz())
        storage.put(layout.backup_contents(self.name), tarball)
        storage.put(layout.backup_resource_list(self.name), gzip_json(resource_list))
        storage.put(layout.backup_volume_snapshots(self.name), gzip_json(self.volume_snapshots))
        storage.put(layout.backup_pod_volume_backups(self.name), gzip_json(self.pod_volume_backups))
        storage.put(layout.backup_results(self.name), self.log.results_gz())
        storage.put(layout.backup_item_operations(self.name), gzip_json([]))
        # velero-backup.json last: a backup is only "in the bucket" (for sync) once it is complete
        storage.put(layout.backup_metadata(self.name), json.dumps(final, sort_keys=True).encode())
