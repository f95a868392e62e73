"""The JSON report for tools: the whole model (every scenario, step,
duration and failure reason), secrets already redacted by the model."""
from __future__ import annotations

import json

from runner.report.model import Run

SCHEMA_VERSION = 1


def render(run: Run) -> str:
    return json.dumps({"schema_version": SCHEMA_VERSION, **run.to_dict()}, indent=2, sort_keys=False) + "\n"
