"""The Restore controller (Velero's restore_controller.go and pkg/restore):
validate, read the backup from its location, restore the selected items in
Velero's priority order into versions the target serves, then write the
volume data once each restored claim is bound (restic restore or cStor
chain replay). Phases and reasons as Velero reports them."""
import copy
import shutil
import time
import uuid

from lab.apiserver.errors import AlreadyExists, ApiError
from lab.apiserver.selectors import label_matcher
from lab.controllers.namespaces import populate
from lab.controllers.storage import volume_dir
from lab.velero import kube
from lab.velero.backups import VOLUME_DATA_ERRORS
from lab.velero.chains import SnapshotChains
from lab.velero.locations import BSL, LocationError, bsl_storage, vsl_config, vsl_storage
from lab.velero.logs import OperationLog, gunzip_json, gzip_json
from lab.velero.objectstorage import StorageError
from lab.velero.repositories import open_repository
from lab.velero.selection import IncludesExcludes, group_resource, resource_filter, validate_includes_excludes
from lab.velero.tarball import TarballError, read_tarball

PLURAL = "restores"
# Velero 1.16.2 pkg/cmd/server/config/config.go defaultRestorePriorities (the group-resources
# the lab's registry names; Velero's list says "customresourcedefinitions", "storageclasses")
HIGH_PRIORITIES = [
    "customresourcedefinitions.apiextensions.k8s.io", "namespaces", "storageclasses.storage.k8s.io",
    "volumesnapshotclass.snapshot.storage.k8s.io", "volumesnapshotcontents.snapshot.storage.k8s.io",
    "volumesnapshots.snapshot.storage.k8s.io", "datauploads.velero.io", "persistentvolumes",
    "persistentvolumeclaims", "serviceaccounts", "secrets", "configmaps", "limitranges", "pods",
    "replicasets.apps", "clusterclasses.cluster.x-k8s.io", "endpoints", "services",
]
LOW_PRIORITIES = ["clusterbootstraps.run.tanzu.vmware.com", "clusters.cluster.x-k8s.io",
                  "clusterresourcesets.addons.cluster.x-k8s.io", "apps.kappctrl.k14s.io",
                  "packageinstalls.packaging.carvel.dev"]
# A resource of the backup the target does not serve: Velero logs that it cannot resolve it
# (Info) and, before 1.14, skips it; from 1.14 on it goes on and fails to create each item
# (pkg/restore/restore.go getOrderedResourceCollection, restoreItem)
UNRESOLVED_SKIPPED = "Skipping restore of resource because it cannot be resolved via discovery"
UNRESOLVED = "resource cannot be resolved via discovery"
UNRESOLVED_ITEM_ERROR = "the server could not find the requested resource"      # client-go's NotFound for a 404
# Velero 1.16.2 pkg/controller/restore_controller.go nonRestorableResources, in its
# order: validation names them in it and appends them to spec.excludedResources
NON_RESTORABLE = ("nodes", "events", "events.events.k8s.io", "backups.velero.io", "restores.velero.io",
                  "resticrepositories.velero.io", "csinodes.storage.k8s.io",
                  "volumeattachments.storage.k8s.io", "backuprepositories.velero.io")
EXISTING_RESOURCE_POLICIES = ("none", "update")
STRIPPED_METADATA = ("uid", "resourceVersion", "creationTimestamp", "managedFields", "generation",
                     "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds", "generateName")
PVC_BINDING_ANNOTATIONS = ("pv.kubernetes.io/bind-completed", "pv.kubernetes.io/bound-by-controller",
                           "volume.kubernetes.io/selected-node", "volume.kubernetes.io/storage-provisioner",
                           "volume.beta.kubernetes.io/storage-provisioner")
VOLUME_WAIT_SECONDS = 120.0     # real seconds a restored claim may take to bind
FINALIZER = "restores.velero.io/external-resources-finalizer"      # restore_controller.go
DEFAULT_ITEM_OPERATION_TIMEOUT = "4h0m0s"       # velero server --default-item-operation-timeout


def priority(group_resource_name):
    if group_resource_name in HIGH_PRIORITIES:
        return (0, HIGH_PRIORITIES.index(group_resource_name), "")
    if group_resource_name in LOW_PRIORITIES:
        return (2, LOW_PRIORITIES.index(group_resource_name), "")
    return (1, 0, group_resource_name)


def _comparable(obj):
    """An object without the fields a cluster sets, to tell "same" from "different"."""
    obj = copy.deepcopy(obj)
    obj.pop("status", None)
    meta = obj.get("metadata") or {}
    for key in STRIPPED_METADATA + ("ownerReferences", "annotations"):
        meta.pop(key, None)
    labels = meta.get("labels") or {}
    for key in (kube.LABEL_BACKUP_NAME, kube.LABEL_RESTORE_NAME):
        labels.pop(key, None)
    obj.pop("apiVersion", None)
    return obj


class RestoreController:
    def __init__(self, cluster, discovery):
        self.cluster = cluster
        self.discovery = discovery
        self.store = cluster.store
        self.running = {}       # restore uid -> RestoreRun waiting for volumes

    def next_due(self):
        return None

    def polling(self):
        """Restores waiting for claims to bind give up after a real-time
        deadline, which no object change announces: keep the ticks coming."""
        return bool(self.running)

    def reconcile(self):
        changed = False
        restores = kube.list_velero(self.store, PLURAL)
        present = {r["metadata"]["uid"] for r in restores if not r["metadata"].get("deletionTimestamp")}
        for uid in [u for u in self.running if u not in present]:
            del self.running[uid]      # the Restore was deleted while waiting for its volumes
        for restore in restores:
            if restore["metadata"].get("deletionTimestamp") or FINALIZER not in (
                    restore["metadata"].get("finalizers") or []):
                changed |= self._finalizer(restore)
                continue
            phase = (restore.get("status") or {}).get("phase")
            uid = restore["metadata"]["uid"]
            if phase in (None, "", "New"):
                run = RestoreRun(self.cluster, restore, self.discovery)
                try:
                    if run.start():
                        self.running[uid] = run
                except Exception:
                    kube.record_crash(self.store, PLURAL, restore)
                changed = True
            elif phase == "InProgress" and uid in self.running:
                try:
                    done = self.running[uid].continue_volumes()
                except Exception:
                    kube.record_crash(self.store, PLURAL, restore)
                    done = True
                if done:
                    del self.running[uid]
                    changed = True
            elif phase == "InProgress":
                kube.set_status(self.store, PLURAL, restore, phase="Failed",
                                failureReason="found a restore with status \"InProgress\" during the server "
                                              "starting, mark it as \"Failed\"",
                                completionTimestamp=kube.stamp(self.cluster))
                changed = True
        return changed


    def _finalizer(self, restore):
        """Velero's external-resources finalizer: put on every Restore; when
        one is deleted, its files go from the bucket (if its backup and an
        available location say where), then the finalizer. True if changed."""
        meta = restore["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        if not meta.get("deletionTimestamp"):
            restore = dict(restore, metadata=dict(meta, finalizers=finalizers + [FINALIZER]))
            try:
                self.store.update(kube.GROUP, PLURAL, restore)
            except ApiError:
                return False        # changed meanwhile: the next pass sees it
            return True
        if FINALIZER not in finalizers:
            return False
        backup = kube.get_velero(self.store, "backups", (restore.get("spec") or {}).get("backupName") or "")
        bsl = kube.get_velero(self.store, BSL, ((backup or {}).get("spec") or {}).get("storageLocation") or "")
        if backup is not None and bsl is not None:
            if (bsl.get("status") or {}).get("phase") != "Available":
                return False        # Velero retries until the location is back
            try:
                storage, layout = bsl_storage(self.store, bsl)
                storage.delete_prefix(layout.restore_dir(kube.name_of(restore)))
            except (StorageError, LocationError):
                return False
        finalizers.remove(FINALIZER)
        try:
            self.store.update(kube.GROUP, PLURAL, dict(restore, metadata=dict(meta, finalizers=finalizers)))
        except ApiError:
            return False
        return True


class RestoreRun:
    """One Restore: items at once, volume data as claims bind."""

    def __init__(self, cluster, restore, discovery):
        self.cluster = cluster
        self.discovery = discovery
        self.store = cluster.store
        self.restore = restore
        self.name = kube.name_of(restore)
        self.spec = restore.get("spec") or {}
        self.log = OperationLog(cluster, f"restore=velero/{self.name}")
        self.total = 0
        self.pending = []           # volume data waiting for its claim to bind
        self.deadline = None
        self.bsl = None
        self.volumes_from_snapshots = {}     # source (namespace, claim) -> PV restored from its snapshot
        self.outcomes = {}          # "<apiVersion>/<Kind>" -> ["ns/name(result)"]
        self.volume_infos = []      # <restore>-volumeinfo.json entries
        self.unresolved = set()     # group-resources of the backup the target does not serve

    # -- validation -----------------------------------------------------------
    # Velero 1.16.2 pkg/controller/restore_controller.go validateAndComplete: the
    # rules, their messages and their order (HACKING.md, "Backup and Restore
    # validation"). It completes the spec as it goes (excludedResources,
    # backupName, scheduleName), and the Restore keeps that even when invalid.
    def _validate(self, spec):
        """Validate and complete spec (a copy, changed in place) -> (errors, backup, bsl)."""
        errors = []
        excluded = list(spec.get("excludedResources") or [])
        spec["excludedResources"] = excluded + [r for r in NON_RESTORABLE if r not in set(excluded)]
        included = set(spec.get("includedResources") or [])
        errors += [f"{r} are non-restorable resources" for r in NON_RESTORABLE if r in included]
        errors += [f"Invalid included/excluded resource lists: {e}"
                   for e in validate_includes_excludes(spec.get("includedResources"), spec["excludedResources"])]
        errors += [f"Invalid included/excluded namespace lists: {e}"
                   for e in validate_includes_excludes(spec.get("includedNamespaces"), spec.get("excludedNamespaces"))]
        if spec.get("orLabelSelectors") is not None and spec.get("labelSelector") is not None:
            errors.append("encountered labelSelector as well as orLabelSelectors in restore spec, only one can be "
                          "specified")
        if bool(spec.get("backupName")) == bool(spec.get("scheduleName")):
            errors.append("Either a backup or schedule must be specified as a source for the restore, but not both")
            return errors, None, None
        policy = spec.get("existingResourcePolicy")
        if policy and policy not in EXISTING_RESOURCE_POLICIES:
            errors.append(f"Invalid ExistingResourcePolicy: {policy}")
        if spec.get("scheduleName"):
            backups = self.store.list(kube.GROUP, "backups", kube.NAMESPACE,
                                      label_selector={"matchLabels": {kube.LABEL_SCHEDULE: spec["scheduleName"]}})
            if not backups:
                errors.append("No backups found for schedule")
            # mostRecentCompletedBackup: newest start first, PartiallyFailed ones do not count
            backups.sort(key=lambda b: (b.get("status") or {}).get("startTimestamp") or "", reverse=True)
            latest = next((b for b in backups if (b.get("status") or {}).get("phase") == "Completed"), None)
            if latest is None:
                errors.append("No completed backups found for schedule")
                return errors, None, None
            spec["backupName"] = kube.name_of(latest)
        backup = kube.get_velero(self.store, "backups", spec["backupName"])
        if backup is None:
            errors.append(f"Error retrieving backup: can't find backup {kube.NAMESPACE}/{spec['backupName']}: "
                          f"Backup.velero.io \"{spec['backupName']}\" not found")
            return errors, None, None
        location = (backup.get("spec") or {}).get("storageLocation") or ""
        bsl = kube.get_velero(self.store, BSL, location)
        if bsl is None:
            errors.append(f"Error retrieving backup: BackupStorageLocation.velero.io \"{location}\" not found")
            return errors, None, None
        if (bsl.get("status") or {}).get("phase") != "Available":
            errors.append(f"the BSL {location} is unavailable, cannot retrieve the backup. please retry the restore "
                          f"after the BSL becomes available")
            return errors, None, None
        if not spec.get("scheduleName"):
            schedule = (backup["metadata"].get("labels") or {}).get(kube.LABEL_SCHEDULE)
            if schedule:
                spec["scheduleName"] = schedule
        errors += self._resource_modifier_errors(spec)
        return errors, backup, bsl

    def _resource_modifier_errors(self, spec):
        """The ConfigMap spec.resourceModifier names must exist and hold one
        document (the lab does not apply resource modifiers: README)."""
        ref = spec.get("resourceModifier") or {}
        if str(ref.get("kind") or "").lower() != "configmap":
            return []
        where = f"{kube.NAMESPACE}/{ref.get('name') or ''}"
        configmap = self.store.get("", "configmaps", kube.NAMESPACE, ref.get("name") or "")
        if configmap is None:
            return [f"failed to get resource modifiers configmap {where}"]
        if len(configmap.get("data") or {}) != 1:
            return [f"Error in parsing resource modifiers provided in configmap {where}: illegal resource "
                    f"modifiers {where} configmap"]
        return []

    # -- the run ----------------------------------------------------------------
    def start(self):
        """Validate and restore the items. True if volume data is still to come."""
        spec = copy.deepcopy(self.spec)
        errors, backup, self.bsl = self._validate(spec)
        try:
            if not kube.parse_duration(spec.get("itemOperationTimeout")):
                spec["itemOperationTimeout"] = DEFAULT_ITEM_OPERATION_TIMEOUT
        except ValueError:
            pass
        if spec != self.spec:
            current = self.store.get(kube.GROUP, PLURAL, kube.NAMESPACE, self.name)
            current["spec"] = spec
            self.restore = self.store.update(kube.GROUP, PLURAL, current)
            self.spec = self.restore["spec"]
        if errors:
            kube.set_status(self.store, PLURAL, self.restore, phase="FailedValidation", validationErrors=errors)
            return False
        # hookStatus: an empty one from the start, as Velero 1.16's restores show it when no hook ran
        kube.set_status(self.store, PLURAL, self.restore, phase="InProgress",
                        startTimestamp=kube.stamp(self.cluster), hookStatus={})
        try:
            contents = self._read_backup(backup)
        except (StorageError, LocationError, TarballError, ValueError, OSError) as exc:
            self.log.error(f"error reading backup {kube.name_of(backup)}: {exc}")
            self._finish("Failed", failure=f"error reading backup {kube.name_of(backup)}: {exc}")
            return False
        self._restore_items(backup, *contents)
        if self.pending:
            self.deadline = time.monotonic() + VOLUME_WAIT_SECONDS
            return not self.continue_volumes()
        self._finish()
        return False

    def _read_backup(self, backup):
        storage, layout = bsl_storage(self.store, self.bsl)
        name = kube.name_of(backup)
        _, items = read_tarball(storage.get(layout.backup_contents(name)))
        snapshots = gunzip_json(storage.get(layout.backup_volume_snapshots(name))) \
            if storage.exists(layout.backup_volume_snapshots(name)) else []
        pvbs = gunzip_json(storage.get(layout.backup_pod_volume_backups(name))) \
            if storage.exists(layout.backup_pod_volume_backups(name)) else []
        return items, snapshots or [], pvbs or []

    # -- items ----------------------------------------------------------------------
    def _selected(self, items):
        """The tarball items this restore takes, in restore order."""
        served = self.cluster.registry.served()
        known = sorted({i["group_resource"] for i in items})
        namespaces = IncludesExcludes(self.spec.get("includedNamespaces"), self.spec.get("excludedNamespaces"))
        resources = resource_filter(self.spec.get("includedResources"), self.spec.get("excludedResources"),
                                    served, known)
        matcher = label_matcher(self.spec.get("labelSelector")) if self.spec.get("labelSelector") else None
        include_cluster = self.spec.get("includeClusterResources")
        all_cluster = include_cluster is True or (include_cluster is None and namespaces.includes_everything())
        chosen = []
        for item in items:
            gr, ns = item["group_resource"], item["namespace"]
            if gr in NON_RESTORABLE or gr.endswith(".velero.io") or not resources.should_include(gr):
                # the lab also keeps every velero.io object out: a restored Schedule or
                # DeleteBackupRequest would start acting on the target cluster
                continue
            if matcher and not matcher(item["obj"]["metadata"].get("labels") or {}):
                continue
            if ns is not None and not namespaces.should_include(ns):
                continue
            if gr == "namespaces":
                if not namespaces.should_include(item["name"]):
                    continue
            elif ns is None and not all_cluster and not self._related_cluster_item(item, namespaces,
                                                                                   include_cluster):
                continue
            chosen.append(item)
        if include_cluster is None and not all_cluster:
            # cluster-scoped items only as needed by the namespaced ones: CRDs of restored CRs
            wanted = {i["group_resource"] for i in chosen if i["namespace"] is not None}
            chosen = [i for i in chosen if not i["group_resource"].startswith("customresourcedefinitions.")
                      or _crd_group_resource(i["obj"]) in wanted]
        if include_cluster is False:
            chosen = [i for i in chosen if i["namespace"] is not None or i["group_resource"] == "namespaces"]
        return sorted(chosen, key=lambda i: priority(i["group_resource"]))

    @staticmethod
    def _related_cluster_item(item, namespaces, include_cluster):
        """With includeClusterResources unset and a namespace filter, the
        cluster-scoped items the namespaced ones need: PVs of their claims
        and (filtered further in _selected) the CRDs of their custom resources."""
        if include_cluster is not None:
            return False
        if item["group_resource"] == "persistentvolumes":
            claim = (item["obj"].get("spec") or {}).get("claimRef") or {}
            return bool(claim.get("namespace")) and namespaces.should_include(claim["namespace"])
        return item["group_resource"].startswith("customresourcedefinitions.")

    def _restore_items(self, backup, items, snapshots, pvbs):
        chosen = self._selected(items)
        # Velero resolves its priority list too: every entry the target does not serve is logged
        served = {group_resource(r) for r in self.cluster.registry.served()}
        for gr in HIGH_PRIORITIES:
            if gr not in served:
                self._log_unresolved(gr)
        claims = {(i["namespace"], i["name"]) for i in chosen if i["group_resource"] == "persistentvolumeclaims"}
        mapping = self.spec.get("namespaceMapping") or {}
        self.total = len(chosen)
        snapshots_by_pv = {} if self.spec.get("restorePVs") is False else {
            s["spec"]["persistentVolumeName"]: s for s in snapshots
            if (s.get("status") or {}).get("phase") == "Completed"}
        for item in chosen:
            obj, gr = item["obj"], item["group_resource"]
            ns = item["namespace"]
            where = f"{mapping.get(ns, ns)}/{item['name']}" if ns else item["name"]
            if gr == "pods" and (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                self.log.info(f"Skipping pod {ns}/{item['name']}: it has completed")
                self._outcome(obj.get("apiVersion"), obj.get("kind"), where, "skipped")
                continue
            if gr == "persistentvolumes":
                claim = (obj.get("spec") or {}).get("claimRef") or {}
                claim_key = (claim.get("namespace"), claim.get("name"))
                if claim_key in claims and item["name"] in snapshots_by_pv:
                    self._restore_pv_from_snapshot(item, snapshots_by_pv[item["name"]], claim_key, mapping)
                    continue
                if claim_key in claims:
                    self.log.info(f"Skipping persistentvolume {item['name']}: its claim is restored and "
                                  f"the target provisions a new volume")
                    self._outcome(obj.get("apiVersion"), obj.get("kind"), item["name"], "skipped")
                    continue
            if gr == "secrets" and obj.get("type") == "kubernetes.io/service-account-token":
                continue
            target_ns = mapping.get(ns, ns) if ns else None
            self._restore_one(item, target_ns)
        for gr in LOW_PRIORITIES:
            if gr not in served:
                self._log_unresolved(gr)
        self._plan_volumes(backup, items, chosen, snapshots, pvbs, mapping)

    def _ensure_namespace(self, namespace):
        """Velero creates a restored item's namespace when it is missing."""
        if self.store.get("", "namespaces", None, namespace) is not None:
            return
        meta = {"name": namespace, "labels": {kube.LABEL_BACKUP_NAME: self.spec["backupName"],
                                              kube.LABEL_RESTORE_NAME: self.name}}
        self.store.create("", "namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": meta})
        self._outcome("v1", "Namespace", namespace, "created")
        populate(self.store, namespace)

    def items_restored(self):
        """status.progress.itemsRestored: every item Velero tracked, created or
        not (restoredItems, the entries of the resource list)."""
        return sum(len(entries) for entries in self.outcomes.values())

    def _outcome(self, api_version, kind, where, result):
        """<restore>-resource-list.json: what became of each item
        (created | updated | skipped | failed), as Velero records it."""
        self.outcomes.setdefault(f"{api_version}/{kind}", []).append(f"{where}({result})")
        if kind == "CustomResourceDefinition" and result in ("created", "updated"):
            # restore.go refreshes the server's discovery after creating or updating CRDs, so
            # later backups know the new kinds; this restore's own items resolve against the
            # registry, as they do after that refresh
            self.discovery.refresh()

    def _prepare(self, item, target_ns):
        obj = copy.deepcopy(item["obj"])
        meta = obj.setdefault("metadata", {})
        for key in STRIPPED_METADATA:
            meta.pop(key, None)
        obj.pop("status", None)
        if target_ns:
            meta["namespace"] = target_ns
        # Velero's resetMetadata drops every ownerReference (the owners' uids
        # are the source cluster's); restored controllers adopt their orphans
        meta.pop("ownerReferences", None)
        labels = meta.setdefault("labels", {}) or {}
        meta["labels"] = labels
        labels[kube.LABEL_BACKUP_NAME] = self.spec["backupName"]
        labels[kube.LABEL_RESTORE_NAME] = self.name
        gr = item["group_resource"]
        if gr == "persistentvolumeclaims":
            volume = self.volumes_from_snapshots.get((item["namespace"], item["name"]))
            if volume:
                obj.setdefault("spec", {})["volumeName"] = volume
            else:
                obj.setdefault("spec", {}).pop("volumeName", None)
            for key in PVC_BINDING_ANNOTATIONS:
                (meta.get("annotations") or {}).pop(key, None)
        elif gr == "pods":
            # Velero's pod restore item action: the target's scheduler places it afresh
            spec = obj.setdefault("spec", {})
            spec.pop("nodeName", None)
            spec.pop("priority", None)
        elif gr == "services":
            spec = obj.setdefault("spec", {})
            if spec.get("clusterIP") != "None":
                spec.pop("clusterIP", None)
                spec.pop("clusterIPs", None)
        elif gr == "persistentvolumes":
            claim = (obj.get("spec") or {}).get("claimRef")
            if claim:
                for key in ("uid", "resourceVersion"):
                    claim.pop(key, None)
        return obj

    def _restore_one(self, item, target_ns):
        gr = item["group_resource"]
        plural, _, group = gr.partition(".")
        where = f"{target_ns}/{item['name']}" if target_ns else item["name"]
        rtype = next((r for r in self.cluster.registry.served() if (r.group, r.plural) == (group, plural)), None)
        if rtype is None:
            return self._unresolved(item, gr, target_ns)
        obj = self._prepare(item, target_ns)
        obj["apiVersion"], obj["kind"] = rtype.api_version(), rtype.kind
        try:
            if target_ns:
                self._ensure_namespace(target_ns)
            if gr == "namespaces":
                obj["metadata"]["name"] = (self.spec.get("namespaceMapping") or {}).get(item["name"], item["name"])
            created = self.store.create(rtype.group, rtype.plural, obj)
        except AlreadyExists:
            return self._existing(rtype, obj, where)
        except ApiError as exc:
            self.log.error(f"error restoring {gr} {where}: {exc.message}", namespace=target_ns, scope="cluster")
            self._outcome(rtype.api_version(), rtype.kind, where, "failed")
            return None
        self.log.info(f"Restored {gr} {where} as {rtype.api_version()}")
        if gr == "namespaces":
            self._outcome(rtype.api_version(), rtype.kind, obj["metadata"]["name"], "created")
            populate(self.store, obj["metadata"]["name"])
        else:
            self._outcome(rtype.api_version(), rtype.kind, where, "created")
        return created

    def _unresolved(self, item, gr, target_ns):
        """An item of a resource the target does not serve, as Velero meets it
        (UNRESOLVED above): logged once per resource; skipped before 1.14, a
        failed create (an error, the item failed) from 1.14 on."""
        if self._log_unresolved(gr):
            return None
        resource_id = f"{gr}/{target_ns}/{item['name']}" if target_ns else f"{gr}/{item['name']}"
        self.log.error(f"error restoring {resource_id}: {UNRESOLVED_ITEM_ERROR}", namespace=target_ns,
                       scope="cluster")
        where = f"{target_ns}/{item['name']}" if target_ns else item["name"]
        self._outcome(item["obj"].get("apiVersion"), item["obj"].get("kind"), where, "failed")
        return None

    def _log_unresolved(self, gr):
        """Log once that gr cannot be resolved; True where Velero then skips it (before 1.14)."""
        skips = kube.release(self.cluster) < (1, 14)
        if gr not in self.unresolved:
            self.unresolved.add(gr)
            self.log.info(UNRESOLVED_SKIPPED if skips else UNRESOLVED, resource=gr)
        return skips

    def _existing(self, rtype, obj, where):
        meta = obj["metadata"]
        current = self.store.get(rtype.group, rtype.plural, meta.get("namespace"), meta["name"])
        if current is None:
            return None
        if rtype.plural == "namespaces":
            self._outcome(rtype.api_version(), rtype.kind, where, "skipped")
            return current
        if self.spec.get("existingResourcePolicy") == "update":
            merged = dict(obj)
            merged["metadata"] = dict(current["metadata"], labels=meta.get("labels"),
                                      annotations=meta.get("annotations") or current["metadata"].get("annotations"))
            if "status" in current:
                merged["status"] = current["status"]
            try:
                updated = self.store.update(rtype.group, rtype.plural, merged)
            except ApiError as exc:
                self.log.warning(f"could not update existing {group_resource(rtype)} {where}: {exc.message}",
                                 namespace=meta.get("namespace"), scope="cluster")
                return current
            self.log.info(f"Updated existing {group_resource(rtype)} {where}")
            self._outcome(rtype.api_version(), rtype.kind, where, "updated")
            return updated
        # Velero merges an existing ServiceAccount's secrets rather than comparing it
        if rtype.plural != "serviceaccounts" and _comparable(current) != _comparable(obj):
            self.log.warning(f"could not restore, {rtype.kind}:{meta['name']} already exists. Warning: the "
                             f"in-cluster version is different than the backed-up version",
                             namespace=meta.get("namespace"), scope="cluster")
            self._outcome(rtype.api_version(), rtype.kind, where, "failed")
        else:
            self._outcome(rtype.api_version(), rtype.kind, where, "skipped")
        return current

    # -- volume data ------------------------------------------------------------------
    def _restore_pv_from_snapshot(self, item, snap, claim_key, mapping):
        """Velero's pvRestorer: the PV object is created only once the volume
        snapshotter has made its volume from the snapshot; if that fails the
        PV is not restored and its claim stays Pending."""
        source = item["name"]
        name = source if self.store.get("", "persistentvolumes", None, source) is None \
            else f"velero-clone-{uuid.uuid4()}"
        target = volume_dir(self.cluster, name)
        target.mkdir(parents=True, exist_ok=True)
        where = f"persistentvolume {source}"
        if not self._write_snapshot(snap, target, where):
            shutil.rmtree(target, ignore_errors=True)
            self.volumes_from_snapshots[claim_key] = name     # the claim waits for a volume that never comes
            return
        obj = copy.deepcopy(item["obj"])
        obj["metadata"]["name"] = name
        claim = obj["spec"]["claimRef"]
        claim["namespace"] = mapping.get(claim["namespace"], claim["namespace"])
        if (obj["spec"].get("csi") or {}).get("volumeHandle"):
            obj["spec"]["csi"]["volumeHandle"] = name
        created = self._restore_one(dict(item, name=name, obj=obj), None)
        if created:
            self.volumes_from_snapshots[claim_key] = name
    def _plan_volumes(self, backup, items, chosen, snapshots, pvbs, mapping):
        claims = {(i["namespace"], i["name"]): i["obj"] for i in chosen
                  if i["group_resource"] == "persistentvolumeclaims"}
        pods = {(i["namespace"], i["name"]): i["obj"] for i in items if i["group_resource"] == "pods"}
        by_volume = {s["spec"]["persistentVolumeName"]: s for s in snapshots
                     if (s.get("status") or {}).get("phase") == "Completed"}
        for (ns, name), pvc in claims.items():
            if (ns, name) in self.volumes_from_snapshots:
                continue        # its PV came from the snapshot already
            snap = by_volume.get((pvc.get("spec") or {}).get("volumeName"))
            if snap and self.spec.get("restorePVs") is not False:
                self.pending.append({"namespace": mapping.get(ns, ns), "claim": name, "kind": "snapshot",
                                     "snapshot": snap})
        for pvb in pvbs:
            if (pvb.get("status") or {}).get("phase") != "Completed" or not pvb["status"].get("snapshotID"):
                continue        # failed, or an empty volume with no snapshot (Velero skips it too)
            pod_ref = pvb["spec"]["pod"]
            pod = pods.get((pod_ref["namespace"], pod_ref["name"]))
            volume = next((v for v in ((pod or {}).get("spec") or {}).get("volumes") or []
                           if v.get("name") == pvb["spec"]["volume"] and v.get("persistentVolumeClaim")), None)
            if volume is None:
                continue
            key = (pod_ref["namespace"], volume["persistentVolumeClaim"]["claimName"])
            if key in claims:
                self.pending.append({"namespace": mapping.get(key[0], key[0]), "claim": key[1], "kind": "fs",
                                     "pvb": pvb, "source_namespace": key[0]})

    def continue_volumes(self):
        """Write the data of every claim that is bound now. True when done."""
        waiting = []
        for entry in self.pending:
            pvc = self.store.get("", "persistentvolumeclaims", entry["namespace"], entry["claim"])
            where = f"{entry['namespace']}/{entry['claim']}"
            if pvc is None:
                self.log.error(f"persistentvolumeclaim {where} is gone; its data was not restored",
                               namespace=entry["namespace"])
                continue
            pv_name = (pvc.get("spec") or {}).get("volumeName")
            if (pvc.get("status") or {}).get("phase") != "Bound" or not pv_name:
                waiting.append(entry)
                continue
            self._write_volume(entry, pv_name, where)
        self.pending = waiting
        if waiting and time.monotonic() < self.deadline:
            return False
        for entry in waiting:
            self.log.error(f"timed out waiting for persistentvolumeclaim {entry['namespace']}/{entry['claim']} "
                           f"to be bound; its data was not restored", namespace=entry["namespace"])
        self._finish()
        return True

    def _write_volume(self, entry, pv_name, where):
        target = volume_dir(self.cluster, pv_name)
        target.mkdir(parents=True, exist_ok=True)
        try:
            if entry["kind"] == "snapshot":
                self._write_snapshot(entry["snapshot"], target, where)
            else:
                pvb = entry["pvb"]
                storage, layout = bsl_storage(self.store, self.bsl)
                uploader = pvb["spec"].get("uploaderType") or "restic"
                repo = open_repository(self.cluster, self.bsl, entry["source_namespace"], storage, layout,
                                       uploader, create=False)
                started = kube.stamp(self.cluster)
                repo.restore(pvb["status"]["snapshotID"], target)
                self._done_file(target)
                self._pod_volume_restore(entry, pvb, uploader, started)
                self.log.info(f"Restored {uploader} snapshot {pvb['status']['snapshotID']} into {where}")
                self.volume_infos.append({
                    "pvcName": entry["claim"], "pvcNamespace": entry["namespace"], "pvName": pv_name,
                    "restoreMethod": "PodVolumeRestore", "snapshotDataMoved": False,
                    "pvrInfo": {"snapshotHandle": pvb["status"]["snapshotID"],
                                "size": (pvb["status"].get("progress") or {}).get("totalBytes") or 0,
                                "uploaderType": uploader, "volumeName": pvb["spec"]["volume"],
                                "podName": pvb["spec"]["pod"]["name"], "podNamespace": entry["namespace"],
                                "Phase": ""}})
        except VOLUME_DATA_ERRORS as exc:
            self.log.error(f"error restoring volume data of {where}: {exc}", namespace=entry["namespace"])

    def _done_file(self, target):
        """node-agent's done file, `.velero/<restore uid>` in the volume, that the
        pod's restore-wait init container waits for (pod_volume_restore_controller.go).
        The helper then removes `.velero`; from Velero 1.16 it runs as non-root and
        cannot (vmware-tanzu/velero#8973), so the directory stays in the volume."""
        marks = target / ".velero"
        shutil.rmtree(marks, ignore_errors=True)
        if kube.release(self.cluster) >= (1, 16):
            marks.mkdir(mode=0o755)
            (marks / self.restore["metadata"]["uid"]).write_bytes(b"")

    def _pod_volume_restore(self, entry, pvb, uploader, started):
        """The PodVolumeRestore Velero makes for a restored pod's volume and
        node-agent completes (pkg/podvolume/restorer.go), as it ends up."""
        pod = self.store.get("", "pods", entry["namespace"], pvb["spec"]["pod"]["name"]) or {"metadata": {}}
        claim = self.store.get("", "persistentvolumeclaims", entry["namespace"], entry["claim"]) or {"metadata": {}}
        restore_uid = self.restore["metadata"]["uid"]
        total = ((pvb.get("status") or {}).get("progress") or {}).get("totalBytes") or 0
        pvr = {"apiVersion": kube.API_VERSION, "kind": "PodVolumeRestore",
               "metadata": {"generateName": f"{self.name}-", "namespace": kube.NAMESPACE,
                            "labels": {"velero.io/pod-uid": pod["metadata"].get("uid", ""),
                                       "velero.io/pvc-uid": claim["metadata"].get("uid", ""),
                                       kube.LABEL_RESTORE_NAME: self.name, "velero.io/restore-uid": restore_uid},
                            "ownerReferences": [{"apiVersion": kube.API_VERSION, "kind": "Restore", "name": self.name,
                                                 "uid": restore_uid, "controller": True}]},
               "spec": {"backupStorageLocation": pvb["spec"]["backupStorageLocation"],
                        "pod": {"kind": "Pod", "name": pvb["spec"]["pod"]["name"], "namespace": entry["namespace"],
                                "uid": pod["metadata"].get("uid", "")},
                        "repoIdentifier": pvb["spec"].get("repoIdentifier", ""),
                        "snapshotID": pvb["status"]["snapshotID"], "sourceNamespace": entry["source_namespace"],
                        "uploaderType": uploader, "volume": pvb["spec"]["volume"]},
               "status": {"phase": "Completed", "startTimestamp": started,
                          "completionTimestamp": kube.stamp(self.cluster),
                          "progress": {"bytesDone": total, "totalBytes": total}}}
        self.store.create(kube.GROUP, "podvolumerestores", pvr)

    def _write_snapshot(self, snap, target, where):
        """Replay a cStor snapshot (chain) into target; False (logged) on failure."""
        snap_id = snap["status"]["providerSnapshotID"]
        try:
            vsl = kube.get_velero(self.store, "volumesnapshotlocations", snap["spec"]["location"])
            if vsl is None:
                raise LocationError(f"volume snapshot location {snap['spec']['location']} not found")
            storage, layout = vsl_storage(self.store, vsl)
            size = SnapshotChains.from_config(storage, layout, vsl_config(vsl)).restore(snap_id, target)
        except VOLUME_DATA_ERRORS as exc:
            self.log.error(f"error restoring volume data of {where} from snapshot {snap_id}: {exc}",
                           scope="cluster")
            return False
        self.log.info(f"Restored snapshot {snap_id} into {where} ({size} bytes)")
        return True

    def _finish(self, phase=None, failure=None):
        if phase is None:
            phase = "PartiallyFailed" if self.log.error_count() else "Completed"
        if self.bsl is not None:
            try:
                storage, layout = bsl_storage(self.store, self.bsl)
                storage.put(layout.restore_log(self.name), self.log.log_gz())
                storage.put(layout.restore_results(self.name), self.log.results_gz())
                storage.put(layout.restore_resource_list(self.name),
                            gzip_json({k: sorted(v) for k, v in sorted(self.outcomes.items())}))
                storage.put(layout.restore_item_operations(self.name), gzip_json([]))
                storage.put(layout.restore_volume_info(self.name), gzip_json(self.volume_infos or None))
            except (StorageError, LocationError) as exc:
                self.log.warning(f"error uploading restore log and results: {exc}")
        kube.set_status(self.store, PLURAL, self.restore, phase=phase, failureReason=failure,
                        completionTimestamp=kube.stamp(self.cluster),
                        errors=self.log.error_count() or None, warnings=self.log.warning_count() or None,
                        progress={"totalItems": self.total, "itemsRestored": self.items_restored()})


def _crd_group_resource(crd):
    spec = crd.get("spec") or {}
    return f"{(spec.get('names') or {}).get('plural')}.{spec.get('group')}"
