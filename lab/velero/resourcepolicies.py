"""Velero's check of the resource policies a Backup names
(spec.resourcePolicy, a ConfigMap in Velero's namespace; Velero 1.16.2
internal/resourcepolicies/resource_policies.go GetResourcePoliciesFromBackup
and volume_resources_validator.go). Only the check: the lab does not apply
the volume policies to a backup (README, "Where the lab simplifies")."""
import yaml

from lab.velero import kube

CONFIGMAP_KIND = "configmap"           # compared case-insensitively, as strings.EqualFold does
SUPPORTED_VERSION = "v1"               # currentSupportDataVersion
ACTION_TYPES = ("skip", "snapshot", "fs-backup")
# the Go types yaml.v3 decodes into, for its "field X not found in type T" errors
_FIELDS = {"resourcepolicies.ResourcePolicies": ("version", "volumePolicies"),
           "resourcepolicies.VolumePolicy": ("conditions", "action"),
           "resourcepolicies.Action": ("type", "parameters")}
_GO_TYPES = {"tag:yaml.org,2002:str": "string", "tag:yaml.org,2002:int": "int",
             "tag:yaml.org,2002:float": "float64", "tag:yaml.org,2002:bool": "bool",
             "tag:yaml.org,2002:null": "<nil>"}


class PolicyError(Exception):
    """The message Velero appends to status.validationErrors."""


def validation_errors(store, backup):
    """[] or the one validation error Velero gives the Backup's resource policy."""
    ref = (backup.get("spec") or {}).get("resourcePolicy") or {}
    if str(ref.get("kind") or "").lower() != CONFIGMAP_KIND:
        return []
    name = ref.get("name") or ""
    backup_key = f"{kube.NAMESPACE}/{kube.name_of(backup)}"
    configmap = store.get("", "configmaps", kube.NAMESPACE, name)
    if configmap is None:
        # the controller's cached client names the kind, not the resource
        return [f"fail to get ResourcePolicies {kube.NAMESPACE}/{name} ConfigMap with error "
                f"ConfigMap \"{name}\" not found"]
    try:
        policies = _read(configmap)
    except PolicyError as exc:
        # Velero names the Backup here, not the ConfigMap
        return [f"fail to read the ResourcePolicies from ConfigMap {backup_key} with error {exc}"]
    problem = _invalid(policies)
    if problem:
        return [f"fail to validate ResourcePolicies in ConfigMap {backup_key} with error {problem}"]
    return []


def _read(configmap):
    """getResourcePoliciesFromConfig + BuildPolicy: -> {"version", "actions", "capacities"}."""
    data = configmap.get("data") or {}
    if len(data) != 1:
        raise PolicyError(f"illegal resource policies {kube.NAMESPACE}/{kube.name_of(configmap)} configmap")
    text = next(iter(data.values()))
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        # yaml.v3 words its syntax errors otherwise ("yaml: line N: ..."): the prefix is Velero's
        raise PolicyError(f"failed to decode yaml data into resource policies  yaml: {_first_line(exc)}") from None
    if root is None:
        raise PolicyError("failed to decode yaml data into resource policies  EOF")
    problems = []
    version, policies = "", []
    if _mapping(root, "resourcepolicies.ResourcePolicies", problems):
        for key, value in root.value:
            if key.value == "version" and isinstance(value, yaml.ScalarNode):
                version = value.value
            elif key.value == "volumePolicies" and isinstance(value, yaml.SequenceNode):
                policies = [p for p in value.value if _mapping(p, "resourcepolicies.VolumePolicy", problems)]
    parsed = []
    for policy in policies:
        fields = {k.value: v for k, v in policy.value}
        action = fields.get("action")
        action_type = ""
        if action is not None and _mapping(action, "resourcepolicies.Action", problems):
            action_type = next((v.value for k, v in action.value if k.value == "type"
                                and isinstance(v, yaml.ScalarNode)), "")
        parsed.append((fields.get("conditions"), action_type))
    if problems:
        raise PolicyError("failed to decode yaml data into resource policies  yaml: unmarshal errors:\n  "
                          + "\n  ".join(problems))
    for conditions, _ in parsed:
        labels = _condition(conditions, "pvcLabels")
        if labels is not None and not isinstance(labels, yaml.MappingNode):
            raise PolicyError(f"pvcLabels must be a map of string to string, got {_go_type(labels)}")
    for conditions, _ in parsed:
        capacity = _condition(conditions, "capacity")
        text = capacity.value if isinstance(capacity, yaml.ScalarNode) and capacity.value else ","
        if len(text.split(",")) != 2:
            raise PolicyError(f"wrong format of Capacity {text}")
    return {"version": version, "actions": [action for _, action in parsed]}


def _invalid(policies):
    """Policies.Validate: the version, then each action's type."""
    if policies["version"] != SUPPORTED_VERSION:
        return f"incompatible version number {policies['version']} with supported version {SUPPORTED_VERSION}"
    for action in policies["actions"]:
        if action not in ACTION_TYPES:
            return f"invalid action type {action}"
    return None


def _mapping(node, go_type, problems):
    """True if node decodes into go_type; else yaml.v3's error about it is added."""
    if not isinstance(node, yaml.MappingNode):
        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            return False
        kind = "!!seq" if isinstance(node, yaml.SequenceNode) else "!!" + node.tag.rsplit(":", 1)[-1]
        value = "" if isinstance(node, yaml.SequenceNode) else \
            f" `{node.value[:7]}...`" if len(node.value) > 10 else f" `{node.value}`"
        problems.append(f"line {node.start_mark.line + 1}: cannot unmarshal {kind}{value} into {go_type}")
        return False
    for key, _ in node.value:
        if key.value not in _FIELDS[go_type]:
            problems.append(f"line {key.start_mark.line + 1}: field {key.value} not found in type {go_type}")
    return True


def _condition(conditions, name):
    if not isinstance(conditions, yaml.MappingNode):
        return None
    return next((v for k, v in conditions.value if k.value == name), None)


def _go_type(node):
    """Go's %T of what yaml.v3 decodes node into as an `any`."""
    if isinstance(node, yaml.SequenceNode):
        return "[]interface {}"
    return _GO_TYPES.get(node.tag, "string")


def _first_line(exc):
    return str(exc).strip().splitlines()[0]
