@monitor @soak @TCID-DIR-DMAAS-SCHD-SOAK-MONITOR
Feature: TCID-DIR-DMAAS-SCHD-SOAK-MONITOR
  This strategy is a continuation of above TCID-DMAAS-SCHD test strategy. As a DevOps admin, I want to monitor the following:
  - view the application continuity plans of my teams
  - view the S3 usage on a per team basis
  - view connectivity to backup as well as restore cluster

  _NOTE: This test cases need to be performed on workload cluster_

  Scenario: TCID-DIR-DMAAS-SCHD-SOAK-MONITOR plans per team, S3 usage per team and connectivity equal what the clusters and buckets say
    Given a cluster "workload"
    And a cluster "restore"
    And the "minio" bucket is a backup location on clusters "workload" and "restore"
    And the application "nginx" runs in namespace "red-web" of cluster "workload" on "local-hp" volumes
    And the application "mysql" runs in namespace "blue-db" of cluster "workload" on "cstor" volumes
    And team "red" has a continuity plan "red-hourly" on cluster "workload":
      | setting    | value   |
      | namespaces | red-web |
      | every      | 1h      |
      | retention  | 72h     |
    And team "blue" has a continuity plan "blue-every-2h" on cluster "workload":
      | setting    | value   |
      | namespaces | blue-db |
      | every      | 2h      |
      | full every | 6       |
      | retention  | 72h     |
    When 6 hours pass while the applications write data every hour
    Then the plans view lists for team "red" plan "red-hourly" and for team "blue" plan "blue-every-2h", each with the last and next run recorded by the cluster
    And the S3 usage view shows for each team the bytes its backups take in the "minio" bucket, as read from the bucket
    And the connectivity view shows clusters "workload" and "restore" and the "minio" bucket as connected
    When cluster "restore" is cut off
    And the "minio" bucket is cut off
    Then the connectivity view shows cluster "restore" as cut
    And the connectivity view shows the "minio" bucket as cut
    And the connectivity view shows cluster "workload" as connected
