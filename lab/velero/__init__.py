"""The Velero server of a lab cluster: one controller per velero.io kind,
working on the cluster's ObjectStore and on S3 (boto3, restic)."""
from lab.velero.backups import BackupController
from lab.velero.deletion import DeletionController, GarbageCollector
from lab.velero.locations import LocationController
from lab.velero.restores import RestoreController
from lab.velero.schedules import ScheduleController
from lab.velero.sync import SyncController


def controllers(cluster, lab):
    """The controllers `lab.cluster.Cluster` runs in its tick loop, in the
    order a pass runs them: locations are validated before backups use them,
    schedules create backups the backup controller takes in the same pass."""
    latest_snapshots = {}       # restic snapshot per PVC, shared by backups and deletions
    return [LocationController(cluster), SyncController(cluster), ScheduleController(cluster),
            BackupController(cluster, latest_snapshots), GarbageCollector(cluster),
            DeletionController(cluster, latest_snapshots), RestoreController(cluster)]
