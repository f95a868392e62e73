"""Location objects as Velero and the OpenEBS plugin read them (pure)."""
import configparser

from runner.dmaas import locations
from runner.dmaas.locations import Location
from runner.targets import BucketProfile

PROFILE = BucketProfile("minio", "minio", "http://127.0.0.1:9000", "us-east-1", "dmaas-minio", "AKID", "SECRET")
LOCATION = Location("staging", "minio", "dmaas-minio", "dmaas-e2e/run/scenario/staging")


def test_bsl_names_bucket_prefix_endpoint_and_credentials():
    spec = locations.bsl_spec(LOCATION, PROFILE, default=True)
    assert spec["provider"] == "aws" and spec["default"] is True
    assert spec["objectStorage"] == {"bucket": "dmaas-minio", "prefix": "dmaas-e2e/run/scenario/staging"}
    assert spec["config"] == {"region": "us-east-1", "s3Url": "http://127.0.0.1:9000", "s3ForcePathStyle": "true"}
    assert spec["credential"] == {"name": "dmaas-staging-credentials", "key": "cloud"}
    assert "SECRET" not in repr(spec)


def test_credentials_file_is_an_aws_shared_credentials_file():
    parser = configparser.ConfigParser()
    parser.read_string(locations.credentials_file(PROFILE))
    assert parser["default"]["aws_access_key_id"] == "AKID"
    assert parser["default"]["aws_secret_access_key"] == "SECRET"


def test_vsl_is_the_cstor_plugin_on_the_same_bucket():
    spec = locations.vsl_spec(LOCATION, PROFILE, full_every=24)
    assert spec["provider"] == "openebs.io/cstor-blockstore"
    config = spec["config"]
    assert config["bucket"] == "dmaas-minio" and config["incrBackupCount"] == "23"
    assert config["backupPathPrefix"].startswith(LOCATION.prefix + "/")
    assert config["s3Url"] == "http://127.0.0.1:9000" and config["restoreAllIncrementalSnapshots"] == "true"


def test_a_location_reads_back_from_its_bsl():
    bsl = {"metadata": {"name": "staging", "labels": {locations.PROFILE_LABEL: "minio"}},
           "spec": locations.bsl_spec(LOCATION, PROFILE, default=False)}
    assert locations.from_bsl(bsl) == LOCATION
