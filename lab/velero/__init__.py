"""The Velero server of a lab cluster: one controller per velero.io kind,
working on the cluster's ObjectStore and on S3 (boto3, and kopia or restic for pod volumes)."""
from lab.velero.backups import BackupController
from lab.velero.deletion import DeletionController, GarbageCollector
from lab.velero.discovery import Discovery
from lab.velero.locations import LocationController
from lab.velero.restores import RestoreController
from lab.velero.schedules import ScheduleController
from lab.velero.serverstatus import ServerStatusController
from lab.velero.sync import SyncController


def controllers(cluster, lab):
    """The controllers `lab.cluster.Cluster` runs in its tick loop, in the
    order a pass runs them: locations are validated before backups use them,
    schedules create backups the backup controller takes in the same pass.
    Backups and restores share the server's view of the API (Discovery)."""
    discovery = Discovery(cluster)
    return [LocationController(cluster), SyncController(cluster), ScheduleController(cluster),
            BackupController(cluster, discovery), GarbageCollector(cluster),
            DeletionController(cluster), RestoreController(cluster, discovery), ServerStatusController(cluster)]
