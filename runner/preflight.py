"""Preflight: a real target checked before any scenario runs.

For the selected scenarios, every cluster and bucket profile of the target
profile they name (a quoted name in a step, `cluster "source"`, `"minio"`) is
reached once, the way the driver will reach it: the kubeconfig context
exists, the API answers, Velero's API group and namespace are there; the S3
endpoint answers to the keys from the environment and the bucket exists or
may be created. Each problem is one line naming the profile file, the
cluster or bucket profile, the endpoint or context and what was wrong, never
a library's exception text.

Targets the run starts itself (the lab, the real stack, a profile that
starts a lab) are not checked here: starting them is their check.
"""
from __future__ import annotations

import os

import yaml

from runner.driver.reachability import CONNECT_TIMEOUT, reason


def check(target, names: set[str]) -> list[str]:
    """The problems of a RealTarget's clusters and buckets that `names` holds
    (runner.features.quoted_names of the selected scenarios)."""
    problems = []
    for cluster in sorted(set(target._clusters) & names):
        for entry in target._clusters[cluster]:
            problems += _check_cluster(target, cluster, entry)
    for bucket in sorted(set(target._buckets) & names):
        problems += _check_bucket(target, bucket)
    return problems


def _where(target, field: str) -> str:
    return f"{target.path}: {field}"


def _check_cluster(target, name: str, entry: dict) -> list[str]:
    from kubernetes import client, config
    from kubernetes.client.rest import ApiException
    from kubernetes.config.config_exception import ConfigException

    from runner.target import TargetError
    try:
        info = target._info(name, entry)
    except TargetError as error:
        return [error.message]
    source = f"${entry['kubeconfig_env']}" if entry.get("kubeconfig_env") else info.kubeconfig
    where = _where(target, f"clusters.{name}")
    if not os.path.isfile(info.kubeconfig):
        return [f"{where}: kubeconfig {info.kubeconfig} ({source}) does not exist"]
    try:
        with open(info.kubeconfig, encoding="utf-8") as file:
            contexts = (yaml.safe_load(file) or {}).get("contexts") or []
        names = {c.get("name") for c in contexts if isinstance(c, dict)}
    except (OSError, ValueError, AttributeError, yaml.YAMLError) as error:
        return [f"{where}: kubeconfig {info.kubeconfig} ({source}) cannot be read: {_first_line(error)}"]
    if info.context not in names:
        return [f'{where}: no context "{info.context}" in {source}']
    try:
        configuration = client.Configuration()
        config.load_kube_config(config_file=info.kubeconfig, context=info.context,
                                client_configuration=configuration)
        configuration.retries = 0          # one try: urllib3 would log each retry
        api = client.ApiClient(configuration)
    except (ConfigException, OSError, ValueError) as error:
        return [f'{where}: context "{info.context}" in {source} is not usable: {_first_line(error)}']
    server = api.configuration.host
    where = f"{where} (context {info.context}, {server})"
    try:
        client.VersionApi(api).get_code(_request_timeout=CONNECT_TIMEOUT)
        groups = client.ApisApi(api).get_api_versions(_request_timeout=CONNECT_TIMEOUT)
        if "velero.io" not in {g.name for g in groups.groups}:
            return [f"{where}: Velero's CRDs are not installed (no velero.io API group)"]
        client.CoreV1Api(api).read_namespace(target.velero_namespace, _request_timeout=CONNECT_TIMEOUT)
    except ApiException as error:
        if error.status == 404:
            return [f"{where}: no namespace '{target.velero_namespace}' (velero_namespace)"]
        return [f"{where}: {_http_reason(error.status)}"]
    except Exception as error:  # noqa: BLE001 -- urllib3's connection errors, said in words
        return [f"{where}: {reason(error)}"]
    finally:
        api.close()
    return []


def _check_bucket(target, name: str) -> list[str]:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    from runner.target import TargetError
    try:
        profile = target.bucket_profile(name)
    except TargetError as error:
        return [error.message]
    where = _where(target, f"buckets.{name} ({profile.endpoint}, bucket {profile.bucket})")
    s3 = boto3.client("s3", endpoint_url=profile.endpoint, region_name=profile.region,
                      aws_access_key_id=profile.access_key, aws_secret_access_key=profile.secret_key,
                      config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                                    connect_timeout=CONNECT_TIMEOUT, read_timeout=CONNECT_TIMEOUT))
    try:
        s3.head_bucket(Bucket=profile.bucket)
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in ("404", "NoSuchBucket"):
            return []            # the driver creates it
        if status in (401, 403) or code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return [f"{where}: access denied with the keys in ${target._buckets[name]['access_key_env']} "
                    f"and ${target._buckets[name]['secret_key_env']}"]
        return [f"{where}: {_http_reason(status) if status else code}"]
    except BotoCoreError as error:
        return [f"{where}: {reason(error)}"]
    finally:
        s3.close()
    return []


def _first_line(error: Exception) -> str:
    text = " ".join(str(error).split())
    return text[:160] or type(error).__name__


def _http_reason(status) -> str:
    return {401: "access denied (HTTP 401: the credentials were refused)",
            403: "access denied (HTTP 403)"}.get(status, f"unexpected answer (HTTP {status})")
