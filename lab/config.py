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
_ENGINE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_CLASS_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")   # a DNS subdomain
# How an engine's PVs point at their data (spec.csi with the engine's
# provisioner as driver, spec.local or spec.hostPath) and how Velero backs
# them up (the OpenEBS plugin's snapshots, or file-system backup).
VOLUME_KINDS = ("csi", "local", "hostpath")
BACKUP_KINDS = ("snapshot", "fs")
ENGINE_FIELDS = ("storage_class", "provisioner", "parameters", "annotations", "volume", "backup")

# The engines a lab serves when its config names none (`python -m lab up`):
# OpenEBS's own classes. The runner passes the entries of scenarios/engines.yaml.
_LOCAL_CONFIG = '- name: StorageType\n  value: "{}"\n'
DEFAULT_ENGINES = {
    "cstor": {"storage_class": "openebs-cstor-csi", "provisioner": "cstor.csi.openebs.io",
              "parameters": {"cas-type": "cstor", "cstorPoolCluster": "cstor-disk-pool", "replicaCount": "1"},
              "volume": "csi", "backup": "snapshot"},
    "jiva": {"storage_class": "openebs-jiva-csi", "provisioner": "jiva.csi.openebs.io",
             "parameters": {"cas-type": "jiva", "policy": "openebs-jiva-default-policy"},
             "volume": "csi", "backup": "fs"},
    "local-dev": {"storage_class": "openebs-device", "provisioner": "openebs.io/local",
                  "annotations": {"openebs.io/cas-type": "local",
                                  "cas.openebs.io/config": _LOCAL_CONFIG.format("device")},
                  "volume": "local", "backup": "fs"},
    "local-hp": {"storage_class": "openebs-hostpath", "provisioner": "openebs.io/local",
                 "annotations": {"openebs.io/cas-type": "local",
                                 "cas.openebs.io/config": _LOCAL_CONFIG.format("hostpath")
                                 + '- name: BasePath\n  value: "/var/openebs/local"\n'},
                 "volume": "hostpath", "backup": "fs"},
}


class ConfigError(ValueError):
    """Bad lab configuration; the message is one line."""


@dataclass
class ClusterSpec:
    name: str
    version: str = DEFAULT_VERSION
    velero_version: str = DEFAULT_VELERO_VERSION


@dataclass(frozen=True)
class EngineSpec:
    """A storage engine the lab provisions: its StorageClass, the shape of its
    PVs (`volume`) and how its volumes are backed up (`backup`)."""
    name: str
    storage_class: str
    provisioner: str
    volume: str
    backup: str
    parameters: dict = field(default_factory=dict)
    annotations: dict = field(default_factory=dict)

    def as_mapping(self):
        return {name: getattr(self, name) for name in ENGINE_FIELDS}


@dataclass
class LabConfig:
    clusters: list = field(default_factory=lambda: [ClusterSpec("backup"), ClusterSpec("restore")])
    s3: list = field(default_factory=lambda: ["minio", "aws"])
    start: str = DEFAULT_START
    host: str = "127.0.0.1"          # where every server binds: loopback, or a real stack's own address
    engines: dict = field(default_factory=lambda: _engines(DEFAULT_ENGINES, "engines"))   # name -> EngineSpec


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
    unknown = sorted(set(data) - {"clusters", "s3", "start", "engines", "host"})
    if unknown:
        raise ConfigError(f"{prefix}{unknown[0]}: unknown field (known: clusters, s3, start, engines, host)")
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
    if "engines" in data:
        config.engines = _engines(data["engines"], prefix + "engines")
    if "host" in data:
        config.host = _host(data["host"], prefix + "host")
    return config


def _host(value, where):
    """Loopback, or an address in 10.200.0.0/16, where a real stack puts its
    own (runner/realstack/network.py): nothing the lab serves is reachable
    from beyond this machine."""
    import ipaddress
    try:
        address = ipaddress.IPv4Address(str(value))
    except ValueError:
        raise ConfigError(f"{where}: {value!r} is not an IPv4 address") from None
    if not (address.is_loopback or address in ipaddress.IPv4Network("10.200.0.0/16")):
        raise ConfigError(f"{where}: {value} is neither loopback nor a real stack's address (10.200.0.0/16)")
    return str(address)


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


def _engines(items, where):
    """{name: {storage_class, provisioner, parameters, annotations, volume, backup}} -> {name: EngineSpec}."""
    if not isinstance(items, dict):
        raise ConfigError(f"{where}: expected a mapping of engine name -> "
                          f"{{{', '.join(ENGINE_FIELDS)}}}")
    specs = {}
    for name, item in items.items():
        here = f"{where}.{name}"
        if not isinstance(name, str) or not _ENGINE_NAME.match(name):
            raise ConfigError(f"{where}: bad engine name {name!r} (lower-case letters, digits and '-')")
        specs[name] = _engine(name, item, here)
    classes = {}
    for spec in specs.values():
        if spec.storage_class in classes:
            raise ConfigError(f"{where}.{spec.name}.storage_class: {spec.storage_class!r} is also "
                              f"engine {classes[spec.storage_class]!r}'s")
        classes[spec.storage_class] = spec.name
    for spec in specs.values():
        # the OpenEBS plugin takes a volume by its CSI driver: one driver, one way
        other = next((o for o in specs.values() if o.provisioner == spec.provisioner and o.backup != spec.backup),
                     None)
        if spec.backup == "snapshot" and other is not None:
            raise ConfigError(f"{where}.{spec.name}.backup: snapshot, but engine {other.name!r} with the same "
                              f"provisioner {spec.provisioner!r} says {other.backup} (snapshots are taken by "
                              f"CSI driver)")
    return specs


def _engine(name, item, where):
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: expected a mapping with {', '.join(ENGINE_FIELDS)}")
    unknown = sorted(set(item) - set(ENGINE_FIELDS))
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown field (known: {', '.join(ENGINE_FIELDS)})")
    for required in ("storage_class", "provisioner", "volume", "backup"):
        if required not in item:
            raise ConfigError(f"{where}: missing {required}")
    storage_class, provisioner = item["storage_class"], item["provisioner"]
    if not isinstance(storage_class, str) or not _CLASS_NAME.match(storage_class):
        raise ConfigError(f"{where}.storage_class: {storage_class!r} is not a StorageClass name "
                          f"(lowercase letters, digits, '-' and '.')")
    if not isinstance(provisioner, str) or not provisioner.strip():
        raise ConfigError(f"{where}.provisioner: expected a provisioner name like example.csi.io")
    if item["volume"] not in VOLUME_KINDS:
        raise ConfigError(f"{where}.volume: {item['volume']!r} is not one of {', '.join(VOLUME_KINDS)}")
    if item["backup"] not in BACKUP_KINDS:
        raise ConfigError(f"{where}.backup: {item['backup']!r} is not one of {', '.join(BACKUP_KINDS)}")
    if item["backup"] == "snapshot" and item["volume"] != "csi":
        raise ConfigError(f"{where}.backup: snapshot needs volume: csi (the OpenEBS plugin snapshots "
                          f"volumes by their CSI driver)")
    return EngineSpec(name=name, storage_class=storage_class, provisioner=provisioner, volume=item["volume"],
                      backup=item["backup"], parameters=_strings(item.get("parameters"), f"{where}.parameters"),
                      annotations=_strings(item.get("annotations"), f"{where}.annotations"))


def _strings(mapping, where):
    if mapping is None:
        return {}
    if not isinstance(mapping, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                for k, v in mapping.items()):
        raise ConfigError(f"{where}: expected a mapping of strings to strings")
    return dict(mapping)
