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
from lab.controllers.util import Dirty
from lab.velero import kube, resourcepolicies
from lab.velero.chains import ChainError, SnapshotChains
from lab.velero.credentials import CredentialsError
from lab.velero.locations import (BSL, CSTOR_PROVIDER, VSL, LocationError, bsl_storage, check_bsl, is_read_only,
                                  validate_bsl, vsl_config, vsl_storage)
from lab.velero.logs import OperationLog, gzip_json
from lab.velero.objectstorage import StorageError
from lab.velero.repositories import UPLOADER_ERRORS, default_uploader, open_repository
from lab.velero.selection import (IncludesExcludes, group_resource, resource_filter, validate_includes_excludes,
                                  validate_namespace_includes_excludes, validate_scoped_includes_excludes)
from lab.velero.tarball import FORMAT_VERSION, write_tarball

PLURAL = "backups"
DEFAULT_TTL = datetime.timedelta(hours=720)
EXCLUDE_LABEL = "velero.io/exclude-from-backup"
FS_INCLUDE_ANNOTATION = "backup.velero.io/backup-volumes"
FS_EXCLUDE_ANNOTATION = "backup.velero.io/backup-volumes-excludes"
PVC_NAME_ANNOTATION = "velero.io/pvc-name"
CRD_GR = "customresourcedefinitions.apiextensions.k8s.io"
VOLUME_DATA_ERRORS = (StorageError, ChainError, *UPLOADER_ERRORS, CredentialsError, LocationError, OSError)
SERVER_DEFAULT_BSL = "default"      # velero server --default-backup-storage-location
SCOPED_FILTERS = ("includedClusterScopedResources", "excludedClusterScopedResources",
                  "includedNamespaceScopedResources", "excludedNamespaceScopedResources")
OLD_AND_NEW_FILTERS = (
    "include-resources, exclude-resources and include-cluster-resources are old filter parameters.\n"
    "include-cluster-scoped-resources, exclude-cluster-scoped-resources, include-namespace-scoped-resources and "
    "exclude-namespace-scoped-resources are new filter parameters.\n"
    "They cannot be used together")


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


def _credential_problem(store, vsl):
    """Why Velero cannot write a VSL's spec.credential to a file, or None
    (internal/volume/snapshotlocation.go, internal/credentials/file_store.go)."""
    ref = (vsl.get("spec") or {}).get("credential")
    if ref is None:
        return None
    name, key = ref.get("name") or "", ref.get("key") or ""
    secret = store.get("", "secrets", kube.NAMESPACE, name)
    if secret is None:
        return f"unable to get credentials: unable to get key for secret: Secret \"{name}\" not found"
    if key not in (secret.get("data") or {}) and key not in (secret.get("stringData") or {}):
        return (f"unable to get credentials: unable to get key for secret: \"{name}\" secret is missing data "
                f"for key \"{key}\"")
    return None


def _annotation_list(obj, key):
    value = (obj["metadata"].get("annotations") or {}).get(key) or ""
    return [v.strip() for v in value.split(",") if v.strip()]


class ItemCollector:
    """The items a BackupSpec selects on one cluster (pkg/backup/item_collector.go
    plus the PVC->PV and CR->CRD additional items)."""

    def __init__(self, cluster, spec, served):
        self.store = cluster.store
        self.served = served           # the kinds the server's discovery knows (lab.velero.discovery)
        self.spec = spec
        self.namespaces = IncludesExcludes(spec.get("includedNamespaces"), spec.get("excludedNamespaces"))
        self.resources = resource_filter(spec.get("includedResources"), spec.get("excludedResources"),
                                         self.served)
        selectors = [spec["labelSelector"]] if spec.get("labelSelector") else []
        selectors += spec.get("orLabelSelectors") or []
        self.matchers = [label_matcher(s) for s in selectors]

    def _matches(self, obj):
        """Whether a listing with the backup's label selectors returns obj."""
        labels = obj["metadata"].get("labels") or {}
        return not self.matchers or any(match(labels) for match in self.matchers)

    def _selected(self, obj):
        """Whether the item backupper keeps a listed item: its namespace
        included, no exclude-from-backup label."""
        labels = obj["metadata"].get("labels") or {}
        namespace = obj["metadata"].get("namespace")
        if labels.get(EXCLUDE_LABEL) == "true" or (namespace and not self.namespaces.should_include(namespace)):
            return False
        return self._matches(obj)

    def _namespaces_to_list(self, existing):
        """Where namespaced items are listed (getNamespacesToList): every
        namespace when the filter takes "*", else the included names as
        written (a pattern like "team-*" lists nothing: Velero 1.16 does not
        expand it)."""
        if self.namespaces.should_include("*"):
            return list(existing)       # "": all of them, the excluded ones too (their items are dropped later)
        return [name for name in dict.fromkeys(self.namespaces.includes) if self.namespaces.should_include(name)]

    def _tracked(self, namespaces):
        """The namespaces whose object Velero backs up before any item is
        seen (nsTracker.init): those the label selectors match, else (unless
        the filter takes everything while selectors are given) those the
        namespace filter takes."""
        tracked = set()
        selected_everything = self.namespaces.includes_everything() and bool(self.matchers)
        for ns in namespaces:
            name, labels = ns["metadata"]["name"], ns["metadata"].get("labels") or {}
            if any(match(labels) for match in self.matchers):
                tracked.add(name)
            elif not selected_everything and self.namespaces.should_include(name):
                tracked.add(name)
        return tracked

    def _takes_namespaces(self):
        """Whether Namespace objects are collected at all: the resource filter
        takes them and includeClusterResources is not false."""
        return self.resources.should_include("namespaces") and self.spec.get("includeClusterResources") is not False

    def missing_namespaces(self):
        """The included namespaces (not "*") no namespace is named after
        (collectNamespaces, when it runs, logs an error for each)."""
        if not self._takes_namespaces():
            return []
        existing = {ns["metadata"]["name"] for ns in self.store.list("", "namespaces")}
        return [name for name in self.namespaces.includes if name != "*" and name not in existing]

    def collect(self):
        """-> list of (ResourceType, object), each item once."""
        items, seen = [], set()

        def add(rtype, obj):
            key = (rtype.group, rtype.plural, obj["metadata"].get("namespace"), obj["metadata"]["name"])
            if key not in seen and not obj["metadata"].get("deletionTimestamp"):
                seen.add(key)
                items.append((rtype, obj))

        every_namespace = [ns for ns in self.store.list("", "namespaces") if not ns["metadata"].get("deletionTimestamp")]
        listed = self._namespaces_to_list([ns["metadata"]["name"] for ns in every_namespace])
        tracked = self._tracked(every_namespace)
        include_cluster = self.spec.get("includeClusterResources")
        all_cluster = include_cluster is True or (include_cluster is None and self.namespaces.includes_everything())
        by_gr = {group_resource(r): r for r in self.served}
        namespace_type = None
        for rtype in self.served:
            gr = group_resource(rtype)
            if not self.resources.should_include(gr):
                continue
            if gr == "namespaces":
                if self._takes_namespaces():
                    namespace_type = rtype      # namespaces go last: an item tracks its namespace
                continue
            if rtype.namespaced:
                for name in listed:
                    for obj in self.store.list(rtype.group, rtype.plural, name):
                        if self._matches(obj):
                            tracked.add(name)           # even an excluded namespace: Velero tracks it
                            if self._selected(obj):
                                add(rtype, obj)
            elif all_cluster:
                for obj in self.store.list(rtype.group, rtype.plural):
                    if self._selected(obj):
                        add(rtype, obj)
        if namespace_type is not None:
            # nsTracker.filterNamespaces; a tracked namespace goes even when the filter excludes it
            # ("we specifically allow namespaces to be backed up even if it's excluded")
            for ns in every_namespace:
                labels = ns["metadata"].get("labels") or {}
                if ns["metadata"]["name"] in tracked and labels.get(EXCLUDE_LABEL) != "true":
                    add(namespace_type, ns)
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
    def __init__(self, cluster, discovery):
        self.cluster = cluster
        self.discovery = discovery
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
                    BackupRun(self.cluster, backup, self.discovery).run()
                except ApiError:
                    continue     # the Backup changed or went away under us; that change marks us dirty
                except Exception:
                    kube.record_crash(self.store, PLURAL, backup)
                changed = True
        return changed


class BackupRun:
    """One Backup from New to its final phase."""

    def __init__(self, cluster, backup, discovery):
        self.cluster = cluster
        self.discovery = discovery
        self.store = cluster.store
        self.backup = backup
        self.name = kube.name_of(backup)
        self.spec = backup.get("spec") or {}
        self.log = OperationLog(cluster, f"backup=velero/{self.name}", log_hook=True)
        self.volume_snapshots = []
        self.pod_volume_backups = []

    # -- validation ---------------------------------------------------------
    # Velero 1.16.2 pkg/controller/backup_controller.go prepareBackupRequest and
    # validateAndGetSnapshotLocations: the rules, their messages and their order
    # (HACKING.md, "Backup and Restore validation"). Its client reads through an
    # informer cache, whose NotFound errors name the kind: `Kind.group "name" not found`.
    def _location(self, errors):
        """The BSL the backup goes to (spec.storageLocation, else the one marked
        default, else the server default "default") and its name."""
        name = self.spec.get("storageLocation")
        server_chose = not name
        if server_chose:
            marked = next((b for b in kube.list_velero(self.store, BSL) if (b.get("spec") or {}).get("default")),
                          None)
            name = kube.name_of(marked) if marked else SERVER_DEFAULT_BSL
        bsl = kube.get_velero(self.store, BSL, name)
        if bsl is None:
            problem = f"Error: BackupStorageLocation.velero.io \"{name}\" not found"
            errors.append(
                f"an existing backup storage location was not specified at backup creation time and the server "
                f"default {name} does not exist. Please address this issue (see `velero backup-location -h` for "
                f"options) and create a new backup. {problem}" if server_chose else
                f"an existing backup storage location was not specified at backup creation time and the default "
                f"{name} was not found. Please address this issue (see `velero backup-location -h` for options) "
                f"and create a new backup. {problem}")
            return None, name
        if is_read_only(bsl):
            errors.append(f"backup can't be created because backup storage location {name} is currently in "
                          f"read-only mode")
        if (bsl.get("status") or {}).get("phase") != "Available":
            errors.append(f"backup can't be created because BackupStorageLocation {name} is in Unavailable status. "
                          f"please create a new backup after the BSL becomes available")
        return bsl, name

    def _snapshot_locations(self, errors):
        """{provider: VSL} the backup uses: the ones it names (one per
        provider), and for every other provider its only VSL (the lab's server
        has no --default-volume-snapshot-locations)."""
        found, problems = {}, []
        for name in self.spec.get("volumeSnapshotLocations") or []:
            vsl = kube.get_velero(self.store, VSL, name)
            if vsl is None:
                problems.append(f"a VolumeSnapshotLocation CRD for the location {name} with the name specified in "
                                f"the backup spec needs to be created before this snapshot can be executed. Error: "
                                f"VolumeSnapshotLocation.velero.io \"{name}\" not found")
                continue
            provider = (vsl.get("spec") or {}).get("provider") or ""
            if provider in found and kube.name_of(found[provider]) != name:
                problems.append(f"more than one VolumeSnapshotLocation name specified for provider {provider}: "
                                f"{name}; unexpected name was {kube.name_of(found[provider])}")
                continue
            found.setdefault(provider, vsl)
        if not problems:
            by_provider = {}
            for vsl in kube.list_velero(self.store, VSL):
                by_provider.setdefault((vsl.get("spec") or {}).get("provider") or "", []).append(vsl)
            for provider, locations in sorted(by_provider.items()):
                if provider in found:
                    continue
                if len(locations) > 1:
                    problems.append(f"provider {provider} has more than one possible volume snapshot location, and "
                                    f"none were specified explicitly or as a default")
                else:
                    found[provider] = locations[0]
        if not problems:
            for provider, vsl in sorted(found.items()):
                problem = _credential_problem(self.store, vsl)
                if problem:
                    problems.append(f"error adding credentials to volume snapshot location named "
                                    f"{kube.name_of(vsl)}: {problem}")
        errors += problems
        return {} if problems else found

    def _excluded_namespaces(self):
        """spec.excludedNamespaces plus every namespace labelled
        velero.io/exclude-from-backup=true (Velero adds them before validating)."""
        labelled = [kube.name_of(ns)
                    for ns in self.store.list("", "namespaces", label_selector=f"{EXCLUDE_LABEL}=true")]
        return list(self.spec.get("excludedNamespaces") or []) + sorted(labelled)

    def _ttl(self):
        """spec.ttl, or Velero's default when it is unset or zero; None when
        Velero could not even decode the Backup (metav1.Duration uses
        time.ParseDuration, which refuses "" and anything not a Go duration)."""
        if self.spec.get("ttl") is None:
            return DEFAULT_TTL
        try:
            ttl = kube.go_duration(self.spec["ttl"])
        except ValueError:
            return None
        return ttl or DEFAULT_TTL

    def _validate(self, excluded_namespaces):
        spec, errors = self.spec, []
        bsl, bsl_name = self._location(errors)
        vsls = self._snapshot_locations(errors)
        old_style = (bool(spec.get("includedResources")) or bool(spec.get("excludedResources"))
                     or spec.get("includeClusterResources") is not None)
        new_style = any(spec.get(key) for key in SCOPED_FILTERS)
        if old_style and new_style:
            errors.append(OLD_AND_NEW_FILTERS)
        errors += [f"Invalid included/excluded resource lists: {e}"
                   for e in validate_includes_excludes(spec.get("includedResources"), spec.get("excludedResources"))]
        errors += [f"Invalid cluster-scoped included/excluded resource lists: {e}"
                   for e in validate_scoped_includes_excludes(spec.get("includedClusterScopedResources"),
                                                              spec.get("excludedClusterScopedResources"))]
        errors += [f"Invalid namespace-scoped included/excluded resource lists: {e}"
                   for e in validate_scoped_includes_excludes(spec.get("includedNamespaceScopedResources"),
                                                              spec.get("excludedNamespaceScopedResources"))]
        errors += [f"Invalid included/excluded namespace lists: {e}"
                   for e in validate_namespace_includes_excludes(spec.get("includedNamespaces"),
                                                                 excluded_namespaces)]
        if spec.get("orLabelSelectors") is not None and spec.get("labelSelector") is not None:
            errors.append("encountered labelSelector as well as orLabelSelectors in backup spec, only one can be "
                          "specified")
        errors += resourcepolicies.validation_errors(self.store, self.backup)
        return errors, bsl, bsl_name, vsls

    # -- the run ------------------------------------------------------------
    def run(self):
        start = kube.now(self.cluster)
        ttl = self._ttl()
        if ttl is None:
            # Velero's client cannot decode this Backup, so no controller ever sees it
            kube.log.warning("velero: backup %s: spec.ttl %r is not a Go duration; Velero cannot decode the Backup "
                             "and leaves it unprocessed", self.name, self.spec.get("ttl"))
            return
        excluded_namespaces = self._excluded_namespaces()
        errors, bsl, bsl_name, vsls = self._validate(excluded_namespaces)
        self._stamp_object(bsl_name, ttl, excluded_namespaces, vsls)
        # status.version: the backup format's major version (deprecated, always 1 in Velero 1.16)
        base = {"version": 1, "formatVersion": FORMAT_VERSION, "hookStatus": {}}
        if errors:
            kube.set_status(self.store, PLURAL, self.backup, phase="FailedValidation",
                            validationErrors=errors, **base)
            return
        kube.set_status(self.store, PLURAL, self.backup, phase="InProgress", startTimestamp=kube.stamp(self.cluster),
                        expiration=kube.format_time(start + ttl), **base)
        self.log.info(f"Setting up backup temp file (backup {self.name})")
        # runBackup's first look at the bucket: is the backup there already?
        problem = check_bsl(self.store, bsl)
        if problem:
            validate_bsl(self.cluster, bsl)
            self._finish("Failed", failure=f"error checking if backup already exists in object storage: {problem}")
            return
        storage, layout = bsl_storage(self.store, bsl)
        if storage.exists(layout.backup_metadata(self.name)):
            self._finish("Failed", failure="backup already exists in object storage")
            return
        collector = ItemCollector(self.cluster, self.spec, self.discovery.served())
        for name in collector.missing_namespaces():
            self.log.error(f"fail to get the namespace {name} specified in backup.Spec.IncludedNamespaces",
                           resource="namespaces")
        items = collector.collect()
        self.log.info(f"Collected {len(items)} items matching the backup spec")
        self._volume_data(items, bsl, vsls.get(CSTOR_PROVIDER), storage, layout)
        phase = "PartiallyFailed" if self.log.error_count() else "Completed"
        try:
            self._upload(items, storage, layout, phase)
        except (StorageError, OSError) as exc:
            self.log.error(f"Error uploading backup: {exc}")
            self._finish("Failed", failure=f"error uploading backup: {exc}", items=items)
            return
        self._finish(phase, items=items)

    def _stamp_object(self, bsl_name, ttl, excluded_namespaces, vsls):
        """What Velero's prepareBackupRequest writes into the Backup, valid or not."""
        backup = self.store.get(kube.GROUP, PLURAL, kube.NAMESPACE, self.name)
        labels = backup["metadata"].setdefault("labels", {}) or {}
        backup["metadata"]["labels"] = labels
        annotations = backup["metadata"].setdefault("annotations", {}) or {}
        backup["metadata"]["annotations"] = annotations
        spec = backup.setdefault("spec", {})
        spec["storageLocation"] = bsl_name
        labels[kube.LABEL_LOCATION] = bsl_name
        if kube.parse_duration(spec.get("ttl"), datetime.timedelta(0)) != ttl:
            spec["ttl"] = kube.format_duration(ttl)     # unset or zero: the server's default
        # the server's other defaults (velero server flags' defaults)
        for field, default in (("csiSnapshotTimeout", "10m0s"), ("itemOperationTimeout", "4h0m0s")):
            if kube.parse_duration(spec.get(field), datetime.timedelta(0)) == datetime.timedelta(0):
                spec[field] = default
        for field in ("defaultVolumesToFsBackup", "snapshotMoveData"):
            if spec.get(field) is None:
                spec[field] = False
        if excluded_namespaces:
            spec["excludedNamespaces"] = excluded_namespaces
        if vsls:
            spec["volumeSnapshotLocations"] = [kube.name_of(vsls[p]) for p in sorted(vsls)]
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
        # what Velero's item backupper and the OpenEBS plugin log (item_backupper.go
        # takePVSnapshot, the plugin's CreateSnapshot); neither says full or incremental
        self.log.info("Snapshotting persistent volume")
        self.log.info(f"creating snapshot{{{self.name}}}")
        try:
            storage, layout = vsl_storage(self.store, vsl)
            chains = SnapshotChains.from_config(storage, layout, vsl_config(vsl))
            meta = chains.take(volume_dir(self.cluster, pv_name), pv_name, self.name, schedule,
                               kube.stamp(self.cluster), claim=pvc)
        except VOLUME_DATA_ERRORS as exc:
            record["status"]["phase"] = "Failed"
            self.log.error(f"Error taking snapshot of volume {pv_name}: {exc}",
                           namespace=pvc["metadata"]["namespace"])
            return
        record["status"].update(providerSnapshotID=meta["snapshotID"], phase="Completed")
        self.log.info("Snapshot Successfully Created")

    def _fs_backup(self, pod, volume_name, pvc, bsl, storage, layout):
        """One PodVolumeBackup as Velero's backupper creates it and node-agent
        runs it (pkg/podvolume/backupper.go, pod_volume_backup_controller.go)."""
        namespace, pod_name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        pvc_uid = pvc["metadata"]["uid"]
        pv_name = (pvc.get("spec") or {}).get("volumeName")
        pv = self.store.get("", "persistentvolumes", None, pv_name) if pv_name else None
        path = volume_dir(self.cluster, pv_name) if pv_name else None
        uploader = default_uploader(self.cluster)
        tags = {"backup": self.name, "backup-uid": self.backup["metadata"]["uid"], "ns": namespace,
                "pod": pod_name, "pod-uid": pod["metadata"]["uid"], "pvc-uid": pvc_uid, "volume": volume_name}
        pvb = {"apiVersion": kube.API_VERSION, "kind": "PodVolumeBackup",
               "metadata": {"generateName": f"{self.name}-", "namespace": kube.NAMESPACE,
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
            parent = _parent_snapshot(self.store, pvb)
            if uploader == "restic":
                pvb["spec"]["repoIdentifier"] = repo.identifier
                snap, total = repo.backup(path, tags, kube.now(self.cluster), parent=parent)
            else:
                snap, total = repo.backup(path, source, tags, kube.now(self.cluster), parent=parent)
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

    def _volume_infos(self):
        """<backup>-volumeinfo.json (pkg/volume/volume_info.go): one entry per
        volume Velero took data of, by pod volume backup or native snapshot."""
        infos = []
        for pvb in self.pod_volume_backups:
            spec, status = pvb["spec"], pvb.get("status") or {}
            pvc_name = (pvb["metadata"].get("annotations") or {}).get(PVC_NAME_ANNOTATION)
            pvc = self.store.get("", "persistentvolumeclaims", spec["pod"]["namespace"], pvc_name) if pvc_name else None
            pv_name = ((pvc or {}).get("spec") or {}).get("volumeName") or ""
            pv = self.store.get("", "persistentvolumes", None, pv_name) if pv_name else None
            infos.append({
                "pvcName": pvc_name or "", "pvcNamespace": spec["pod"]["namespace"], "pvName": pv_name,
                "backupMethod": "PodVolumeBackup", "snapshotDataMoved": False, "preserveLocalSnapshot": False,
                "skipped": False, "startTimestamp": status.get("startTimestamp"),
                "completionTimestamp": status.get("completionTimestamp"),
                "result": "succeeded" if status.get("phase") == "Completed" else "failed",
                "pvbInfo": {"snapshotHandle": status.get("snapshotID") or "",
                            "size": (status.get("progress") or {}).get("totalBytes") or 0,
                            "uploaderType": spec["uploaderType"], "volumeName": spec["volume"],
                            "podName": spec["pod"]["name"], "podNamespace": spec["pod"]["namespace"],
                            "nodeName": spec["node"], "Phase": status.get("phase", "")},
                "pvInfo": {"reclaimPolicy": ((pv or {}).get("spec") or {}).get("persistentVolumeReclaimPolicy", ""),
                           "labels": ((pv or {}).get("metadata") or {}).get("labels")}})
        for snap in self.volume_snapshots:
            spec, status = snap["spec"], snap["status"]
            pv = self.store.get("", "persistentvolumes", None, spec["persistentVolumeName"])
            claim = ((pv or {}).get("spec") or {}).get("claimRef") or {}
            infos.append({
                "pvcName": claim.get("name", ""), "pvcNamespace": claim.get("namespace", ""),
                "pvName": spec["persistentVolumeName"], "backupMethod": "NativeSnapshot",
                "snapshotDataMoved": False, "preserveLocalSnapshot": False, "skipped": False,
                "result": "succeeded" if status["phase"] == "Completed" else "failed",
                "nativeSnapshotInfo": {"snapshotHandle": status.get("providerSnapshotID", ""),
                                       "volumeType": spec.get("volumeType", ""), "volumeAZ": spec.get("volumeAZ", ""),
                                       "iops": "", "phase": status["phase"]},
                "pvInfo": {"reclaimPolicy": ((pv or {}).get("spec") or {}).get("persistentVolumeReclaimPolicy", ""),
                           "labels": ((pv or {}).get("metadata") or {}).get("labels")}})
        return infos

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
        tarball = write_tarball(entries, mtime)
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
        # Go's json of a nil slice is null: Velero writes null where it has no item
        storage.put(layout.backup_volume_snapshots(self.name), gzip_json(self.volume_snapshots or None))
        # typed objects from Velero's lister: no apiVersion or kind
        storage.put(layout.backup_pod_volume_backups(self.name),
                    gzip_json([{k: v for k, v in p.items() if k not in ("apiVersion", "kind")}
                               for p in self.pod_volume_backups] or None))
        storage.put(layout.backup_volume_info(self.name), gzip_json(self._volume_infos() or None))
        for what in ("volumesnapshots", "volumesnapshotcontents", "volumesnapshotclasses"):
            storage.put(layout.backup_csi(self.name, what), gzip_json(None))     # no CSI snapshots here
        storage.put(layout.backup_results(self.name), self.log.results_gz())
        storage.put(layout.backup_item_operations(self.name), gzip_json([]))
        # Go's json of the BackupSpec: hooks and metadata are structs, always written
        final["spec"].setdefault("hooks", {})
        final["spec"].setdefault("metadata", {})
        # velero-backup.json last: a backup is only "in the bucket" (for sync) once it is complete
        storage.put(layout.backup_metadata(self.name), json.dumps(final, sort_keys=True).encode())
