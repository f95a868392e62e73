"""The JSON report for tools: the whole model (every scenario, step,
duration and failure reason, each TCID's verdict overall and per target),
secrets already redacted by the model.

Schema 2 (from 1): a scenario's status may be "not-for-target" (a form for
another target, which schema 1 reported as "skipped"); `counts` has that key
too; a scenario has its `target`; the run has `targets`, `shard`,
`merged_from` and `verdicts` {tcid: {status, seconds, reason, counts, text,
targets: {target: the same without targets}}}."""
from __future__ import annotations

import json

from runner.report.model import Run

SCHEMA_VERSION = 2


def render(run: Run) -> str:
    return json.dumps({"schema_version": SCHEMA_VERSION, **run.to_dict()}, indent=2, sort_keys=False) + "\n"
