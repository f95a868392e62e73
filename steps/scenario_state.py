"""What a scenario's steps remember between them: one object per scenario,
made by features/environment.py before the scenario and reached as
`context.scenario_state` (behave drops it with the scenario's context
layer). Typed fields instead of attributes set on `context` by name, so a
misspelt name is an AttributeError, not a new empty dict.

Ground truth the oracles compare with is recorded here from the scenario's
own inputs and observations (what the steps created, the data read right
after each clock step), not taken from the DMaaS layer's bookkeeping.
"""
from __future__ import annotations

import collections
import dataclasses

App = collections.namedtuple("App", "name engine replicas")
# the data each backup must restore, recorded right after the clock step in which it completed
Record = collections.namedtuple("Record", "cluster time states plan")      # states: {namespace: DataState}
# mapping: {source: target ns}; time: when (scenario time) it was asked for
RestoreDone = collections.namedtuple("RestoreDone", "cluster backup mapping record time")
Moved = collections.namedtuple("Moved", "backup source_cluster target_cluster namespace state")


@dataclasses.dataclass
class ScenarioState:
    dmaas: object = None                     # runner.dmaas.DMaaS over the scenario's driver
    apps: dict = dataclasses.field(default_factory=dict)        # {(cluster, namespace): App}
    ticks: dict = dataclasses.field(default_factory=dict)       # {(cluster, namespace): writes so far}
    locations: dict = dataclasses.field(default_factory=dict)   # {cluster: {name: runner.dmaas.locations.Location}}
    plans: dict = dataclasses.field(default_factory=dict)       # {plan: PlanSpec}
    plan_created: dict = dataclasses.field(default_factory=dict)   # {plan: datetime}
    records: dict = dataclasses.field(default_factory=dict)     # {backup: Record}
    seen_backups: dict = dataclasses.field(default_factory=dict)   # {plan: {backup: BackupRecord}}, expired included
    gone: dict = dataclasses.field(default_factory=dict)        # {plan: {backup: time first seen missing from its buckets}}
    counts: dict = dataclasses.field(default_factory=dict)      # {plan: [(time, backups in its buckets)]}
    time_passed_until: object = None         # scenario time (datetime) when time last stopped passing
    time_passed: float = 0                    # scenario seconds passed in "time passes" steps so far
    plan_time_from: dict = dataclasses.field(default_factory=dict)  # {plan: time_passed when it was made}
    on_demand: dict = dataclasses.field(default_factory=dict)   # {backup: (cluster, location name)}
    restores: list = dataclasses.field(default_factory=list)    # [RestoreDone] in order
    discovered: dict = dataclasses.field(default_factory=dict)  # {cluster: {backup names it synced}}
    moves: dict = dataclasses.field(default_factory=dict)       # {plan: [(target cluster, namespace)]}
    moved: list = dataclasses.field(default_factory=list)       # [Moved]
    secret_values: list = dataclasses.field(default_factory=list)   # values planted in Secrets
    capacity: object = None                  # the last capacity check: CapacityWarning | None
    promotion: object = None                 # the last verify-then-promote: PromotionResult
    promotion_backup: str | None = None
    verification: object = None              # the last plan verification: Verification

