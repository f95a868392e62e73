"""What steps ask of a target, read from their words (runner.features.step_needs)
so a scenario a target cannot run is skipped before its first step: each
pattern is the words of a real step definition, shown by a real feature line."""
import re
import types

from runner import features
from runner.step_coverage import step_vocabulary
from runner_paths import ROOT


def step(name, table=None):
    rows = [types.SimpleNamespace(cells=cells) for cells in table or []]
    return types.SimpleNamespace(name=name, table=rows)


def test_each_pattern_is_a_step_of_the_vocabulary_with_a_real_example():
    examples = {}
    for entry in step_vocabulary(ROOT):
        if entry["example"]:
            line = re.fullmatch(r"(.*)  \((.*)\)", entry["example"]).group(1)
            examples[line.split(" ", 1)[1]] = entry["text"]
    for action, pattern in features.NEEDS:
        found = [text for line, text in examples.items() if pattern.search(line)]
        assert found, f"{action}: no step of the vocabulary has an example these words match: {pattern.pattern}"


def test_clusters_lifecycle_and_faults_in_order():
    steps = [step('a cluster "source"'),
             step('the application "mysql" runs in namespace "orders" of cluster "source" on "cstor" volumes'),
             step('the "minio" bucket is a backup location on clusters "source" and "verify"'),
             step('team "t" has a continuity plan "p" on cluster "source":',
                  [["setting", "value"], ["every", "1h"], ["verify on", "checker"]]),
             step('cluster "source" is destroyed'),
             step('a new cluster "rescue" is created'),
             step('the "aws" bucket is cut off'),
             step('the stored volume data of backup "b" is corrupted in the "minio" bucket'),
             step('the "aws" bucket has a quota of 64 KiB')]
    assert features.step_needs(steps) == [
        ("ensure_cluster", "source"), ("serve_engine", "cstor"), ("ensure_cluster", "source"),
        ("ensure_cluster", "source"), ("ensure_cluster", "verify"),
        ("ensure_cluster", "source"), ("ensure_cluster", "checker"),
        ("destroy_cluster", "source"), ("ensure_cluster", "source"),
        ("create_cluster", "rescue"), ("ensure_cluster", "rescue"),
        ("cut_bucket", "aws"), ("corrupt", "minio")]
