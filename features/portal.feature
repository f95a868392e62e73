@portal @TCID-DIR-DMAAS-PORTAL
Feature: TCID-DIR-DMAAS-PORTAL
  As a DevOps admin, I manage a portal which in turn is a suite of applications that includes multiple kubernetes deployments, statefulsets, configurations, serviceaccounts, secrets, custom resources & volumes. I would like to take periodic backups of this portal except a few resources namely nginx-controller deployment & ingress resources. I want these backups to be uploaded to multiple S3 locations. As part of the business continuity plan, I want to verify particular backups on an on-demand basis by restoring this portal on a different cluster & verifying its state.

  Scenario: TCID-DIR-DMAAS-PORTAL periodic backups of the portal without nginx-controller and ingresses, in two S3 locations, verified on another cluster
    Given a cluster "portal"
    And a cluster "dr"
    And the "minio" bucket is a backup location on clusters "portal" and "dr"
    And the "aws" bucket is a backup location on clusters "portal" and "dr"
    And the application "portal" runs in namespace "portal" of cluster "portal" on "local-dev" volumes
    And team "web" has a continuity plan "portal-hourly" on cluster "portal":
      | setting           | value                                   |
      | namespaces        | portal                                  |
      | every             | 1h                                      |
      | retention         | 72h                                     |
      | locations         | minio, aws                              |
      | exclude resources | ingresses.networking.k8s.io             |
      | exclude labels    | app.kubernetes.io/name=nginx-controller |
    When 3 hours pass while the applications write data every hour
    Then locations "minio" and "aws" each hold a complete copy of every backup of plan "portal-hourly"
    And no backup in any location contains an ingress or the deployment "nginx-controller"
    When the latest backup of plan "portal-hourly" in location "aws" is restored on cluster "dr"
    Then every resource of namespace "portal" on cluster "portal" except ingresses and the deployment "nginx-controller" is on cluster "dr"
    And the custom resources were restored after their definitions
    And the application "portal" in namespace "portal" of cluster "dr" is ready
    And its data equals the data recorded at the time of that backup
