@secrets @TCID-DIR-DMAAS-EXCLUDE-SECRET
Feature: TCID-DIR-DMAAS-EXCLUDE-SECRET
  As a DevOps admin, I manage multiple kubernetes clusters. Each of these clusters cater to different lines of businesses. Any particular team's role vary depending on the cluster. As part of business continuity plans that adhere to above security need, I want to exclude backing up secrets. In other words, **no** secrets should get uploaded to S3.

  Scenario: TCID-DIR-DMAAS-EXCLUDE-SECRET no secret of any backed-up namespace reaches any S3 bucket
    Given a cluster "lob"
    And the "minio" bucket is a backup location on cluster "lob"
    And the "aws" bucket is a backup location on cluster "lob"
    And the application "nginx" runs in namespace "billing" of cluster "lob" on "local-hp" volumes
    And the application "wordpress" runs in namespace "hr" of cluster "lob" on "jiva" volumes
    And namespaces "billing" and "hr" of cluster "lob" hold secrets with freshly generated values
    And team "security" has a continuity plan "no-secrets" on cluster "lob":
      | setting           | value       |
      | namespaces        | billing, hr |
      | every             | 1h          |
      | retention         | 72h         |
      | locations         | minio, aws  |
      | exclude resources | secrets     |
    When 3 hours pass while the applications write data every hour
    And the team takes an on-demand backup "no-secrets-now" with the selection of plan "no-secrets"
    Then plan "no-secrets" has 3 completed backups in the "minio" bucket
    And no backup in any bucket contains a Secret object
    And no generated secret value appears in any object of any bucket, in plain, base64 or compressed form
