@mysql @TCID-DIR-DMAAS-MYSQL
Feature: TCID-DIR-DMAAS-MYSQL
  As a DevOps admin, I manage MYSQL statefulset applications. These applications have a dependency on configmap. Both application as well as configmap reside in their specific namespace. I would like to have continuity plans for these applications. I want to take backup on a periodic basis & restore them optionally to verify if these backups are valid. I would like to maintain the count of backups so that these backups donot fill up the storage. I would like to store these backups at my desired S3 location.

  Scenario: TCID-DIR-DMAAS-MYSQL periodic backups of MySQL and its configmap, the last 5 kept at a chosen S3 location, verified by a restore
    Given a cluster "prod"
    And a cluster "verify"
    And the "aws" bucket with prefix "teams/dba/mysql" is a backup location named "dba-s3" on clusters "prod" and "verify"
    And the application "mysql" runs in namespace "mysql-prod" of cluster "prod" on "local-hp" volumes
    And team "dba" has a continuity plan "mysql-hourly" on cluster "prod":
      | setting    | value      |
      | namespaces | mysql-prod |
      | every      | 1h         |
      | keep last  | 5          |
      | locations  | dba-s3     |
      | verify on  | verify     |
    When 8 hours pass while the applications write data every hour
    Then every object plan "mysql-hourly" wrote is under prefix "teams/dba/mysql" of the "aws" bucket
    And plan "mysql-hourly" never had more than 5 backups in the bucket
    And plan "mysql-hourly" has 5 completed backups in the "aws" bucket
    When plan "mysql-hourly" verifies its latest backup
    Then the verification restored statefulset "mysql" and configmap "mysql-config" on cluster "verify"
    And the verification found the rows recorded at the time of that backup
    And the verification namespace is gone from cluster "verify"
