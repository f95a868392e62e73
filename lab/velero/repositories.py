"""The repositories behind file-system backup: Velero's BackupRepository
object per (volume namespace, BSL, repository type) and the uploader's
repository in the BSL's bucket, created on first use as Velero's repository
ensurer does. Velero 1.12 and later back pod volumes up with kopia
(`velero install --uploader-type` default); 1.10 and 1.11 with restic. A
restore or deletion uses the uploader the PodVolumeBackup records."""
from pathlib import Path

from lab.apiserver.errors import AlreadyExists
from lab.controllers.util import random_suffix
from lab.velero import kube
from lab.velero.credentials import location_credentials, repository_password
from lab.velero.kopia import KopiaError, KopiaRepository
from lab.velero.restic import ResticError, ResticRepository

PLURAL = "backuprepositories"
UPLOADER_ERRORS = (KopiaError, ResticError)
# BackupRepository spec.maintenanceFrequency defaults (repository.DefaultMaintenanceFrequency)
MAINTENANCE = {"kopia": "1h0m0s", "restic": "168h0m0s"}


def default_uploader(cluster):
    """The uploader `velero install` sets up by default at the cluster's release."""
    return "kopia" if kube.release(cluster) >= (1, 12) else "restic"


def _repository_object(cluster, bsl_name, namespace, uploader, identifier):
    store = cluster.store
    labels = {"velero.io/volume-namespace": namespace, "velero.io/storage-location": bsl_name,
              "velero.io/repository-type": uploader}
    existing = store.list(kube.GROUP, PLURAL, kube.NAMESPACE,
                          label_selector=",".join(f"{k}={v}" for k, v in labels.items()))
    if existing:
        return existing[0]
    repo = {"apiVersion": kube.API_VERSION, "kind": "BackupRepository",
            "metadata": {"name": f"{namespace}-{bsl_name}-{uploader}-{random_suffix()}",
                         "namespace": kube.NAMESPACE, "labels": labels},
            "spec": {"volumeNamespace": namespace, "backupStorageLocation": bsl_name,
                     "repositoryType": uploader, "resticIdentifier": identifier,
                     "maintenanceFrequency": MAINTENANCE[uploader]}}
    try:
        return store.create(kube.GROUP, PLURAL, repo)
    except AlreadyExists:
        return store.get(kube.GROUP, PLURAL, kube.NAMESPACE, repo["metadata"]["name"])


def open_repository(cluster, bsl, namespace, storage, layout, uploader, create=True):
    """The `uploader` repository of `namespace` in the BSL's bucket. With
    create=True (a backup) it is initialised when the bucket has none and
    its BackupRepository marked Ready; a restore or deletion only opens it."""
    config = (bsl.get("spec") or {}).get("config") or {}
    s3_url = config.get("s3Url") or "https://s3.amazonaws.com"
    region = config.get("region") or "us-east-1"
    identifier = layout.restic_repository(s3_url, storage.bucket, namespace)
    access_key, secret_key = location_credentials(cluster.store, bsl)
    password = repository_password(cluster.store)
    state = Path(cluster.node_dir) / "velero"
    if uploader == "kopia":
        repo = KopiaRepository(cluster.lab.uploader, s3_url, storage.bucket, layout.kopia_prefix(namespace), region,
                               password, access_key, secret_key, create=create)
    elif uploader == "restic":
        (state / "restic-cache").mkdir(parents=True, exist_ok=True)
        repo = ResticRepository(identifier, password, access_key, secret_key, region, state / "restic-cache")
        if create and not storage.exists(layout.restic_config(namespace)):
            repo.init()
    else:
        raise ResticError(f"uploader type {uploader!r} is not supported (kopia or restic)")
    if create:
        record = _repository_object(cluster, kube.name_of(bsl), namespace, uploader, identifier)
        if (record.get("status") or {}).get("phase") != "Ready":
            kube.set_status(cluster.store, PLURAL, record, phase="Ready",
                            lastMaintenanceTime=kube.stamp(cluster))
    return repo
