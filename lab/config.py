"""The lab's configuration (`lab:` section of a target profile), validated
into plain values. Errors are one line naming the file and the field."""
import re
from dataclasses import dataclass, field

import yaml

from lab.apiserver.registry import parse_k8s_version
from lab.clock import DEFAULT_START, parse_time
from lab.s3 import PROFILE_NAME

DEFAULT_VERSION = "1.29.4"
DEFAULT_VELERO_VERSION = "1.16.2"     # the release the real stack builds (realstack/versions.env)
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")     # a DNS-1123 label
_VELERO_VERSION = re.compile(r"^v?\d+\.\d+(\.\d+)?$")


class ConfigError(ValueError):
    """Bad lab configuration; the message is one line."""


@dataclass
class ClusterSpec:
    name: str
    version: str = DEFAULT_VERSION
    velero_version: str = DEFAULT_VELERO_VERSION


@dataclass
class LabConfig:
    clusters: list = field(default_factory=lambda: [ClusterSpec("backup"), ClusterSpec("restore")])
    s3: list = field(default_factory=lambda: ["minio", "aws"])
    start: str = DEFAULT_START


def check_cluster(name, version=None, velero_version=None, where="cluster"):
    """Validate one cluster's fields -> ClusterSpec (ConfigError on bad input)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"{where}.name: {name!r} is not a DNS label (lowercase letters, digits, '-')")
    version = DEFAULT_VERSION if version is None else str(version)
    try:
        parse_k8s_version(version)
    except ValueError as error:
        raise ConfigError(f"{where}.version: {error}")
    velero_version = DEFAULT_VELERO_VERSION if velero_version is None else str(velero_version)
    if not _VELERO_VERSION.match(velero_version):
        raise ConfigError(f"{where}.velero_version: {velero_version!r} is not a version like 1.12.4")
    return ClusterSpec(name, version, velero_version.lstrip("v"))


def parse_config(data, source="<config>"):
    """A mapping (with or without a top-level `lab:`) -> LabConfig."""
    try:
        return _parse(data)
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from None


def load_config(path):
    """Read a YAML file ('-' reads stdin) -> LabConfig."""
    import sys
    try:
        text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}") from None
    return parse_config(data, path)


def _parse(data):
    if data is None:
        return LabConfig()
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping with a `lab:` section")
    if "lab" in data:
        data = data["lab"] if data["lab"] is not None else {}
        prefix = "lab."
        if not isinstance(data, dict):
            raise ConfigError("lab: expected a mapping")
    else:
        prefix = ""
    unknown = sorted(set(data) - {"clusters", "s3", "start"})
    if unknown:
        raise ConfigError(f"{prefix}{unknown[0]}: unknown field (known: clusters, s3, start)")
    config = LabConfig()
    if "clusters" in data:
        config.clusters = _clusters(data["clusters"], prefix + "clusters")
    if "s3" in data:
        config.s3 = _profiles(data["s3"], prefix + "s3")
    if "start" in data:
        start = data["start"]
        text = start.isoformat() if hasattr(start, "isoformat") else str(start)
        try:
            parse_time(text)
        except ValueError:
            raise ConfigError(f"{prefix}start: {start!r} is not an RFC 3339 time like 2026-01-05T00:00:00Z")
        config.start = text
    return config


def _clusters(items, where):
    if not isinstance(items, list):
        raise ConfigError(f"{where}: expected a list of {{name, version, velero_version}}")
    specs, names = [], set()
    for index, item in enumerate(items):
        here = f"{where}[{index}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{here}: expected a mapping with name, version, velero_version")
        unknown = sorted(set(item) - {"name", "version", "velero_version"})
        if unknown:
            raise ConfigError(f"{here}.{unknown[0]}: unknown field (known: name, version, velero_version)")
        spec = check_cluster(item.get("name"), item.get("version"), item.get("velero_version"), here)
        if spec.name in names:
            raise ConfigError(f"{here}.name: duplicate cluster name {spec.name!r}")
        names.add(spec.name)
        specs.append(spec)
    return specs


def _profiles(items, where):
    if not isinstance(items, list):
        raise ConfigError(f"{where}: expected a list of S3 profile names")
    for index, item in enumerate(items):
        if not isinstance(item, str) or not PROFILE_NAME.match(item):
            raise ConfigError(f"{where}[{index}]: bad S3 profile name {item!r} "
                              f"(lower-case letters, digits and '-')")
    if len(set(items)) != len(items):
        raise ConfigError(f"{where}: a profile is listed twice")
    return list(items)
