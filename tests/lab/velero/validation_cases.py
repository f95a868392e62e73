"""Bad and good Backup and Restore specs with the status.validationErrors
Velero 1.16.2 gives them, for the lab's contract test
(test_velero_validation.py) and for a differential test against real Velero.

Every expected message is taken from Velero v1.16.2's source:
  B  pkg/controller/backup_controller.go (prepareBackupRequest,
     validateAndGetSnapshotLocations)
  R  pkg/controller/restore_controller.go (validateAndComplete)
  C  pkg/util/collections/includes_excludes.go (ValidateIncludesExcludes,
     ValidateNamespaceIncludesExcludes, ValidateScopedIncludesExcludes)
  K  k8s.io/apimachinery v0.31.3 pkg/util/validation (IsDNS1123Label)
  P  internal/resourcepolicies/resource_policies.go, volume_resources_validator.go
  V  internal/volume/snapshotlocation.go, internal/credentials/file_store.go,
     pkg/util/kube/secrets.go
"NotFound" texts are those of Velero's client, which reads through a
controller-runtime informer cache (controller-runtime v0.19.3
pkg/cache/internal/cache_reader.go): `Kind.group "name" not found`.

A row is a plain dict:
  name             what it checks (unique per kind)
  kind             "Backup" or "Restore"
  spec             the object's spec
  expected_errors  status.validationErrors, in Velero's order ([]: the
                   object passes validation)
  expected_phase   optional: the phase the object must reach (default
                   FailedValidation with errors; with none, any phase but
                   FailedValidation once it has one)
  expected_spec    optional: fields the controller writes into the spec
                   (compared key by key)
and what it needs first (all optional), each made before the object:
  location         "available" | "read-only" | "unavailable" |
                   "read-only-unavailable": a BSL named {location} (unavailable:
                   its bucket does not exist, and the test waits until Velero says so)
  location_default True: that BSL is spec.default
  namespaces       {key: {"labels": {...}}}: namespaces named {key}
  snapshot_locations {key: VSL spec}: VolumeSnapshotLocations named {key}
  configmaps       {key: {"data": {...}}}: ConfigMaps in Velero's namespace
  backups          {key: {"spec": ..., "labels": ..., "phase": P}}: Backups
                   named {key}, each waited for until it reaches phase P
Every string (spec, setup, expectations) may hold {placeholders}, each a
name the runner of the rows makes unique per row (str.format_map): {name}
is the object under test, {location} the BSL, a key of namespaces,
snapshot_locations, configmaps or backups that object, any other one just a
name (e.g. a schedule's). The rows assume a cluster with no BSL named
"default" or marked default, no VolumeSnapshotLocation and no namespace
labelled velero.io/exclude-from-backup but the rows' own: remove what a
row made before the next (the lab's test runs them on a cluster of their own).
"""

CSTOR = "openebs.io/cstor-blockstore"
NOT_SPECIFIED = ("an existing backup storage location was not specified at backup creation time and the {who} "
                 "{bsl} {missing}. Please address this issue (see `velero backup-location -h` for options) and "
                 "create a new backup. Error: BackupStorageLocation.velero.io \"{bsl}\" not found")
OLD_AND_NEW_FILTERS = (
    "include-resources, exclude-resources and include-cluster-resources are old filter parameters.\n"
    "include-cluster-scoped-resources, exclude-cluster-scoped-resources, include-namespace-scoped-resources and "
    "exclude-namespace-scoped-resources are new filter parameters.\n"
    "They cannot be used together")
INCLUDES_STAR_ONLY = "includes list must either contain '*' only, or a non-empty list of items"
DNS1123_LABEL_ERROR = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
                       "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used "
                       "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
NON_RESTORABLE = ["nodes", "events", "events.events.k8s.io", "backups.velero.io", "restores.velero.io",
                  "resticrepositories.velero.io", "csinodes.storage.k8s.io", "volumeattachments.storage.k8s.io",
                  "backuprepositories.velero.io"]
GOOD_POLICY = ("version: v1\nvolumePolicies:\n- conditions:\n    storageClass:\n    - gp2\n"
               "  action:\n    type: skip\n")
EMPTY_NAMESPACE = {"ns": {}}        # a namespace for backups that must complete quickly
COMPLETED_BACKUP = {"namespaces": EMPTY_NAMESPACE, "location": "available",
                    "backups": {"bk": {"spec": {"includedNamespaces": ["{ns}"], "storageLocation": "{location}"},
                                       "phase": "Completed"}}}


def resource_lists(message):
    return f"Invalid included/excluded resource lists: {message}"


def namespace_lists(message):
    return f"Invalid included/excluded namespace lists: {message}"


def in_both(item):
    return f"excludes list cannot contain an item in the includes list: {item}"


def backup(name, spec, expected_errors, **setup):
    """A Backup row; with no location asked for, one that is available."""
    setup.setdefault("location", "available")
    if setup["location"] is None:
        del setup["location"]
    return {"name": name, "kind": "Backup", "spec": spec, "expected_errors": expected_errors, **setup}


def restore(name, spec, expected_errors, **setup):
    return {"name": name, "kind": "Restore", "spec": spec, "expected_errors": expected_errors, **setup}


IN_NS = {"includedNamespaces": ["{ns}"], "storageLocation": "{location}"}     # a small backup of one namespace

BACKUP_CASES = [
    # -- the storage location (B prepareBackupRequest) ------------------------------
    backup("location-named-missing", {"includedNamespaces": ["{ns}"], "storageLocation": "nowhere"},
           [NOT_SPECIFIED.format(who="default", bsl="nowhere", missing="was not found")],
           location=None, namespaces=EMPTY_NAMESPACE, expected_spec={"storageLocation": "nowhere"}),
    backup("location-server-default-missing", {"includedNamespaces": ["{ns}"]},
           [NOT_SPECIFIED.format(who="server default", bsl="default", missing="does not exist")],
           location=None, namespaces=EMPTY_NAMESPACE, expected_spec={"storageLocation": "default"}),
    backup("location-read-only", IN_NS,
           ["backup can't be created because backup storage location {location} is currently in read-only mode"],
           location="read-only", namespaces=EMPTY_NAMESPACE),
    backup("location-unavailable", IN_NS,
           ["backup can't be created because BackupStorageLocation {location} is in Unavailable status. please "
            "create a new backup after the BSL becomes available"],
           location="unavailable", namespaces=EMPTY_NAMESPACE),
    backup("location-read-only-and-unavailable", IN_NS,
           ["backup can't be created because backup storage location {location} is currently in read-only mode",
            "backup can't be created because BackupStorageLocation {location} is in Unavailable status. please "
            "create a new backup after the BSL becomes available"],
           location="read-only-unavailable", namespaces=EMPTY_NAMESPACE),
    # -- volume snapshot locations (B validateAndGetSnapshotLocations; V) ---------------
    backup("snapshot-location-named-missing", dict(IN_NS, volumeSnapshotLocations=["no-such-vsl"]),
           ["a VolumeSnapshotLocation CRD for the location no-such-vsl with the name specified in the backup spec "
            "needs to be created before this snapshot can be executed. Error: VolumeSnapshotLocation.velero.io "
            "\"no-such-vsl\" not found"],
           namespaces=EMPTY_NAMESPACE),
    backup("snapshot-locations-two-named-for-one-provider", dict(IN_NS, volumeSnapshotLocations=["{vsl1}", "{vsl2}"]),
           [f"more than one VolumeSnapshotLocation name specified for provider {CSTOR}: {{vsl2}}; unexpected name "
            f"was {{vsl1}}"],
           namespaces=EMPTY_NAMESPACE, snapshot_locations={"vsl1": {"provider": CSTOR}, "vsl2": {"provider": CSTOR}}),
    backup("snapshot-locations-two-for-one-provider-none-named", IN_NS,
           [f"provider {CSTOR} has more than one possible volume snapshot location, and none were specified "
            f"explicitly or as a default"],
           namespaces=EMPTY_NAMESPACE, snapshot_locations={"vsl1": {"provider": CSTOR}, "vsl2": {"provider": CSTOR}}),
    backup("snapshot-location-missing-hides-the-provider-check", dict(IN_NS, volumeSnapshotLocations=["no-such-vsl"]),
           ["a VolumeSnapshotLocation CRD for the location no-such-vsl with the name specified in the backup spec "
            "needs to be created before this snapshot can be executed. Error: VolumeSnapshotLocation.velero.io "
            "\"no-such-vsl\" not found"],
           namespaces=EMPTY_NAMESPACE, snapshot_locations={"vsl1": {"provider": CSTOR}, "vsl2": {"provider": CSTOR}}),
    backup("snapshot-location-credential-secret-missing", IN_NS,
           ["error adding credentials to volume snapshot location named {vsl1}: unable to get credentials: unable "
            "to get key for secret: Secret \"no-such-secret\" not found"],
           namespaces=EMPTY_NAMESPACE,
           snapshot_locations={"vsl1": {"provider": CSTOR, "credential": {"name": "no-such-secret", "key": "cloud"}}}),
    # -- old and new resource filters (B) -------------------------------------------------
    backup("old-and-new-resource-filters", dict(IN_NS, includedResources=["configmaps"],
                                                includedNamespaceScopedResources=["secrets"]),
           [OLD_AND_NEW_FILTERS], namespaces=EMPTY_NAMESPACE),
    backup("include-cluster-resources-with-new-filters", dict(IN_NS, includeClusterResources=False,
                                                              excludedClusterScopedResources=["storageclasses"]),
           [OLD_AND_NEW_FILTERS], namespaces=EMPTY_NAMESPACE),
    # -- included/excluded resources (B; C ValidateIncludesExcludes) ---------------------------
    backup("resources-star-with-others", dict(IN_NS, includedResources=["*", "configmaps"]),
           [resource_lists(INCLUDES_STAR_ONLY)], namespaces=EMPTY_NAMESPACE),
    backup("resources-exclude-star", dict(IN_NS, excludedResources=["*"]),
           [resource_lists("excludes list cannot contain '*'")], namespaces=EMPTY_NAMESPACE),
    backup("resources-in-both-lists", dict(IN_NS, includedResources=["secrets", "configmaps"],
                                           excludedResources=["secrets", "configmaps"]),
           [resource_lists(in_both("configmaps")), resource_lists(in_both("secrets"))], namespaces=EMPTY_NAMESPACE),
    backup("resources-every-rule", dict(IN_NS, includedResources=["pods", "*", "pods"],
                                        excludedResources=["pods", "*"]),
           [resource_lists(INCLUDES_STAR_ONLY), resource_lists("excludes list cannot contain '*'"),
            resource_lists(in_both("*")), resource_lists(in_both("pods"))], namespaces=EMPTY_NAMESPACE),
    # -- cluster- and namespace-scoped resources (B; C ValidateScopedIncludesExcludes) ---------
    backup("cluster-scoped-star-with-others", dict(IN_NS, includedClusterScopedResources=["*", "storageclasses"]),
           [f"Invalid cluster-scoped included/excluded resource lists: {INCLUDES_STAR_ONLY}"],
           namespaces=EMPTY_NAMESPACE),
    backup("cluster-scoped-exclude-star-with-includes", dict(IN_NS, includedClusterScopedResources=["storageclasses"],
                                                             excludedClusterScopedResources=["*"]),
           ["Invalid cluster-scoped included/excluded resource lists: when exclude is '*', include cannot have value"],
           namespaces=EMPTY_NAMESPACE),
    backup("namespace-scoped-exclude-star-with-others", dict(IN_NS, excludedNamespaceScopedResources=["*", "pods"]),
           ["Invalid namespace-scoped included/excluded resource lists: excludes list must either contain '*' only, "
            "or a non-empty list of items"],
           namespaces=EMPTY_NAMESPACE),
    backup("namespace-scoped-in-both-lists", dict(IN_NS, includedNamespaceScopedResources=["pods"],
                                                  excludedNamespaceScopedResources=["pods"]),
           [f"Invalid namespace-scoped included/excluded resource lists: {in_both('pods')}"],
           namespaces=EMPTY_NAMESPACE),
    # -- included/excluded namespaces (B; C ValidateNamespaceIncludesExcludes; K) -------------
    backup("namespaces-star-with-others", {"includedNamespaces": ["*", "{ns}"], "storageLocation": "{location}"},
           [namespace_lists(INCLUDES_STAR_ONLY)], namespaces=EMPTY_NAMESPACE),
    backup("namespaces-exclude-star", {"excludedNamespaces": ["*"], "storageLocation": "{location}"},
           [namespace_lists("excludes list cannot contain '*'")]),
    backup("namespaces-in-both-lists", dict(IN_NS, excludedNamespaces=["{ns}"]),
           [namespace_lists(in_both("{ns}"))], namespaces=EMPTY_NAMESPACE),
    backup("namespace-names", {"includedNamespaces": ["a.b", "Team-A", "ok-*", ""],
                               "excludedNamespaces": ["-bad", "x" * 64], "storageLocation": "{location}"},
           [namespace_lists(f'invalid namespace "Team-A": {DNS1123_LABEL_ERROR}'),
            namespace_lists('invalid namespace "a.b": must not contain dots'),
            namespace_lists(f'invalid namespace "-bad": {DNS1123_LABEL_ERROR}'),
            namespace_lists(f'invalid namespace "{"x" * 64}": must be no more than 63 characters')]),
    backup("namespace-labelled-exclude-from-backup-included", IN_NS,
           [namespace_lists(in_both("{ns}"))],
           namespaces={"ns": {"labels": {"velero.io/exclude-from-backup": "true"}}}),
    # -- label selectors (B) -------------------------------------------------------------------------
    backup("label-selector-and-or-label-selectors", dict(IN_NS, labelSelector={"matchLabels": {"app": "a"}},
                                                         orLabelSelectors=[{"matchLabels": {"app": "b"}}]),
           ["encountered labelSelector as well as orLabelSelectors in backup spec, only one can be specified"],
           namespaces=EMPTY_NAMESPACE),
    # -- resource policies (B; P GetResourcePoliciesFromBackup) --------------------------------------
    backup("resource-policy-configmap-missing",
           dict(IN_NS, resourcePolicy={"kind": "configmap", "name": "no-such-policy"}),
           ["fail to get ResourcePolicies velero/no-such-policy ConfigMap with error ConfigMap \"no-such-policy\" "
            "not found"],
           namespaces=EMPTY_NAMESPACE),
    backup("resource-policy-kind-any-case", dict(IN_NS, resourcePolicy={"kind": "ConfigMap", "name": "no-such-policy"}),
           ["fail to get ResourcePolicies velero/no-such-policy ConfigMap with error ConfigMap \"no-such-policy\" "
            "not found"],
           namespaces=EMPTY_NAMESPACE),
    backup("resource-policy-two-documents", dict(IN_NS, resourcePolicy={"kind": "configmap", "name": "{cm}"}),
           ["fail to read the ResourcePolicies from ConfigMap velero/{name} with error illegal resource policies "
            "velero/{cm} configmap"],
           namespaces=EMPTY_NAMESPACE, configmaps={"cm": {"data": {"a.yaml": GOOD_POLICY, "b.yaml": GOOD_POLICY}}}),
    backup("resource-policy-unknown-field", dict(IN_NS, resourcePolicy={"kind": "configmap", "name": "{cm}"}),
           ["fail to read the ResourcePolicies from ConfigMap velero/{name} with error failed to decode yaml data "
            "into resource policies  yaml: unmarshal errors:\n  line 2: field volumePolicy not found in type "
            "resourcepolicies.ResourcePolicies"],
           namespaces=EMPTY_NAMESPACE, configmaps={"cm": {"data": {"policy.yaml": "version: v1\nvolumePolicy: []\n"}}}),
    backup("resource-policy-version", dict(IN_NS, resourcePolicy={"kind": "configmap", "name": "{cm}"}),
           ["fail to validate ResourcePolicies in ConfigMap velero/{name} with error incompatible version number v2 "
            "with supported version v1"],
           namespaces=EMPTY_NAMESPACE,
           configmaps={"cm": {"data": {"policy.yaml": "version: v2\nvolumePolicies: []\n"}}}),
    backup("resource-policy-action-type", dict(IN_NS, resourcePolicy={"kind": "configmap", "name": "{cm}"}),
           ["fail to validate ResourcePolicies in ConfigMap velero/{name} with error invalid action type copy"],
           namespaces=EMPTY_NAMESPACE,
           configmaps={"cm": {"data": {"policy.yaml": GOOD_POLICY.replace("type: skip", "type: copy")}}}),
    # -- errors add up, in Velero's order --------------------------------------------------------------
    backup("every-kind-of-error-in-order",
           {"storageLocation": "{location}", "volumeSnapshotLocations": ["no-such-vsl"],
            "includedResources": ["*", "pods"], "includedClusterScopedResources": ["*", "nodes"],
            "excludedNamespaceScopedResources": ["*", "pods"], "includedNamespaces": ["{ns}"],
            "excludedNamespaces": ["{ns}"], "labelSelector": {}, "orLabelSelectors": [],
            "resourcePolicy": {"kind": "configmap", "name": "no-such-policy"}},
           ["backup can't be created because backup storage location {location} is currently in read-only mode",
            "a VolumeSnapshotLocation CRD for the location no-such-vsl with the name specified in the backup spec "
            "needs to be created before this snapshot can be executed. Error: VolumeSnapshotLocation.velero.io "
            "\"no-such-vsl\" not found",
            OLD_AND_NEW_FILTERS,
            resource_lists(INCLUDES_STAR_ONLY),
            f"Invalid cluster-scoped included/excluded resource lists: {INCLUDES_STAR_ONLY}",
            "Invalid namespace-scoped included/excluded resource lists: excludes list must either contain '*' only, "
            "or a non-empty list of items",
            namespace_lists(in_both("{ns}")),
            "encountered labelSelector as well as orLabelSelectors in backup spec, only one can be specified",
            "fail to get ResourcePolicies velero/no-such-policy ConfigMap with error ConfigMap \"no-such-policy\" "
            "not found"],
           location="read-only", namespaces=EMPTY_NAMESPACE),
]

GOOD_BACKUP_CASES = [
    backup("good-one-namespace", IN_NS, [], namespaces=EMPTY_NAMESPACE, expected_phase="Completed",
           expected_spec={"storageLocation": "{location}", "ttl": "720h0m0s"}),
    backup("good-marked-default-location", {"includedNamespaces": ["{ns}"]}, [], location_default=True,
           namespaces=EMPTY_NAMESPACE, expected_phase="Completed", expected_spec={"storageLocation": "{location}"}),
    backup("good-zero-ttl-means-default", dict(IN_NS, ttl="0s"), [], namespaces=EMPTY_NAMESPACE,
           expected_spec={"ttl": "720h0m0s"}),
    backup("good-ttl-kept", dict(IN_NS, ttl="1.5h"), [], namespaces=EMPTY_NAMESPACE, expected_spec={"ttl": "1.5h"}),
    # passes validation, but Velero 1.16 does not expand a pattern in includedNamespaces: it lists the
    # items of a namespace named "{ns}*", and logs an error as no namespace has that name
    # (item_collector.go collectNamespaces): PartiallyFailed, found by the real-stack differential test
    backup("good-namespace-wildcard", {"includedNamespaces": ["{ns}*"], "storageLocation": "{location}"}, [],
           namespaces=EMPTY_NAMESPACE, expected_phase="PartiallyFailed"),
    backup("good-new-style-filters", dict(IN_NS, includedNamespaceScopedResources=["configmaps"],
                                          includedClusterScopedResources=["storageclasses"]), [],
           namespaces=EMPTY_NAMESPACE),
    backup("good-new-style-exclude-every-namespaced-type", dict(IN_NS, excludedNamespaceScopedResources=["*"]), [],
           namespaces=EMPTY_NAMESPACE),
    backup("good-include-cluster-resources-alone", dict(IN_NS, includeClusterResources=False), [],
           namespaces=EMPTY_NAMESPACE),
    backup("good-labelled-namespace-excluded", dict(IN_NS, excludedNamespaces=["other"]), [],
           namespaces={"ns": {}, "quiet": {"labels": {"velero.io/exclude-from-backup": "true"}}},
           expected_spec={"excludedNamespaces": ["other", "{quiet}"]}),
    backup("good-one-snapshot-location-named-of-two", dict(IN_NS, volumeSnapshotLocations=["{vsl2}"]), [],
           namespaces=EMPTY_NAMESPACE, snapshot_locations={"vsl1": {"provider": CSTOR}, "vsl2": {"provider": CSTOR}},
           expected_spec={"volumeSnapshotLocations": ["{vsl2}"]}),
    backup("good-same-snapshot-location-named-twice", dict(IN_NS, volumeSnapshotLocations=["{vsl1}", "{vsl1}"]), [],
           namespaces=EMPTY_NAMESPACE, snapshot_locations={"vsl1": {"provider": CSTOR}},
           expected_spec={"volumeSnapshotLocations": ["{vsl1}"]}),
    backup("good-only-snapshot-location-of-its-provider-used", IN_NS, [], namespaces=EMPTY_NAMESPACE,
           snapshot_locations={"vsl1": {"provider": CSTOR}}, expected_spec={"volumeSnapshotLocations": ["{vsl1}"]}),
    backup("good-resource-policy", dict(IN_NS, resourcePolicy={"kind": "configmap", "name": "{cm}"}), [],
           namespaces=EMPTY_NAMESPACE, configmaps={"cm": {"data": {"policy.yaml": GOOD_POLICY}}}),
    backup("good-resource-policy-other-kind-ignored", dict(IN_NS, resourcePolicy={"kind": "Secret", "name": "x"}), [],
           namespaces=EMPTY_NAMESPACE),
]

# A ttl that Go's time.ParseDuration refuses: Velero's client cannot decode the
# Backup (metav1.Duration), so no controller processes it and it keeps no
# phase. On real Velero the Backup informer then fails to list until the
# object is gone, which stalls every other Backup too: delete it at once.
UNDECODABLE_BACKUP_CASES = [
    backup("ttl-not-a-go-duration", dict(IN_NS, ttl="3 days"), None, namespaces=EMPTY_NAMESPACE, expected_phase=""),
    backup("ttl-empty-string", dict(IN_NS, ttl=""), None, namespaces=EMPTY_NAMESPACE, expected_phase=""),
]

RESTORE_CASES = [
    # -- the source (R) ---------------------------------------------------------------------------
    restore("no-backup-and-no-schedule", {},
            ["Either a backup or schedule must be specified as a source for the restore, but not both"]),
    restore("backup-and-schedule", {"backupName": "a", "scheduleName": "b"},
            ["Either a backup or schedule must be specified as a source for the restore, but not both"]),
    restore("backup-missing", {"backupName": "no-such-backup"},
            ["Error retrieving backup: can't find backup velero/no-such-backup: Backup.velero.io \"no-such-backup\" "
             "not found"]),
    restore("schedule-without-backups", {"scheduleName": "no-such-schedule"},
            ["No backups found for schedule", "No completed backups found for schedule"]),
    restore("schedule-without-completed-backup", {"scheduleName": "{sched}"},
            ["No completed backups found for schedule"],
            backups={"bk": {"spec": {"storageLocation": "nowhere"}, "labels": {"velero.io/schedule-name": "{sched}"},
                            "phase": "FailedValidation"}}),
    restore("backup-location-missing", {"backupName": "{bk}"},
            ["Error retrieving backup: BackupStorageLocation.velero.io \"nowhere\" not found"],
            backups={"bk": {"spec": {"storageLocation": "nowhere"}, "phase": "FailedValidation"}}),
    restore("backup-location-unavailable", {"backupName": "{bk}"},
            ["the BSL {location} is unavailable, cannot retrieve the backup. please retry the restore after the BSL "
             "becomes available"],
            location="unavailable",
            backups={"bk": {"spec": {"storageLocation": "{location}"}, "phase": "FailedValidation"}}),
    # -- resources and namespaces (R; C ValidateIncludesExcludes) -----------------------------------
    restore("non-restorable-resources-included", {"backupName": "{bk}",
                                                  "includedResources": ["nodes", "backups.velero.io"]},
            ["nodes are non-restorable resources", "backups.velero.io are non-restorable resources",
             resource_lists(in_both("backups.velero.io")), resource_lists(in_both("nodes"))],
            **COMPLETED_BACKUP),
    restore("resources-star-with-others", {"backupName": "{bk}", "includedResources": ["*", "pods"]},
            [resource_lists(INCLUDES_STAR_ONLY)], **COMPLETED_BACKUP),
    restore("resources-exclude-star", {"backupName": "{bk}", "excludedResources": ["*"]},
            [resource_lists("excludes list cannot contain '*'")], **COMPLETED_BACKUP),
    restore("resources-in-both-lists", {"backupName": "{bk}", "includedResources": ["secrets"],
                                        "excludedResources": ["secrets"]},
            [resource_lists(in_both("secrets"))], **COMPLETED_BACKUP),
    restore("namespaces-in-both-lists", {"backupName": "{bk}", "includedNamespaces": ["a", "*"],
                                         "excludedNamespaces": ["a"]},
            [namespace_lists(INCLUDES_STAR_ONLY), namespace_lists(in_both("a"))], **COMPLETED_BACKUP),
    restore("label-selector-and-or-label-selectors", {"backupName": "{bk}",
                                                      "labelSelector": {"matchLabels": {"a": "b"}},
                                                      "orLabelSelectors": [{"matchLabels": {"c": "d"}}]},
            ["encountered labelSelector as well as orLabelSelectors in restore spec, only one can be specified"],
            **COMPLETED_BACKUP),
    # -- existingResourcePolicy (R; pkg/util/velero/restore/util.go IsResourcePolicyValid) ----------
    restore("existing-resource-policy-unknown", {"backupName": "{bk}", "existingResourcePolicy": "overwrite"},
            ["Invalid ExistingResourcePolicy: overwrite"], **COMPLETED_BACKUP),
    restore("existing-resource-policy-not-checked-without-source", {"existingResourcePolicy": "overwrite"},
            ["Either a backup or schedule must be specified as a source for the restore, but not both"]),
    # -- resource modifiers (R) -------------------------------------------------------------------------
    restore("resource-modifier-configmap-missing", {"backupName": "{bk}", "resourceModifier": {
                "kind": "ConfigMap", "name": "no-such-modifiers"}},
            ["failed to get resource modifiers configmap velero/no-such-modifiers"], **COMPLETED_BACKUP),
    # -- errors add up, in Velero's order ----------------------------------------------------------------
    restore("every-kind-of-error-in-order", {"backupName": "no-such-backup", "includedResources": ["nodes", "*"],
                                             "excludedNamespaces": ["*"], "labelSelector": {}, "orLabelSelectors": [],
                                             "existingResourcePolicy": "merge"},
            ["nodes are non-restorable resources", resource_lists(INCLUDES_STAR_ONLY),
             resource_lists(in_both("nodes")), namespace_lists("excludes list cannot contain '*'"),
             "encountered labelSelector as well as orLabelSelectors in restore spec, only one can be specified",
             "Invalid ExistingResourcePolicy: merge",
             "Error retrieving backup: can't find backup velero/no-such-backup: Backup.velero.io \"no-such-backup\" "
             "not found"]),
]

GOOD_RESTORE_CASES = [
    restore("good-from-backup", {"backupName": "{bk}"}, [], expected_phase="Completed",
            expected_spec={"excludedResources": NON_RESTORABLE}, **COMPLETED_BACKUP),
    restore("good-excluded-resources-kept-first", {"backupName": "{bk}", "excludedResources": ["secrets", "events"]},
            [], expected_spec={"excludedResources": ["secrets", "events"]
                                                    + [r for r in NON_RESTORABLE if r != "events"]},
            **COMPLETED_BACKUP),
    restore("good-from-schedule-latest-completed", {"scheduleName": "{sched}"}, [], expected_phase="Completed",
            expected_spec={"backupName": "{bk}", "scheduleName": "{sched}"},
            namespaces=EMPTY_NAMESPACE, location="available",
            backups={"bad": {"spec": {"storageLocation": "nowhere"}, "labels": {"velero.io/schedule-name": "{sched}"},
                             "phase": "FailedValidation"},
                     "bk": {"spec": {"includedNamespaces": ["{ns}"], "storageLocation": "{location}"},
                            "labels": {"velero.io/schedule-name": "{sched}"}, "phase": "Completed"}}),
    restore("good-schedule-name-filled-from-backup", {"backupName": "{bk}"}, [],
            expected_spec={"scheduleName": "{sched}"}, namespaces=EMPTY_NAMESPACE, location="available",
            backups={"bk": {"spec": {"includedNamespaces": ["{ns}"], "storageLocation": "{location}"},
                            "labels": {"velero.io/schedule-name": "{sched}"}, "phase": "Completed"}}),
    restore("good-namespace-names-not-checked", {"backupName": "{bk}", "includedNamespaces": ["Not_A_Namespace"]}, [],
            **COMPLETED_BACKUP),
    restore("good-namespace-mapping-not-checked", {"backupName": "{bk}", "namespaceMapping": {"A": "b_c"}}, [],
            **COMPLETED_BACKUP),
    restore("good-non-restorable-by-short-name", {"backupName": "{bk}", "includedResources": ["backups"]}, [],
            **COMPLETED_BACKUP),
    restore("good-existing-resource-policy-update", {"backupName": "{bk}", "existingResourcePolicy": "update"}, [],
            **COMPLETED_BACKUP),
    restore("good-existing-resource-policy-none", {"backupName": "{bk}", "existingResourcePolicy": "none"}, [],
            **COMPLETED_BACKUP),
    # Velero's controller does not ask for a Completed or PartiallyFailed backup (only
    # `velero restore create` does): this one passes validation and fails reading the backup
    restore("backup-not-completed-is-not-a-validation-error", {"backupName": "{bk}"}, [], expected_phase="Failed",
            location="read-only", namespaces=EMPTY_NAMESPACE,
            backups={"bk": {"spec": {"includedNamespaces": ["{ns}"], "storageLocation": "{location}"},
                            "phase": "FailedValidation"}}),
]
