@cortex @TCID-DIR-DMAAS-CORTEX
Feature: TCID-DIR-DMAAS-CORTEX
  As a DevOps admin, I manage cortex application. Cortex has a dependency on cassandra. I would like to have continuity plans for this application. I want to take on demand backup(s) of cortex & cassandra including their configuration & volumes. I want to restore the backup to verify before uploading the same to S3. I would like to be notified if my S3 location has enough space to accomodate new backups.

  Background:
    Given a cluster "ops"
    And a cluster "verify"
    And the "minio" bucket with prefix "staging" is a backup location named "staging" on clusters "ops" and "verify"
    And the application "cortex" runs in namespace "cortex" of cluster "ops" on "jiva" volumes

  Scenario: TCID-DIR-DMAAS-CORTEX an on-demand backup of cortex and cassandra is uploaded to S3 only after its restore verified it
    When the team takes an on-demand backup "cortex-1" of namespace "cortex" on cluster "ops" to location "staging"
    Then backup "cortex-1" holds the configmaps, statefulsets and volumes of cortex and cassandra
    And backup "cortex-1" is not in the "aws" bucket
    When backup "cortex-1" is verified by a restore on cluster "verify" and then promoted to the "aws" bucket
    Then the verification found the data recorded at the time of that backup
    And backup "cortex-1" is in the "aws" bucket, uploaded after the verification passed

  Scenario: TCID-DIR-DMAAS-CORTEX a backup that fails its verification is never uploaded
    When the team takes an on-demand backup "cortex-2" of namespace "cortex" on cluster "ops" to location "staging"
    And the stored volume data of backup "cortex-2" is corrupted in the "minio" bucket
    And backup "cortex-2" is verified by a restore on cluster "verify" and then promoted to the "aws" bucket
    Then the verification failed with a reason
    And backup "cortex-2" is not in the "aws" bucket

  Scenario: TCID-DIR-DMAAS-CORTEX a warning when the S3 location has not enough space for the next backup
    Given the "aws" bucket has a quota of 64 KiB
    And 2 MiB of data are written to the application "cortex" on cluster "ops"
    When the team asks whether the "aws" bucket has room for a backup of namespace "cortex" on cluster "ops"
    Then the team is warned that the "aws" bucket has not enough space

  Scenario: TCID-DIR-DMAAS-CORTEX no warning when the S3 location has enough space
    Given the "aws" bucket has a quota of 512 MiB
    When the team asks whether the "aws" bucket has room for a backup of namespace "cortex" on cluster "ops"
    Then the team is not warned
