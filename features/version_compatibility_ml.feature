@version-compat @TCID-DIR-DMAAS-VERSION-COMPATIBILITY-ML
Feature: TCID-DIR-DMAAS-VERSION-COMPATIBILITY-ML
  As a ML scientist, I need to share data amongst fellow colleagues and teams to run specific learning algorithms based on the same data. These teams may be running their programs on different versions of Kubernetes and/or Director. I want to run machine learning programs without bothering about forward or backward compatibility of Kubernetes &/or Director.

  Scenario Outline: TCID-DIR-DMAAS-VERSION-COMPATIBILITY-ML a dataset shared from Kubernetes <from_k8s> / DMaaS <from_dmaas> to Kubernetes <to_k8s> / DMaaS <to_dmaas>
    Given a cluster "producer" at Kubernetes <from_k8s> with DMaaS <from_dmaas>
    And a cluster "consumer" at Kubernetes <to_k8s> with DMaaS <to_dmaas>
    And the "aws" bucket is a backup location on clusters "producer" and "consumer"
    And the application "ml-dataset" runs in namespace "ml" of cluster "producer" on "jiva" volumes
    And 8 MiB of dataset files are written to the application "ml-dataset" on cluster "producer"
    When the team takes an on-demand backup "dataset" of namespace "ml" on cluster "producer"
    And backup "dataset" is restored on cluster "consumer"
    Then the restore on cluster "consumer" completed
    And the application "ml-dataset" in namespace "ml" of cluster "consumer" is ready
    And its data equals the data recorded at the time of that backup, byte for byte
    And every restored resource on cluster "consumer" is in an API version that cluster serves

    Examples: forward and backward
      | from_k8s | from_dmaas | to_k8s  | to_dmaas |
      | 1.24.17  | 1.12.3     | 1.33.13 | 1.16.2   |
      | 1.33.13  | 1.16.2     | 1.24.17 | 1.12.3   |

  Scenario: TCID-DIR-DMAAS-VERSION-COMPATIBILITY-ML an API the target does not serve fails with a clear reason
    Given a cluster "producer" at Kubernetes 1.24.17 with DMaaS 1.12.3
    And a cluster "consumer" at Kubernetes 1.33.13 with DMaaS 1.16.2
    And the "aws" bucket is a backup location on clusters "producer" and "consumer"
    And the pod security policies "ml-restricted" exist on cluster "producer"
    When the team takes an on-demand backup "policies" of resources "podsecuritypolicies.policy" on cluster "producer"
    And backup "policies" is restored on cluster "consumer"
    Then the restore on cluster "consumer" reports that "podsecuritypolicies.policy" is not served by that cluster
