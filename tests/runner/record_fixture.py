"""Re-records fixtures/recorded_run/ and fixtures/recorded_realstack_run/
(behave.json, extras.jsonl) by running behave with dmaas's formatters on the
tiny project fixtures/mini/, as target lab and as target realstack (whose
forms of SCHD differ: fixtures/mini/features/environment.py). Their run.json
files are written by hand. Usage: python tests/runner/record_fixture.py
(from the project root)"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
MINI = HERE / "fixtures" / "mini"
RECORDED = {"lab": HERE / "fixtures" / "recorded_run", "realstack": HERE / "fixtures" / "recorded_realstack_run"}
TAGS = ["not @wip"]


def record(out_dir: Path, target: str = "lab") -> subprocess.CompletedProcess:
    sys.path.insert(0, str(ROOT))
    from runner.run import behave_command
    from runner.step_coverage import behave_env
    out_dir.mkdir(parents=True, exist_ok=True)
    return subprocess.run(behave_command(out_dir, TAGS, target), cwd=MINI, env=behave_env(ROOT),
                          capture_output=True, text=True, timeout=120)


if __name__ == "__main__":
    for target, out_dir in RECORDED.items():
        result = record(out_dir, target)
        print(result.stdout)
        print(f"recorded into {out_dir} (behave exit code {result.returncode})")
