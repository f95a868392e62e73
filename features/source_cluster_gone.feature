@cluster-gone @TCID-DIR-DMAAS-SOURCE-CLUSTER-GONE
Feature: TCID-DIR-DMAAS-SOURCE-CLUSTER-GONE
  As a DevOps admin, I manage statefulset applications in my kubernetes cluster. I want to have continuity plans for these applications. I want to take cloud based backup on a periodic basis & restore them when my source cluster is not available due to some unforeseen events. I should be able to restore from these backups _(somewhere in the cloud)_ to any new cluster that will be created only during these unforeseen situations.

  Scenario Outline: TCID-DIR-DMAAS-SOURCE-CLUSTER-GONE periodic cloud backups of <engine> volumes restored on a cluster created after the source is gone
    Given a cluster "source"
    And the "minio" bucket is a backup location on cluster "source"
    And the application "mysql" runs in namespace "orders" of cluster "source" on "<engine>" volumes
    And team "payments" has a continuity plan "orders-hourly" on cluster "source":
      | setting    | value  |
      | namespaces | orders |
      | every      | 1h     |
      | retention  | 72h    |
    When 6 hours pass while the applications write data every hour
    Then plan "orders-hourly" has 6 completed backups in the "minio" bucket
    When cluster "source" is destroyed
    And a new cluster "rescue" is created
    And the "minio" bucket is a backup location on cluster "rescue"
    Then cluster "rescue" discovers the 6 backups of plan "orders-hourly" from the bucket alone
    When the oldest backup of plan "orders-hourly" is restored on cluster "rescue"
    Then the application "mysql" in namespace "orders" of cluster "rescue" is ready
    And its data equals the data recorded at the time of that backup
    When the latest backup of plan "orders-hourly" is restored on cluster "rescue" into namespace "orders-latest"
    Then the application "mysql" in namespace "orders-latest" of cluster "rescue" is ready
    And its data equals the data recorded at the time of that backup

    # cStor volumes go as the OpenEBS plugin's snapshots, LocalPV hostpath ones by Velero's file-system backup
    Examples: block snapshots and file-system backup
      | engine   |
      | cstor    |
      | local-hp |
