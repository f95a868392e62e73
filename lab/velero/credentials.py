"""Credentials as the Velero server reads them: the AWS credentials file in
the Secret a location names (`spec.credential: {name, key}`), else the
install-time Secret velero/cloud-credentials key `cloud`; and the restic
repository password in velero/velero-repo-credentials."""
import base64
import configparser

from lab.apiserver.errors import AlreadyExists

VELERO_NS = "velero"
DEFAULT_SECRET, DEFAULT_KEY = "cloud-credentials", "cloud"
REPO_SECRET, REPO_KEY = "velero-repo-credentials", "repository-password"
DEFAULT_REPO_PASSWORD = "static-passw0rd"   # Velero's pkg/repository/keys default


class CredentialsError(Exception):
    """Missing or unreadable credentials (message names the Secret/key)."""


def secret_value(store, namespace, name, key):
    secret = store.get("", "secrets", namespace, name)
    if secret is None:
        raise CredentialsError(f"secret {namespace}/{name} not found")
    if key in (secret.get("data") or {}):
        return base64.b64decode(secret["data"][key]).decode()
    if key in (secret.get("stringData") or {}):
        return secret["stringData"][key]
    raise CredentialsError(f"secret {namespace}/{name} has no key {key!r}")


def parse_aws_credentials(text, profile="default", source="credentials file"):
    """An AWS shared credentials file -> (access key id, secret access key)."""
    parser = configparser.ConfigParser()
    try:
        parser.read_string(text)
    except configparser.Error:
        raise CredentialsError(f"{source} is not an AWS credentials file") from None
    if not parser.has_section(profile):
        raise CredentialsError(f"{source} has no profile [{profile}]")
    section = parser[profile]
    try:
        return section["aws_access_key_id"].strip(), section["aws_secret_access_key"].strip()
    except KeyError as missing:
        raise CredentialsError(f"{source} profile [{profile}] has no {missing.args[0]}") from None


def location_credentials(store, location):
    """(access key, secret key) for a BSL or VSL object."""
    spec = location.get("spec") or {}
    ref = spec.get("credential") or {}
    name, key = (ref["name"], ref["key"]) if ref.get("name") else (DEFAULT_SECRET, DEFAULT_KEY)
    text = secret_value(store, VELERO_NS, name, key)
    profile = (spec.get("config") or {}).get("profile") or "default"
    return parse_aws_credentials(text, profile, source=f"secret {VELERO_NS}/{name} key {key!r}")


def repository_password(store):
    """The restic repository password, creating Velero's default Secret
    when it is absent (as `velero install` / the repo ensurer does)."""
    try:
        return secret_value(store, VELERO_NS, REPO_SECRET, REPO_KEY)
    except CredentialsError:
        if store.get("", "secrets", VELERO_NS, REPO_SECRET) is not None:
            raise
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
              "metadata": {"name": REPO_SECRET, "namespace": VELERO_NS},
              "data": {REPO_KEY: base64.b64encode(DEFAULT_REPO_PASSWORD.encode()).decode()}}
    try:
        store.create("", "secrets", secret)
    except AlreadyExists:
        return secret_value(store, VELERO_NS, REPO_SECRET, REPO_KEY)
    return DEFAULT_REPO_PASSWORD
