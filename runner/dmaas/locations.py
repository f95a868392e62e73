"""Backup locations: a BackupStorageLocation on a bucket profile (AWS
provider; the profile's options as the AWS plugin takes them: path-style
addressing, checksumAlgorithm, insecureSkipTLSVerify, and the endpoint's CA
bundle as objectStorage.caCert), the Secret holding its AWS credentials
file, and the cStor VolumeSnapshotLocations beside it.

A BSL, VSL or Secret of the name a location wants that the scenario did not
make is never reused: that is a Clash naming it (a team's BSL of the same
name may point anywhere).

A location has one name, one bucket profile and one prefix on every cluster
(so a second cluster sees the same backups); the prefix is
`<scenario_root>/<given prefix or location name>`."""
from __future__ import annotations

import base64
import dataclasses

from runner.dmaas import plans
from runner.dmaas.plans import PlanError

PROFILE_LABEL = "dmaas.openebs.io/bucket-profile"
CAPACITY_ANNOTATION = "dmaas.openebs.io/capacity-bytes"
CREDENTIALS_KEY = "cloud"
CSTOR_PROVIDER = "openebs.io/cstor-blockstore"


@dataclasses.dataclass(frozen=True)
class Location:
    name: str
    profile: str            # bucket profile name (buckets.yaml)
    bucket: str             # the bucket's name
    prefix: str             # key prefix of the BSL

    def __str__(self):
        return f"location {self.name} ({self.profile} bucket {self.bucket}/{self.prefix})"


def credentials_secret_name(location):
    return f"dmaas-{location}-credentials"


def credentials_file(profile):
    """An AWS shared credentials file, as Velero's AWS plugin reads it."""
    return (f"[default]\naws_access_key_id={profile.access_key}\n"
            f"aws_secret_access_key={profile.secret_key}\n")


def bsl_config(profile):
    options = profile.options
    config = {"region": profile.region or "us-east-1"}
    if profile.endpoint:
        config.update(s3Url=profile.endpoint, s3ForcePathStyle="true" if options.path_style else "false")
    if options.checksum_algorithm is not None:
        config["checksumAlgorithm"] = options.checksum_algorithm
    if options.insecure_skip_tls_verify:
        config["insecureSkipTLSVerify"] = "true"
    return config


def bsl_spec(location, profile, default):
    storage = {"bucket": location.bucket, "prefix": location.prefix}
    if profile.options.ca_bundle:
        with open(profile.options.ca_bundle, "rb") as pem:
            storage["caCert"] = base64.b64encode(pem.read()).decode()
    return {"provider": "aws", "default": bool(default), "objectStorage": storage,
            "config": bsl_config(profile),
            "credential": {"name": credentials_secret_name(location.name), "key": CREDENTIALS_KEY},
            "accessMode": "ReadWrite"}


def vsl_spec(location, profile, full_every=None):
    return {"provider": CSTOR_PROVIDER,
            "config": plans.vsl_config(bsl_config(profile), location.bucket, location.prefix, full_every),
            "credential": {"name": credentials_secret_name(location.name), "key": CREDENTIALS_KEY}}


def ensure_credentials(client, location, profile):
    """The credentials Secret in Velero's namespace (its value is never logged)."""
    client.apply({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                  "metadata": {"name": credentials_secret_name(location.name), "namespace": client.velero.namespace,
                               "labels": {PROFILE_LABEL: location.profile}},
                  "stringData": {CREDENTIALS_KEY: credentials_file(profile)}})


def ensure_bsl(client, location, profile, capacity=None):
    """Creates the BSL (default if it is the cluster's first) and waits until
    Velero reports it Available. One the scenario made earlier on this
    cluster must point where this location does."""
    ensure_credentials(client, location, profile)
    existing = client.velero.get("BackupStorageLocation", location.name)
    if existing is None:
        default = not client.velero.list("BackupStorageLocation")
        annotations = {CAPACITY_ANNOTATION: str(capacity)} if capacity is not None else None
        client.velero.create("BackupStorageLocation", location.name, bsl_spec(location, profile, default),
                             labels={PROFILE_LABEL: location.profile}, annotations=annotations)
    else:
        client.isolation.check_own(client.name, existing, f"BackupStorageLocation {location.name}")
        if from_bsl(existing) != location:
            raise PlanError(f"cluster {client.name}: BackupStorageLocation {location.name} is {from_bsl(existing)}, "
                            f"not {location}")
    client.velero.wait_phase("BackupStorageLocation", location.name, ["Available"], timeout="location_available")


def ensure_vsl(client, location, profile, full_every=None):
    """The cStor VSL of a location for a chain length; returns its name."""
    name = plans.vsl_name(location.name, full_every)
    existing = client.velero.get("VolumeSnapshotLocation", name)
    if existing is None:
        ensure_credentials(client, location, profile)
        client.velero.create("VolumeSnapshotLocation", name, vsl_spec(location, profile, full_every),
                             labels={PROFILE_LABEL: location.profile})
    else:
        client.isolation.check_own(client.name, existing, f"VolumeSnapshotLocation {name}")
    return name


def set_capacity(client, profile_name, nbytes):
    """Records a bucket's capacity on every BSL of that bucket profile."""
    for bsl in client.velero.list("BackupStorageLocation", label_selector=f"{PROFILE_LABEL}={profile_name}"):
        value = None if nbytes is None else str(int(nbytes))
        client.velero.patch("BackupStorageLocation", bsl["metadata"]["name"],
                            {"metadata": {"annotations": {CAPACITY_ANNOTATION: value}}})


def capacity_of(client, profile_name):
    """The capacity recorded on a BSL of that bucket profile, or None."""
    for bsl in client.velero.list("BackupStorageLocation", label_selector=f"{PROFILE_LABEL}={profile_name}"):
        value = (bsl["metadata"].get("annotations") or {}).get(CAPACITY_ANNOTATION)
        if value:
            return int(value)
    return None


def from_bsl(bsl):
    """A Location read back from a BSL object (for clusters this process did
    not configure, e.g. `dmaas monitor`)."""
    storage = (bsl.get("spec") or {}).get("objectStorage") or {}
    return Location(bsl["metadata"]["name"], (bsl["metadata"].get("labels") or {}).get(PROFILE_LABEL, ""),
                    storage.get("bucket", ""), storage.get("prefix", ""))
