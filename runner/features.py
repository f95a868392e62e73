"""An index of the feature files (hand-written and generated): TCID, tags,
scenario count, parsed by behave's own parser."""
from __future__ import annotations

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
    base = Path(root) / "features"
    return sorted(base.glob("*.feature")) + sorted((base / "generated").glob("*.feature"))


def _scenarios(feature):
    for scenario in feature.scenarios:
        if isinstance(scenario, ScenarioOutline):
            yield from scenario.scenarios
        else:
            yield scenario


def _selected(root: Path, tags: list[str]):
    """(relative path, feature, [scenarios the tags select]) per feature file, in serial order."""
    expression = make_tag_expression(tags) if tags else None
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
