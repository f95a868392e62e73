"""Each TCID's oracle can fail: a copy of its feature is mutated so that the
thing the scenario guards is broken (a secret not excluded, an ingress kept,
a location missing a copy, retention keeping N+1, ...), run with behave on the
lab, and the scenario must fail at the oracle's step with a reason naming
what was wrong. Set-up steps before that step must pass, so the failure is
the oracle's. Durations are shortened and engines swapped for cStor (the
cheapest) wherever the oracle does not depend on them."""
import pytest

pytestmark = pytest.mark.e2e

SCHD = "generated/tcid-dir-dmaas-schd-cstor-minio-bucket.feature"
SCHD_ALL = [f"generated/tcid-dir-dmaas-schd-{engine}-{bucket}-bucket.feature"
            for engine in ("cstor", "jiva", "local-dev", "local-hp") for bucket in ("minio", "aws")]
SOAK_ALL = [f"generated/tcid-dir-dmaas-schd-soak-{app}.feature"
            for app in ("cassandra", "kafka", "mysql", "wordpress", "nginx", "percona")]
NEW_SEPARATE_LOCATION = 'When the "minio" bucket is a backup location on cluster "separate"'


def test_harness_passes_an_unmutated_feature(run_feature):
    run_feature("psp.feature").assert_passed()


def test_a_substitution_must_match_exactly_once(mutate):
    assert mutate("a b c", [("b", "x")], "f") == "a x c"
    with pytest.raises(AssertionError, match="expected exactly one 'z', found 0"):
        mutate("a b c", [("z", "x")], "f")
    with pytest.raises(AssertionError, match="expected exactly one 'a', found 2"):
        mutate("a b a", [("a", "x")], "f")


# ------------------------------------------------------------------ single stories

def test_exclude_secret_a_secret_not_excluded(run_feature):
    run = run_feature("exclude_secret.feature", [
        ("      | exclude resources | secrets     |\n", ""),
        ('"local-hp" volumes', '"cstor" volumes'),
        ('"jiva" volumes', '"cstor" volumes'),
    ])
    run.assert_fails_at("no backup in any bucket contains a Secret object", "Secret objects in backups",
                        "planted-credentials")


def test_portal_an_ingress_kept(run_feature):
    run = run_feature("portal.feature", [
        ("      | exclude resources | ingresses.networking.k8s.io             |\n", ""),
        ('"local-dev" volumes', '"cstor" volumes'),
    ])
    run.assert_fails_at("no backup in any location contains an ingress", "ingress")


def test_portal_one_location_missing_a_copy(run_feature):
    run = run_feature("portal.feature", [
        ("| locations         | minio, aws                              |",
         "| locations         | minio                                   |"),
        ('"local-dev" volumes', '"cstor" volumes'),
    ])
    run.assert_fails_at('locations "minio" and "aws" each hold a complete copy', "location aws")


def test_mysql_retention_keeping_n_plus_1(run_feature):
    run = run_feature("mysql.feature", [
        ("| keep last  | 5          |", "| keep last  | 6          |"),
        ('"local-hp" volumes', '"cstor" volumes'),
    ])
    run.assert_fails_at("never had more than 5 backups", "at most 5", "found 6")


def test_cortex_a_missing_capacity_warning(run_feature):
    run = run_feature("cortex.feature", [("quota of 64 KiB", "quota of 512 MiB")], name="not enough space")
    run.assert_fails_at("the team is warned", "no capacity warning", "aws")


def test_cortex_a_warning_where_there_is_space(run_feature):
    run = run_feature("cortex.feature", [("quota of 512 MiB", "quota of 1 KiB")], name="has enough space")
    run.assert_fails_at("the team is not warned", "unexpected capacity warning", "aws")


def test_cortex_an_upload_without_verification(run_feature):
    run = run_feature("cortex.feature", [
        ('    And backup "cortex-2" is verified by a restore',
         '    And backup "cortex-2" is copied to the "aws" bucket without verification\n'
         '    And backup "cortex-2" is verified by a restore'),
    ], name="fails its verification")
    run.assert_fails_at('backup "cortex-2" is not in the "aws" bucket', "cortex-2 is in the aws bucket")


def test_psp_a_target_that_does_not_serve_psp(run_feature):
    run = run_feature("psp.feature", [
        ('a cluster "edge-2" at Kubernetes 1.24.17 with DMaaS 1.16.2',
         'a cluster "edge-2" at Kubernetes 1.33.13 with DMaaS 1.16.2'),
    ], name="restored on several other clusters")
    run.assert_fails_at("every pod security policy", "edge-2", "PodSecurityPolicy")


def test_version_compatibility_an_api_that_is_served(run_feature):
    run = run_feature("version_compatibility_ml.feature", [
        ('    And a cluster "consumer" at Kubernetes 1.33.13 with DMaaS 1.16.2\n',
         '    And a cluster "consumer" at Kubernetes 1.24.17 with DMaaS 1.12.3\n'),
    ], name="an API the target does not serve")
    run.assert_fails_at('reports that "podsecuritypolicies.policy" is not served',
                        "expected Velero's log to say it cannot resolve podsecuritypolicies.policy via discovery")


def test_data_movement_a_plan_that_is_not_data_only(run_feature):
    run = run_feature("data_movement_across_setups.feature", [
        ('has a data-only continuity plan', 'has a continuity plan'),
        ("When 3 days pass", "When 2 days pass"),
        ("has 3 completed backups", "has 2 completed backups"),
    ])
    run.assert_fails_at("contains a workload resource", "workload resources", "statefulsets.apps")


def test_source_cluster_gone_rescue_on_another_bucket(run_feature):
    run = run_feature("source_cluster_gone.feature", [
        ('    And the "minio" bucket is a backup location on cluster "rescue"',
         '    And the "aws" bucket is a backup location on cluster "rescue"'),
        ("When 6 hours pass", "When 2 hours pass"),
        ("has 6 completed backups", "has 2 completed backups"),
        ("discovers the 6 backups", "discovers the 2 backups"),
    ], name="of cstor volumes")
    run.assert_fails_at('cluster "rescue" discovers the 2 backups', "expected to discover 2", "found 0")


def test_monitor_a_cut_not_shown(run_feature):
    run = run_feature("schd_soak_monitor.feature", [
        ('    When cluster "restore" is cut off\n    And the "minio" bucket is cut off',
         '    When the "minio" bucket is cut off'),
        ('"local-hp" volumes', '"cstor" volumes'),
    ])
    run.assert_fails_at('shows cluster "restore" as cut', "restore", "reachable")


# ------------------------------------------------------------------ SCHD matrix (kinds on every engine and bucket; the
# other SCHD oracles are shared by the 8 features and run on cStor/MinIO)

@pytest.mark.parametrize("feature", SCHD_ALL, ids=lambda f: f.split("schd-")[1][:-len("-bucket.feature")])
def test_schd_kinds_a_full_more_often_than_asserted(run_feature, feature):
    """cStor runs the feature's own numbers (a full every 12 where 23
    incrementals are asserted); the file-system engines, whose restic backups
    cost seconds each, run the same oracle on a 3-run cycle over 6 hours."""
    if "-cstor-" in feature:
        substitutions, wrong = [("| full every | 24 |", "| full every | 12 |"),
                                ("When 80 hours pass", "When 26 hours pass")], "backup #13 is full"
    else:
        substitutions, wrong = [("| full every | 24 |", "| full every | 3 |"),
                                ("When 80 hours pass", "When 6 hours pass"),
                                ("then 23 incremental", "then 3 incremental")], "backup #4 is full"
    run = run_feature(feature, substitutions)
    run.assert_fails_at("are of the kinds full, then", wrong)


def test_schd_retention_a_window_longer_than_asserted(run_feature):
    """Chains of 4 runs, so that whole chains fall out of the asserted 24 h
    (a chain with a retained backup may stay, whatever its age)."""
    run = run_feature(SCHD, [
        ("When 80 hours pass", "When 30 hours pass"),
        ("| full every | 24 |", "| full every | 4 |"),
        ("then 23 incremental", "then 3 incremental"),
        ("| retention  | 72h  |", "| retention  | 48h  |"),
        ("from the last 72h remain", "from the last 24h remain"),
    ])
    run.assert_fails_at("from the last 24h remain", "older than 24 h", "still in the minio bucket",
                        "no retained backup standing on them")


def test_schd_a_restore_with_wrong_data(run_feature):
    run = run_feature(SCHD, [
        ("When 80 hours pass", "When 26 hours pass"),
        ('restored on cluster "separate" into namespace "schd"\n',
         'restored on cluster "separate" into namespace "schd"\n'
         '    And 1 MiB of data are written to the application "mysql" on cluster "separate"\n'),
    ])
    run.assert_fails_at("its data equals the data recorded", "restored into schd", "data differs")


# 52 hours with a 26h retention: the plan deletes its first chain (runs 1-24) once the chain's last incremental is
# past retention (hour 51); runs 25 and 26 are past retention too, but stay, as retained incrementals stand on them
CHAIN_RETENTION = [
    ("When 80 hours pass", "When 52 hours pass"),
    ("| retention  | 72h  |", "| retention  | 26h  |"),
    ("from the last 72h remain", "from the last 26h remain"),
]


def test_schd_a_retained_incremental_keeps_its_chain(run_feature):
    """The control for the next two tests: shortened, unbroken, the scenario passes."""
    run_feature(SCHD, CHAIN_RETENTION).assert_passed()


def test_schd_the_full_backup_under_a_retained_incremental_deleted(run_feature):
    """The chain rule's oracle: a chain's full gone (as a TTL shorter than the chain would take it) while an
    incremental standing on it is retained."""
    run = run_feature(SCHD, CHAIN_RETENTION + [
        ("    And only the backups of plan",
         '    When the full backup under the oldest incremental backup of plan "schd-hourly" is deleted\n'
         "    Then only the backups of plan"),
    ])
    run.assert_fails_at("from the last 26h remain", "missing from the minio bucket while the retained backup",
                        "of their chain stands on them")


def test_schd_a_base_full_backup_lost_under_a_retained_incremental(run_feature):
    run = run_feature(SCHD, CHAIN_RETENTION + [
        (NEW_SEPARATE_LOCATION,
         'When the full snapshot under the oldest backup of plan "schd-hourly" is deleted from the "minio" bucket\n'
         f'    And {NEW_SEPARATE_LOCATION[5:]}'),
    ])
    # the restore of the oldest backup ends PartiallyFailed (its snapshot is gone), so the
    # restored claim is never bound and the application never ready: the scenario says why
    run.assert_fails_at('the application "mysql" in namespace "schd"', "PartiallyFailed", "snapshot",
                        "0/1 replicas ready")


# ------------------------------------------------------------------ SOAK matrix (every application)

@pytest.mark.parametrize("feature", SOAK_ALL, ids=lambda f: f.split("soak-")[1][:-len(".feature")])
def test_soak_an_inconsistent_restore_point(run_feature, feature):
    plan = feature.split("schd-")[1][:-len(".feature")]
    run = run_feature(feature, [
        ("When 48 hours pass", "When 3 hours pass"),
        (f'    Then plan "{plan}" has a completed backup for every hour of the run\n',
         f'    Then plan "{plan}" has a completed backup for every hour of the run\n'
         f'    When the stored volume data of the latest backup of plan "{plan}" is corrupted in the "minio" bucket\n'),
        ("    And every restore point", "    Then every restore point"),
    ])
    run.assert_fails_at("every restore point", "restore points of plan " + plan, "PartiallyFailed", "checksum")
