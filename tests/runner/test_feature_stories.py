"""Every feature carries its TCID's user story word for word, and every TCID
of the strategy is a feature."""
from __future__ import annotations

from behave.parser import parse_file
from runner_paths import ROOT

from runner import strategy
from runner.features import feature_paths

SHARED = ROOT.parent / "shared" / "dmaas-test-strategy.md"


def strategy_text() -> str:
    return (SHARED if SHARED.is_file() else ROOT / strategy.STRATEGY_DOC).read_text(encoding="utf-8")


def normalised(text: str) -> str:
    return " ".join(text.split())


def story_for(tcid: str, stories: dict[str, str]) -> str:
    """A TCID's own section, else the section it is listed under (SCHD-* under SCHD)."""
    if tcid in stories:
        return stories[tcid]
    owner = max((t for t in stories if tcid.startswith(t + "-")), key=len)
    return stories[owner]


def features():
    for path in feature_paths(ROOT):
        feature = parse_file(str(path))
        yield path, feature, next(t for t in feature.tags if t.startswith("TCID-"))


def test_each_feature_description_is_its_story_word_for_word():
    stories = strategy.stories(strategy_text())
    checked = 0
    for path, feature, tcid in features():
        assert feature.name == tcid, path
        assert normalised("\n".join(feature.description)) == normalised(story_for(tcid, stories)), path
        checked += 1
    assert checked == 23


def test_every_strategy_tcid_is_a_feature():
    tcids = {tcid for _, _, tcid in features()}
    assert tcids == set(strategy.tcids(strategy_text()))


def test_vendored_strategy_matches_the_shared_one():
    if SHARED.is_file():
        assert (ROOT / strategy.STRATEGY_DOC).read_text() == SHARED.read_text()
