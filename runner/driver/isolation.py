"""What makes a scenario's objects its own on clusters it may share with
other teams.

    Isolation(run, scenario, prefix="")        # driver.isolation, one per scenario
    .labels -> {RUN_LABEL: run, SCENARIO_LABEL: scenario}
    .name(word) -> prefix + word               # a name the scenario gives (a namespace, plan, backup, ...)
    .stamp(metadata) -> metadata with the labels
    .owns(obj) -> bool                         # made by this scenario (its label), also a copy Velero restored
    .check_own(cluster, obj, what)             # Clash unless it owns obj

Every object the driver creates carries both labels (ClusterClient.apply,
VeleroClient.create; a Schedule's backups through its template), so a run's
objects can be found, and removed, by label even after the process that
made them died (runner.targets.sweep). Where the run shares clusters (a real
target) every name a scenario gives gets the prefix (`<name_prefix><scenario
id>-`); on targets the run has to itself the prefix is empty. An object of
the same name that the scenario did not make is never replaced, adopted or
deleted: that is a Clash, one line naming it.
"""
from __future__ import annotations

import dataclasses
import re

RUN_LABEL = "dmaas.openebs.io/run"
SCENARIO_LABEL = "dmaas.openebs.io/scenario"


class Clash(RuntimeError):
    """An object of a name this scenario wants exists and is not the scenario's own."""

    def __init__(self, message):
        super().__init__(" ".join(str(message).split()))


def label_value(text: str) -> str:
    """`text` as a Kubernetes label value (63 characters of [A-Za-z0-9_.-], alphanumeric at both ends)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text)[:63].strip("-_.") or "run"


@dataclasses.dataclass(frozen=True)
class Isolation:
    run: str
    scenario: str
    prefix: str = ""

    @property
    def labels(self) -> dict:
        return {RUN_LABEL: label_value(self.run), SCENARIO_LABEL: label_value(self.scenario)}

    def name(self, word: str) -> str:
        return f"{self.prefix}{word}"

    def stamp(self, metadata: dict | None) -> dict:
        metadata = dict(metadata or {})
        metadata["labels"] = {**(metadata.get("labels") or {}), **self.labels}
        return metadata

    def owns(self, obj: dict | None) -> bool:
        labels = ((obj or {}).get("metadata") or {}).get("labels") or {}
        return labels.get(SCENARIO_LABEL) == self.labels[SCENARIO_LABEL]

    def check_own(self, cluster: str, obj: dict, what: str) -> None:
        if not self.owns(obj):
            raise Clash(f"cluster {cluster}: {what} exists and is not this scenario's (no label "
                        f"{SCENARIO_LABEL}={self.labels[SCENARIO_LABEL]}); DMaaS never modifies, adopts or "
                        f"deletes what it did not create: free the name or choose another name_prefix")
