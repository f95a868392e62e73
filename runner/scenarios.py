"""Loads scenarios/*.yaml, validates each file against its JSON Schema under
schemas/, and checks what a schema cannot: that matrices name engines,
buckets, apps, plans, templates and stories that exist.

Every problem is one line: "FILE: path.to.field: message" (or
"FILE:LINE:COL: malformed YAML: ..."). Every function takes the project root.
"""
from __future__ import annotations

import json
import string
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import yaml

from runner import strategy
from runner.errors import UserError

SCENARIOS_DIR = "scenarios"
SCHEMAS_DIR = "schemas"
TARGETS_DIR = "scenarios/targets"
TEMPLATES_DIR = "features/templates"
CATALOGUES = ("engines", "buckets", "plans", "matrices")
APPS = "apps"
# axis name -> the catalogue its values come from
AXIS_CATALOGUE = {"engine": "engines", "bucket": "buckets", "app": "apps"}


@dataclass
class Scenarios:
    """The validated scenario model."""

    engines: dict
    buckets: dict
    plans: dict
    matrices: dict
    apps: dict
    apps_fallback: bool = False      # True when scenarios/apps.yaml does not exist
    stories: dict = field(default_factory=dict)

    def catalogue(self, name: str) -> dict:
        return getattr(self, name)

    def entry(self, axis: str, name: str) -> dict:
        """The catalogue entry of an axis value, with `name` added."""
        if axis == "app" and self.apps_fallback:
            return {"name": name, "title": name.capitalize()}
        return {**self.catalogue(AXIS_CATALOGUE[axis])[name], "name": name}


def field_path(parts) -> str:
    """["matrices", "schd", "axes", "engine", 4] -> "matrices.schd.axes.engine[4]"."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def load_yaml(root: Path, rel: str):
    """Parses one YAML file; a syntax error is a one-line UserError with line and column."""
    path = Path(root) / rel
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{rel}: cannot read: {exc.strerror}") from None
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{rel}:{mark.line + 1}:{mark.column + 1}" if mark else rel
        problem = " ".join(filter(None, [exc.context, exc.problem]))
        raise UserError(f"{where}: malformed YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise UserError(f"{rel}: malformed YAML: {exc}") from None


def load_schema(root: Path, rel: str) -> dict:
    path = Path(root) / rel
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError:
        raise UserError(f"{rel}: missing JSON Schema") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{rel}:{exc.lineno}:{exc.colno}: malformed JSON: {exc.msg}") from None


def schema_of(rel: str) -> str:
    """The schema a scenario file is validated against."""
    if is_target_profile(rel):
        return f"{SCHEMAS_DIR}/target.schema.json"
    return f"{SCHEMAS_DIR}/{Path(rel).stem}.schema.json"


def scenario_files(root: Path) -> list[str]:
    """Every YAML file under scenarios/ (targets included), relative to root."""
    base = Path(root) / SCENARIOS_DIR
    found = list(base.glob("*.yaml")) + list(base.glob("*.yml"))
    found += list((base / "targets").glob("*.yaml")) + list((base / "targets").glob("*.yml"))
    return sorted(p.relative_to(root).as_posix() for p in found)


def schema_problems(rel: str, data, schema: dict) -> list[str]:
    validator_class = jsonschema.validators.validator_for(schema)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(data), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    return [f"{rel}: {field_path(e.absolute_path)}: {' '.join(_message(e).split())}" for e in errors]


def _message(error) -> str:
    """A schema's own words where it has them: a `const` a condition imposes
    says why in its description ("'csi' was expected" would not)."""
    if error.validator == "const" and isinstance(error.schema, dict) and error.schema.get("description"):
        return f"{error.instance!r}: {error.schema['description']}"
    return error.message


def profile_problem(rel: str, data, schema: dict) -> str | None:
    """The one line a target profile's schema violation gives, or None.
    best_match descends into oneOf/anyOf alternatives to the error that says
    most; the message names fields only (see _profile_message)."""
    validator_class = jsonschema.validators.validator_for(schema)
    error = jsonschema.exceptions.best_match(validator_class(schema).iter_errors(data))
    if error is None:
        return None
    return f"{rel}: {field_path(error.absolute_path)}: {_profile_message(error)}"


def _profile_message(error) -> str:
    # jsonschema quotes whole instances in its messages; a secret pasted into
    # a profile by mistake must not reach a terminal, so name fields only.
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return f"unknown field(s) {', '.join(extra)}"
    if error.validator == "required":
        return error.message.split(" is a required")[0] + " is required"
    if error.validator == "enum":
        return f"must be one of {', '.join(map(str, error.validator_value))}"
    if error.validator == "type":
        return f"must be of type {error.validator_value}"
    if error.validator == "pattern":
        return f"must match {error.validator_value}"
    if error.validator in ("oneOf", "anyOf", "not", "if", "then", "else", "dependentRequired"):
        return error.schema.get("description") or f"fails {error.validator}"
    return " ".join(error.message.split())


def is_target_profile(rel: str) -> bool:
    return rel.startswith(TARGETS_DIR + "/")


def load_file(root: Path, rel: str) -> tuple[object, list[str]]:
    """(data, problems) of one scenario file: YAML syntax, then its schema
    (a target profile: its one best-matching problem, naming fields only)."""
    try:
        data = load_yaml(root, rel)
        schema = load_schema(root, schema_of(rel))
    except UserError as exc:
        return None, [exc.message]
    if is_target_profile(rel):
        problem = profile_problem(rel, data, schema)
        return data, [problem] if problem else []
    return data, schema_problems(rel, data, schema)


def reference_problems(root: Path, model: Scenarios) -> list[str]:
    """What the schemas cannot see: names a matrix uses must exist."""
    rel = f"{SCENARIOS_DIR}/matrices.yaml"
    problems = []
    known_stories = model.stories
    for mid, matrix in model.matrices.items():
        at = f"matrices.{mid}"
        for axis, values in matrix.get("axes", {}).items():
            for index, value in enumerate(values):
                problems += _unknown(rel, f"{at}.axes.{axis}[{index}]", axis, value, model)
        for axis, value in matrix.get("fixed", {}).items():
            problems += _unknown(rel, f"{at}.fixed.{axis}", axis, value, model)
            if axis in matrix.get("axes", {}):
                problems.append(f"{rel}: {at}.fixed.{axis}: '{axis}' is both an axis and fixed")
        for axis, value in matrix.get("short_fixed", {}).items():
            problems += _unknown(rel, f"{at}.short_fixed.{axis}", axis, value, model)
        if matrix.get("short_fixed") and not matrix.get("short_plan"):
            problems.append(f"{rel}: {at}.short_fixed: there is no short form (no short_plan)")
        for field in ("plan", "short_plan"):
            if field in matrix and matrix[field] not in model.plans:
                problems.append(f"{rel}: {at}.{field}: unknown plan '{matrix[field]}' "
                                f"(known: {', '.join(model.plans)})")
        if not (Path(root) / TEMPLATES_DIR / matrix["template"]).is_file():
            problems.append(f"{rel}: {at}.template: no such template {TEMPLATES_DIR}/{matrix['template']}")
        if matrix["story"] not in known_stories:
            problems.append(f"{rel}: {at}.story: no section '### {matrix['story']}' in {strategy.STRATEGY_DOC}")
        names = {n for _, n, _, _ in string.Formatter().parse(matrix["tcid"]) if n is not None}
        given = set(matrix.get("axes", {})) | set(matrix.get("fixed", {}))
        for name in sorted(names - given):
            problems.append(f"{rel}: {at}.tcid: placeholder {{{name}}} is neither an axis nor fixed")
        missing = sorted(set(AXIS_CATALOGUE) - given)
        if missing:
            problems.append(f"{rel}: {at}: no value for {', '.join(missing)} (give it in axes or fixed)")
    plans_rel = f"{SCENARIOS_DIR}/plans.yaml"
    for pid, plan in model.plans.items():
        for index, bucket in enumerate(plan.get("locations", [])):
            if bucket not in model.buckets:
                problems.append(f"{plans_rel}: plans.{pid}.locations[{index}]: unknown bucket '{bucket}' "
                                f"(known: {', '.join(model.buckets)})")
    return problems + _engine_problems(model.engines)


def _engine_problems(engines: dict) -> list[str]:
    """The OpenEBS plugin takes a volume by its CSI driver: engines sharing a
    provisioner must agree on snapshot backup."""
    rel = f"{SCENARIOS_DIR}/engines.yaml"
    problems = []
    for name, engine in engines.items():
        other = next((o for o, e in engines.items() if e["provisioner"] == engine["provisioner"]
                      and e["backup"] != engine["backup"]), None)
        if engine["backup"] == "snapshot" and other:
            problems.append(f"{rel}: engines.{name}.backup: snapshot, but engine '{other}' with the same "
                            f"provisioner {engine['provisioner']} says {engines[other]['backup']} (snapshots "
                            f"are taken by CSI driver)")
    return problems


def target_problems(loaded: dict, model: Scenarios) -> list[str]:
    """Engines a target profile names (unsupported_engines, lab.engines) must
    be engines of scenarios/engines.yaml."""
    problems = []
    for rel, profile in loaded.items():
        if not rel.startswith(TARGETS_DIR + "/") or not isinstance(profile, dict):
            continue
        named = [(f"unsupported_engines.{name}", name) for name in profile.get("unsupported_engines") or {}]
        named += [(f"lab.engines[{index}]", name)
                  for index, name in enumerate((profile.get("lab") or {}).get("engines") or [])]
        problems += [f"{rel}: {where}: unknown engine '{name}' (known: {', '.join(model.engines)})"
                     for where, name in named if name not in model.engines]
    return problems


def _unknown(rel: str, where: str, axis: str, value: str, model: Scenarios) -> list[str]:
    if axis == "app" and model.apps_fallback:
        return []
    known = model.catalogue(AXIS_CATALOGUE[axis])
    if value in known:
        return []
    return [f"{rel}: {where}: unknown {axis} '{value}' (known: {', '.join(known)})"]


def collect(root: Path) -> tuple[Scenarios | None, list[str]]:
    """Validates every scenario file; returns the model (None if a catalogue is unusable) and all problems."""
    root = Path(root)
    problems: list[str] = []
    loaded: dict[str, object] = {}
    for rel in scenario_files(root):
        data, found = load_file(root, rel)
        problems += found
        loaded[rel] = None if found else data
    for name in CATALOGUES:
        rel = f"{SCENARIOS_DIR}/{name}.yaml"
        if rel not in loaded:
            problems.append(f"{rel}: missing")
    usable = {name: loaded.get(f"{SCENARIOS_DIR}/{name}.yaml") for name in CATALOGUES + (APPS,)}
    if any(usable[name] is None for name in CATALOGUES):
        return None, problems
    apps_rel = f"{SCENARIOS_DIR}/{APPS}.yaml"
    if apps_rel in loaded and usable[APPS] is None:
        return None, problems
    stories = strategy.stories(strategy.read(root))
    model = Scenarios(
        engines=usable["engines"]["engines"],
        buckets=usable["buckets"]["buckets"],
        plans=usable["plans"]["plans"],
        matrices=usable["matrices"]["matrices"],
        apps=(usable[APPS] or {}).get("apps", {}),
        apps_fallback=apps_rel not in loaded,
        stories=stories,
    )
    problems += reference_problems(root, model) + target_problems(loaded, model)
    return model, problems


def load(root: Path) -> Scenarios:
    """The validated model, or a UserError with the first problem."""
    model, problems = collect(root)
    if problems:
        more = f" (and {len(problems) - 1} more; run `dmaas validate`)" if len(problems) > 1 else ""
        raise UserError(problems[0] + more)
    return model


def targets(root: Path) -> list[str]:
    """Names of the target profiles under scenarios/targets/."""
    return sorted(p.stem for p in (Path(root) / TARGETS_DIR).glob("*.yaml"))


@dataclass
class Profile:
    """A validated target profile: `path` as messages name it (relative to
    the project root when inside it), `data` the YAML."""

    name: str
    path: Path
    data: dict

    @property
    def kind(self):
        return self.data["kind"]


def profile_path(root: Path, name_or_path) -> Path:
    """A profile name (`lab`) -> scenarios/targets/lab.yaml; a path (a
    .yaml/.yml file or anything with a slash) stays that path. Relative to
    root when inside it."""
    text = str(name_or_path)
    if not (text.endswith((".yaml", ".yml")) or "/" in text):
        return Path(TARGETS_DIR) / f"{text}.yaml"
    path = Path(text)
    try:
        return (path if path.is_absolute() else Path(root) / path).resolve().relative_to(Path(root).resolve())
    except ValueError:
        return path


def load_target_profile(root: Path, name_or_path) -> Profile:
    """The one loader of target profiles (`dmaas run|validate --target`, the
    behave hooks, `dmaas monitor`): YAML, then the schema; every problem is
    a UserError of one line naming the file and field; an unknown name
    lists the known ones."""
    path = profile_path(root, name_or_path)
    if not (Path(root) / path).is_file():
        if path.parent == Path(TARGETS_DIR) and str(name_or_path) == path.stem:
            known = targets(root)
            raise UserError(f"unknown target '{name_or_path}' (known: {', '.join(known) or 'none'}; "
                            f"profiles live in {TARGETS_DIR}/<name>.yaml)")
        raise UserError(f"{path}: no such target profile (known: {', '.join(targets(root)) or 'none'})")
    data = load_yaml(root, str(path))
    problem = profile_problem(str(path), data, load_schema(root, f"{SCHEMAS_DIR}/target.schema.json"))
    if problem:
        raise UserError(problem)
    return Profile(name=path.stem, path=path, data=data)


def target_profile(root: Path, name: str) -> dict:
    """The data of target profile `name` (see load_target_profile)."""
    return load_target_profile(root, name).data
