@data-movement @TCID-DIR-DMAAS-DATA-MOVEMENT-ACROSS-SETUPS
Feature: TCID-DIR-DMAAS-DATA-MOVEMENT-ACROSS-SETUPS
  As a DevOps admin, I manage multiple clusters with each cluster dedicated to their line of business. I want backups of data from applications running on one cluster & restored to another cluster on a daily basis. _I do not want to backup the application themselves_. These clusters have different application sizing needs.

  Scenario: TCID-DIR-DMAAS-DATA-MOVEMENT-ACROSS-SETUPS daily data-only backups of one line of business restored into another's own application
    Given a cluster "lob-a"
    And a cluster "lob-b"
    And the "minio" bucket is a backup location on clusters "lob-a" and "lob-b"
    And the application "percona" runs in namespace "sales" of cluster "lob-a" on "cstor" volumes with 3 replicas
    And the application "percona" runs in namespace "sales" of cluster "lob-b" on "cstor" volumes with 1 replica
    And team "data" has a data-only continuity plan "sales-daily" on cluster "lob-a":
      | setting    | value |
      | namespaces | sales |
      | every      | 24h   |
      | retention  | 168h  |
    And each backup of plan "sales-daily" is moved into namespace "sales" of cluster "lob-b"
    When 3 days pass while the applications on cluster "lob-a" write data every hour
    Then plan "sales-daily" has 3 completed backups in the "minio" bucket
    And no backup of plan "sales-daily" contains a workload resource
    And the application "percona" in namespace "sales" of cluster "lob-b" still has 1 replica
    And each day the data in namespace "sales" of cluster "lob-b" equalled the data of cluster "lob-a" at that day's backup
