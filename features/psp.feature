@psp @TCID-DIR-DMAAS-PSP
Feature: TCID-DIR-DMAAS-PSP
  As a DevOps admin, I manage multiple kubernetes applications. I have an extensive set of PodSecurityPolicies that govern the infrastructure policies in the cluster. I would like to take periodic backups these pod security policies and upload them to S3. As part of the my need to let all kubernetes clusters follow the same governance rules, I want to restore these pod security policies across other clusters.

  Background:
    Given a cluster "governance" at Kubernetes 1.24.17 with DMaaS 1.12.3
    And the pod security policies "restricted", "baseline" and "privileged" exist on cluster "governance"
    And the "aws" bucket is a backup location on cluster "governance"
    And team "platform" has a continuity plan "psp-hourly" on cluster "governance":
      | setting   | value                      |
      | resources | podsecuritypolicies.policy |
      | every     | 1h                         |
      | retention | 72h                        |
    And 2 hours pass

  Scenario: TCID-DIR-DMAAS-PSP periodic backups of pod security policies restored on several other clusters
    Given a cluster "edge-1" at Kubernetes 1.24.17 with DMaaS 1.12.3
    And a cluster "edge-2" at Kubernetes 1.24.17 with DMaaS 1.16.2
    And the "aws" bucket is a backup location on clusters "edge-1" and "edge-2"
    When the latest backup of plan "psp-hourly" is restored on clusters "edge-1" and "edge-2"
    Then every pod security policy of cluster "governance" is identical on clusters "edge-1" and "edge-2"

  Scenario: TCID-DIR-DMAAS-PSP a cluster that does not serve PodSecurityPolicy gives a clear reason
    Given a cluster "modern" at Kubernetes 1.33.13 with DMaaS 1.16.2
    And the "aws" bucket is a backup location on cluster "modern"
    When the latest backup of plan "psp-hourly" is restored on cluster "modern"
    Then the restore on cluster "modern" reports that "podsecuritypolicies.policy" is not served by that cluster
