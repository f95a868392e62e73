"""TCID × target: where each story passes, is skipped (and why) or fails.

    python3 bench/conformance.py [--targets lab,realstack] [--tags EXPR] [--report-dir DIR]
    python3 bench/conformance.py --from RUN_DIR [--from RUN_DIR ...]

The first form runs `dmaas run --target T --tags EXPR` once per target
(default: the eight single-story areas on the lab and on the real stack)
and prints the table; the second prints it from runs already made (their
report.json), e.g. after a long real-stack run; runs of the same target
merge into one column, a later run's TCID replacing an earlier one's. A cell is the TCID's
verdict over its scenarios (failed, else skipped with the first reason,
else passed) and their wall seconds. It prints figures and never asserts.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SINGLE_STORIES = ("@cluster-gone or @version-compat or @data-movement or @mysql or @cortex or @portal or @psp "
                  "or @secrets")
FAILING = ("failed", "error", "undefined")


def verdicts(run_dir: Path) -> tuple[str, dict[str, tuple[str, float]]]:
    """(target, {tcid: (cell text, seconds)}) of one run."""
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    by_tcid: dict[str, list[dict]] = {}
    for feature in report["features"]:
        for scenario in feature["scenarios"]:
            by_tcid.setdefault(scenario.get("tcid") or scenario["name"], []).append(scenario)
    cells = {}
    for tcid, scenarios in by_tcid.items():
        seconds = sum(s.get("duration") or 0 for s in scenarios)
        failed = [s for s in scenarios if s["status"] in FAILING]
        skipped = [s for s in scenarios if s["status"] == "skipped"]
        passed = [s for s in scenarios if s["status"] == "passed"]
        if failed:
            text = f"failed {len(failed)}/{len(scenarios)}: {(failed[0].get('reason') or '')[:90]}"
        elif skipped:
            text = (f"passed {len(passed)}, " if passed else "") + \
                f"skipped {len(skipped)}: {(skipped[0].get('reason') or '')[:90]}"
        else:
            text = f"passed {len(passed)}/{len(scenarios)}"
        cells[tcid] = (text, seconds)
    return report.get("target", run_dir.name), cells


def run(target: str, tags: str, report_dir: Path) -> Path:
    before = set(report_dir.iterdir()) if report_dir.is_dir() else set()
    print(f"conformance: dmaas run --target {target} --tags '{tags}' ...", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "runner.cli", "run", "--target", target, "--tags", tags,
                    "--report-dir", str(report_dir)], cwd=ROOT, stdout=subprocess.DEVNULL)
    (made,) = set(report_dir.iterdir()) - before
    return made


def table(columns: list[tuple[str, dict]]) -> str:
    tcids = sorted({tcid for _, cells in columns for tcid in cells})
    lines = ["| TCID | " + " | ".join(target for target, _ in columns) + " |",
             "|---|" + "---|" * len(columns)]
    for tcid in tcids:
        row = []
        for _, cells in columns:
            text, seconds = cells.get(tcid, ("not run", 0.0))
            row.append(f"{text} ({seconds:.0f} s)" if text != "not run" else text)
        lines.append(f"| {tcid} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bench/conformance.py")
    parser.add_argument("--targets", default="lab,realstack")
    parser.add_argument("--tags", default=SINGLE_STORIES)
    parser.add_argument("--report-dir", type=Path)
    parser.add_argument("--from", dest="runs", type=Path, action="append", default=[],
                        help="a run folder (reports/<run-id>) to read instead of running")
    args = parser.parse_args(argv)
    if args.runs:
        run_dirs = args.runs
    else:
        report_dir = args.report_dir or Path(tempfile.mkdtemp(prefix="dmaas-conformance-"))
        run_dirs = [run(target, args.tags, report_dir) for target in args.targets.split(",")]
    columns: dict[str, dict] = {}          # runs of the same target merge; a later run's TCID wins
    for target, cells in (verdicts(d) for d in run_dirs):
        columns.setdefault(target, {}).update(cells)
    print(table(list(columns.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
