"""Preflight of a real target for the selected scenarios, before any of them
runs (`dmaas run`, `dmaas validate --target`).

Every cluster and bucket profile of the profile the scenarios name (a
quoted name in a step, `cluster "source"`, `"minio"`) is reached once, the
way the driver will reach it, and checked for what the stories need:

- the kubeconfig context exists, the API answers, Velero's API group and
  namespace are there;
- Velero answers a ServerStatusRequest, and has the plugins the scenarios
  need (an object store for the buckets: `velero.io/aws`; for snapshot
  engines the OpenEBS VolumeSnapshotter the DMaaS layer configures);
- node-agent is ready where file-system engines are used;
- the StorageClass of every engine used is there with its provisioner (a
  run never creates one with the catalogue's parameters on such a target);
- the cluster runs the versions the profile says (a minor or a minimum);
- the S3 endpoint answers to the keys from the environment, with the
  bucket's TLS options, and the bucket exists or may be created.

Velero's garbage-collection frequency is read from its server's arguments
where the Deployment shows them (else the profile's velero_gc_period is
used), and a warning says when it and the time scale make a scenario's
retention check unable to fail or its day-old restore point impossible
(runner/targets/real_time.py; those scenarios are skipped with that reason).
What `dmaas run` would skip (engines the profile cannot serve, clusters it
cannot create or must not destroy) is listed too: `dmaas validate` reports
it. Each finding is one line naming the profile file, the cluster or bucket
profile, the endpoint or context and what is missing, never a library's
exception text.
"""
from __future__ import annotations

import os

import yaml

from runner import catalogues, features
from runner.driver.reachability import CONNECT_TIMEOUT, reason
from runner.errors import TargetError
from runner.targets import inspect, real_time
from runner.targets.base import Findings
from runner.versions import describe, matches

OBJECT_STORE = ("ObjectStore", "velero.io/aws")              # the BSLs' provider (runner/dmaas/locations.py)
SNAPSHOTTER = ("VolumeSnapshotter", "openebs.io/cstor-blockstore")   # the VSLs' (runner/dmaas/locations.py)


def check(target, root, selection) -> Findings:
    """What the selected scenarios (runner.features entries) need of a RealTarget."""
    findings = Findings()
    names = features.quoted_names(root, selection)
    scenarios = features.selected_scenarios(root, selection)
    engines = catalogues.engines(root)
    used = [engines[name] for name in sorted(set(engines) & names)]
    served = [e for e in used if e.name not in target.unsupported_engines]
    buckets = sorted(set(target.profile_buckets) & names)
    for cluster in sorted(set(target._clusters) & names):
        for entry in target._clusters[cluster]:
            findings.problems += _check_cluster(target, cluster, entry, served, bool(buckets))
    for bucket in buckets:
        findings.problems += _check_bucket(target, bucket)
    for bucket in sorted((set(catalogues.buckets(root)) & names) - set(target.profile_buckets)):
        findings.skips.append(f"{target.path}: buckets.{bucket}: the selected scenarios use bucket profile {bucket}, "
                              f"which this target does not give; `dmaas run` skips them")
    skipped = set()
    for scenario in scenarios:
        for action, name in features.step_needs(scenario.all_steps):
            if action == "serve_engine":        # named once per engine by the kind's own preflight
                continue
            why = target.cannot(action, name)
            if why and why not in skipped:
                skipped.add(why)
                findings.skips.append(f"{target.path}: {why}; `dmaas run` skips the scenarios that need it")
        for why in real_time.problems(scenario.all_steps, target):
            if why not in skipped:
                skipped.add(why)
                findings.warnings.append(f"{target.path}: {scenario.name}: {why}; `dmaas run` skips it")
    return findings


def _where(target, field: str) -> str:
    return f"{target.path}: {field}"


def _check_cluster(target, name: str, entry: dict, engines, buckets) -> list[str]:
    from kubernetes.client.rest import ApiException

    try:
        info = target._info(name, entry)
    except TargetError as error:
        return [error.message]
    source = f"${entry['kubeconfig_env']}" if entry.get("kubeconfig_env") else info.kubeconfig
    where = _where(target, f"clusters.{name}")
    problem = _kubeconfig_problem(info, source)
    if problem:
        return [f"{where}: {problem}"]
    try:
        cluster = inspect.client(info, target.velero_namespace, target.profile.data.get("name_prefix", "dmaas-"),
                                 retries=0)
    except Exception as error:  # noqa: BLE001 -- the kubernetes client's config errors
        return [f'{where}: context "{info.context}" in {source} is not usable: {_first_line(error)}']
    where = f"{where} (context {info.context}, {cluster.api.configuration.host})"
    try:
        from kubernetes import client
        version = client.VersionApi(cluster.api).get_code(_request_timeout=CONNECT_TIMEOUT).git_version
        groups = client.ApisApi(cluster.api).get_api_versions(_request_timeout=CONNECT_TIMEOUT)
        if "velero.io" not in {g.name for g in groups.groups}:
            return [f"{where}: Velero's CRDs are not installed (no velero.io API group)"]
        client.CoreV1Api(cluster.api).read_namespace(target.velero_namespace, _request_timeout=CONNECT_TIMEOUT)
    except ApiException as error:
        if error.status == 404:
            return [f"{where}: no namespace '{target.velero_namespace}' (velero_namespace)"]
        return [f"{where}: {_http_reason(error.status)}"]
    except Exception as error:  # noqa: BLE001 -- urllib3's connection errors, said in words
        return [f"{where}: {reason(error)}"]
    problems = []
    if entry.get("version") and not matches(version, entry["version"]):
        problems.append(f"{where}: runs Kubernetes {version}, the profile says {describe(entry['version'])}")
    problems += _check_velero(cluster, where, entry, engines, buckets)
    for engine in engines:
        problem = inspect.storage_class_problem(cluster, engine)
        if problem:
            problems.append(f"{where}: {problem}")
    seconds = inspect.gc_frequency(cluster)
    if seconds is not None:
        target.gc_read[name] = seconds
    cluster.api.close()
    return problems


def _check_velero(cluster, where, entry, engines, buckets) -> list[str]:
    """Velero's own account (version, plugins) and node-agent, as the engines need them."""
    try:
        status = inspect.server_status(cluster)
    except Exception as error:  # noqa: BLE001 -- a wait that ran out, or the API refused
        return [f"{where}: Velero did not answer a ServerStatusRequest: {_first_line(error)} (is its server "
                f"running in namespace {cluster.velero_namespace}?)"]
    problems = []
    if entry.get("velero_version") and not matches(status["serverVersion"], entry["velero_version"]):
        problems.append(f"{where}: Velero says it is {status['serverVersion']}, the profile says "
                        f"{describe(entry['velero_version'])}")
    plugins = {(p.get("kind"), p.get("name")) for p in status["plugins"]}
    needed = ([OBJECT_STORE] if buckets else []) + ([SNAPSHOTTER] if any(e.snapshots for e in engines) else [])
    for kind, plugin in needed:
        if (kind, plugin) not in plugins:
            what = ", ".join(e.name for e in engines if e.snapshots) if kind == "VolumeSnapshotter" else "buckets"
            problems.append(f"{where}: Velero has no {kind} plugin {plugin} (needed for {what})")
    if any(not e.snapshots for e in engines):
        problem = inspect.node_agent_problem(cluster)
        if problem:
            problems.append(f"{where}: {problem}; needed for file-system backup of "
                            f"{', '.join(e.name for e in engines if not e.snapshots)} volumes")
    return problems


def _kubeconfig_problem(info, source):
    if not os.path.isfile(info.kubeconfig):
        return f"kubeconfig {info.kubeconfig} ({source}) does not exist"
    try:
        with open(info.kubeconfig, encoding="utf-8") as file:
            contexts = (yaml.safe_load(file) or {}).get("contexts") or []
        names = {c.get("name") for c in contexts if isinstance(c, dict)}
    except (OSError, ValueError, AttributeError, yaml.YAMLError) as error:
        return f"kubeconfig {info.kubeconfig} ({source}) cannot be read: {_first_line(error)}"
    if info.context not in names:
        return f'no context "{info.context}" in {source}'
    return None


def _check_bucket(target, name: str) -> list[str]:
    from botocore.exceptions import BotoCoreError, ClientError

    from runner.driver.buckets import s3_client
    try:
        profile = target.bucket_profile(name)
    except TargetError as error:
        return [error.message]
    where = _where(target, f"buckets.{name} ({profile.endpoint}, bucket {profile.bucket})")
    s3 = s3_client(profile, connect_timeout=CONNECT_TIMEOUT, read_timeout=CONNECT_TIMEOUT, attempts=1)
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
