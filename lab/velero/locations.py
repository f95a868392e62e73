"""BackupStorageLocation and VolumeSnapshotLocation: opening their bucket
with their credentials, and the controller that validates them on the
virtual clock (Velero's backup_storage_location_controller: a real bucket
check every validationFrequency, default 1m; phase Available/Unavailable,
lastValidationTime, message)."""
import datetime

from lab.velero import kube
from lab.velero.credentials import CredentialsError, location_credentials
from lab.velero.layout import BackupStoreLayout, SnapshotLayout
from lab.velero.objectstorage import ObjectStorage, StorageError

BSL, VSL = "backupstoragelocations", "volumesnapshotlocations"
CSTOR_PROVIDER = "openebs.io/cstor-blockstore"
DEFAULT_VALIDATION_FREQUENCY = datetime.timedelta(minutes=1)
READ_ONLY = "ReadOnly"


class LocationError(Exception):
    """A location cannot be used (bad spec, credentials, unreachable)."""


def _truthy(value):
    return str(value).lower() in ("true", "1", "yes")


def _storage(store, location, bucket, config):
    if not bucket:
        raise LocationError(f"{location['kind']} {kube.name_of(location)} has no bucket")
    provider = (location["spec"].get("provider") or "").split("/")[-1]
    if location["kind"] == "BackupStorageLocation" and provider not in ("aws", "velero-plugin-for-aws"):
        raise LocationError(f"backup storage location {kube.name_of(location)}: provider "
                            f"{location['spec'].get('provider')!r} is not supported (only aws)")
    try:
        access_key, secret_key = location_credentials(store, location)
    except CredentialsError as exc:
        raise LocationError(str(exc)) from None
    return ObjectStorage(bucket, config.get("s3Url"), config.get("region") or "us-east-1",
                         access_key, secret_key, _truthy(config.get("s3ForcePathStyle", "true")))


def bsl_storage(store, bsl):
    """(ObjectStorage, BackupStoreLayout) of a BSL."""
    spec = bsl.get("spec") or {}
    target = spec.get("objectStorage") or {}
    storage = _storage(store, bsl, target.get("bucket"), spec.get("config") or {})
    return storage, BackupStoreLayout(target.get("prefix"))


def vsl_config(vsl):
    return dict((vsl.get("spec") or {}).get("config") or {})


def vsl_storage(store, vsl):
    """(ObjectStorage, SnapshotLayout) of a cStor VSL (plugin config keys)."""
    config = vsl_config(vsl)
    if config.get("provider", "aws") != "aws":
        raise LocationError(f"volume snapshot location {kube.name_of(vsl)}: provider "
                            f"{config.get('provider')!r} is not supported (only aws)")
    return _storage(store, vsl, config.get("bucket"), config), SnapshotLayout(config)


def is_read_only(bsl):
    return (bsl.get("spec") or {}).get("accessMode") == READ_ONLY


def _answers(storage_of, store, location, prefix_of):
    """None if the location's bucket answers under its prefix with its credentials, else the reason."""
    try:
        storage, layout = storage_of(store, location)
        storage.check(prefix_of(layout))
    except (LocationError, StorageError) as exc:
        return str(exc)
    return None


def check_bsl(store, bsl):
    return _answers(bsl_storage, store, bsl, lambda layout: layout.prefix)


def check_vsl(store, vsl):
    if (vsl.get("spec") or {}).get("provider") != CSTOR_PROVIDER:
        return f"volume snapshot provider {(vsl.get('spec') or {}).get('provider')!r} is not available in this lab"
    return _answers(vsl_storage, store, vsl, lambda layout: layout.path_prefix)


def validate_bsl(cluster, bsl):
    """Check now and record the outcome; returns the stored BSL."""
    problem = check_bsl(cluster.store, bsl)
    return kube.set_status(cluster.store, BSL, bsl,
                           phase="Unavailable" if problem else "Available",
                           lastValidationTime=kube.stamp(cluster),
                           message=f"BackupStorageLocation \"{kube.name_of(bsl)}\" is unavailable: {problem}"
                           if problem else None) or bsl


def _frequency(location):
    try:
        return kube.parse_duration((location.get("spec") or {}).get("validationFrequency"),
                                   DEFAULT_VALIDATION_FREQUENCY)
    except ValueError:
        return DEFAULT_VALIDATION_FREQUENCY


class LocationController:
    """Validates every BSL and VSL when new, changed, or its period is due."""

    def __init__(self, cluster):
        self.cluster = cluster
        self._seen = {}     # (plural, uid) -> generation last validated

    def _due(self, plural, location):
        meta, status = location["metadata"], location.get("status") or {}
        if self._seen.get((plural, meta.get("uid"))) != meta.get("generation"):
            return True
        last = kube.parse_stamp(status.get("lastValidationTime"))
        frequency = _frequency(location)
        if last is None:
            return True
        return frequency > datetime.timedelta(0) and last + frequency <= kube.now(self.cluster)

    def reconcile(self):
        changed = False
        store = self.cluster.store
        for plural, check in ((BSL, check_bsl), (VSL, check_vsl)):
            for location in kube.list_velero(store, plural):
                if not self._due(plural, location):
                    continue
                problem = check(store, location)
                name = kube.name_of(location)
                kind = "BackupStorageLocation" if plural == BSL else "VolumeSnapshotLocation"
                kube.set_status(store, plural, location,
                                phase="Unavailable" if problem else "Available",
                                lastValidationTime=kube.stamp(self.cluster),
                                message=f"{kind} \"{name}\" is unavailable: {problem}" if problem else None)
                self._seen[(plural, location["metadata"].get("uid"))] = location["metadata"].get("generation")
                changed = True
        return changed

    def next_due(self):
        # Periodic checks are taken by any pass once their period has passed
        # on the virtual clock (a pass runs at every advance target and at
        # every other controller's due time). Asking the clock to stop every
        # minute would cost 4,320 stops per simulated 3 days for no
        # observable difference.
        return None
