"""An index of the feature files (hand-written and generated): TCID, tags,
scenario count, parsed by behave's own parser."""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

from behave.model import ScenarioOutline
from behave.parser import ParserError, parse_file
from behave.tag_expression import make_tag_expression

from runner.errors import UserError


@dataclass(frozen=True)
class FeatureEntry:
    tcid: str
    tags: list[str]
    scenarios: int
    path: str


def feature_paths(root: Path) -> list[Path]:
    """The feature files in the order a serial run takes them (serial_key orders their scenarios so)."""
    base = Path(root) / "features"
    return sorted(base.glob("*.feature")) + sorted((base / "generated").glob("*.feature"))


def serial_key(location: str) -> tuple:
    """Where a scenario ("features/x.feature:12") comes in a serial run: hand-written
    features first, then generated ones, each by path, then by line."""
    path, _, line = location.rpartition(":")
    return path.startswith("features/generated/"), path, int(line) if line.isdigit() else 0


def _scenarios(feature):
    for scenario in feature.scenarios:
        if isinstance(scenario, ScenarioOutline):
            yield from scenario.scenarios
        else:
            yield scenario


def _selected(root: Path, tags: list[str]):
    """(relative path, feature, [scenarios the tags select]) per feature file, in serial order."""
    try:
        expression = make_tag_expression(tags) if tags else None
    except Exception as exc:  # noqa: BLE001 -- behave's parser raises several kinds
        reason = " ".join(str(exc).split()).split(" Expression:")[0] or type(exc).__name__
        raise UserError(f"--tags {' '.join(tags)}: {reason}") from None
    for path in feature_paths(root):
        rel = path.relative_to(root).as_posix()
        try:
            feature = parse_file(str(path))
        except ParserError as exc:
            raise UserError(f"{rel}: {' '.join(str(exc).split())}") from None
        yield rel, feature, [s for s in _scenarios(feature)
                             if expression is None or expression.check(s.effective_tags)]


def feature_index(root: Path, tags: list[str]) -> list[FeatureEntry]:
    entries = []
    for rel, feature, selected in _selected(Path(root), tags):
        if not selected:
            continue
        tcid = next((t for t in feature.tags if t.startswith("TCID-")), feature.name)
        entries.append(FeatureEntry(tcid=tcid, tags=[t for t in feature.tags if t != tcid],
                                    scenarios=len(selected), path=rel))
    return entries


@dataclass(frozen=True)
class ScenarioEntry:
    location: str        # "features/x.feature:12", as behave names it and takes it
    name: str
    tags: tuple[str, ...]


def scenario_index(root: Path, tags: list[str]) -> list[ScenarioEntry]:
    """Every scenario the tags select, in the order a serial run takes them."""
    return [ScenarioEntry(f"{rel}:{scenario.line}", scenario.name, tuple(scenario.effective_tags))
            for rel, _, selected in _selected(Path(root), tags) for scenario in selected]


def known_tags(root: Path) -> list[str]:
    """Every tag a feature or scenario carries, with its @."""
    tags = set()
    for _, feature, _ in _selected(Path(root), []):
        tags.update(feature.tags)
        for scenario in _scenarios(feature):
            tags.update(scenario.effective_tags)
    return sorted(f"@{t}" for t in tags)


def require_selection(root: Path, tags: list[str]) -> list[ScenarioEntry]:
    """The scenarios the tags select; a UserError naming the nearest known
    tags when they select none (checked before any target starts)."""
    selected = scenario_index(root, tags)
    if selected:
        return selected
    known = known_tags(root)
    words = [w if w.startswith("@") else f"@{w}"
             for tag in tags for w in tag.replace(",", " ").replace("(", " ").replace(")", " ").split()
             if w.lower() not in ("and", "or", "not")]
    unknown = [w for w in words if w not in known]
    if not unknown:
        hint = "; each tag is known, but no scenario carries that combination"
    else:
        nearest = []
        for word in unknown:
            nearest += [t for t in difflib.get_close_matches(word, known, n=3, cutoff=0.5) if t not in nearest]
        hint = (f"; nearest known tags: {', '.join(nearest)}" if nearest
                else f"; no feature has {', '.join(unknown)} (`dmaas list` shows the tags)")
    raise UserError(f"no scenario matches the tags {' '.join(tags)}{hint}")


QUOTED = re.compile(r'"([^"]+)"')


def quoted_names(root: Path, scenarios: list[ScenarioEntry]) -> set[str]:
    """Every quoted name (`cluster "source"`, `"minio"`) and table cell in the
    steps of these scenarios: what they may ask a target for."""
    names: set[str] = set()
    for scenario in selected_scenarios(root, scenarios):
        for step in scenario.all_steps:
            names.update(QUOTED.findall(step.name))
            for row in step.table or []:
                names.update(row.cells)
    return names


# What steps ask of a target, by their words (steps/*_steps.py; a test holds
# each pattern to a step definition): (action, pattern whose groups are names).
# (A bucket's quota is not among them: on a real target it is the DMaaS
# layer's capacity setting, the quota being the bucket admin's.)
# A cluster is always named after the word "cluster(s)", or in a plan table's
# "verify on" row.
NEEDS = (
    ("serve_engine", re.compile(r' on "([^"]+)" volumes\b')),
    ("create_cluster", re.compile(r'^a new cluster "([^"]+)" is created$')),
    ("destroy_cluster", re.compile(r'^cluster "([^"]+)" is destroyed$')),
    ("cut_cluster", re.compile(r'^cluster "([^"]+)" is cut off$')),
    ("cut_bucket", re.compile(r'^the "([^"]+)" bucket is cut off$')),
    ("corrupt", re.compile(r' is corrupted in the "([^"]+)" bucket$')),
)
CLUSTERS = re.compile(r'\bclusters? ("[^"]+"(?:(?:, | and |, and )"[^"]+")*)')


def step_needs(steps) -> list[tuple[str, str]]:
    """[(action, name)] that behave steps (with .name and .table) ask of a
    target, in their order: every cluster they name ("ensure_cluster"),
    and the lifecycle and fault actions of runner.targets.base.ACTIONS."""
    needs = []
    for step in steps:
        for action, pattern in NEEDS:
            needs += [(action, name) for name in pattern.findall(step.name)]
        for names in CLUSTERS.findall(step.name):
            needs += [("ensure_cluster", name) for name in QUOTED.findall(names)]
        for row in step.table or []:
            if len(row.cells) >= 2 and row.cells[0].strip() == "verify on":
                needs.append(("ensure_cluster", row.cells[1].strip()))
    return needs


def selected_scenarios(root: Path, scenarios: list[ScenarioEntry]) -> list:
    """behave's Scenario objects of these entries (their steps, tables, tags)."""
    wanted = {entry.location for entry in scenarios}
    return [scenario for rel, _, selected in _selected(Path(root), []) for scenario in selected
            if f"{rel}:{scenario.line}" in wanted]


def behave_json(root: Path, locations: list[str]) -> list[dict]:
    """The features of these scenarios ("features/x.feature:12") in the shape
    of behave's `-f json` output, with no results: what a run cut short
    before behave wrote its own (the formatter writes it when behave ends)
    reports its scenarios from, their results being in extras.jsonl."""
    wanted, out = set(locations), []
    for rel, feature, selected in _selected(Path(root), []):
        background = list(feature.background.steps) if feature.background else []
        elements = [{"type": "scenario", "keyword": scenario.keyword, "name": scenario.name,
                     "location": f"{rel}:{scenario.line}", "tags": list(scenario.tags),
                     "steps": [{"keyword": step.keyword, "name": step.name, "location": f"{rel}:{step.line}",
                                **({"table": {"headings": list(step.table.headings),
                                              "rows": [list(row.cells) for row in step.table]}}
                                   if step.table else {})}
                               for step in background + list(scenario.steps)]}
                    for scenario in selected if f"{rel}:{scenario.line}" in wanted]
        if elements:
            out.append({"keyword": feature.keyword, "name": feature.name, "tags": list(feature.tags),
                        "location": f"{rel}:{feature.line}", "description": list(feature.description),
                        "elements": elements})
    return out
