"""TCID × target: where each story passes, fails, is skipped (and why) or is
not for the target, with its seconds: `dmaas run` once per target, then
`dmaas report merge` of those runs (runner/merge.py), which writes the
merged reports (the table in report.html, report.json and the strategy
markdown) and prints the table.

    python3 bench/conformance.py [--targets lab,realstack] [--tags EXPR] [--report-dir DIR]
    python3 bench/conformance.py --from RUN_DIR [--from RUN_DIR ...] [--report-dir DIR]

The first form runs the eight single-story areas (by default) on the lab and
on the real stack; the second merges runs already made, e.g. after a long
real-stack run. It prints figures and never asserts.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from runner import cli  # noqa: E402

SINGLE_STORIES = ("@cluster-gone or @version-compat or @data-movement or @mysql or @cortex or @portal or @psp "
                  "or @secrets")


def run(target: str, tags: str, report_dir: Path) -> Path:
    before = set(report_dir.iterdir()) if report_dir.is_dir() else set()
    print(f"conformance: dmaas run --target {target} --tags '{tags}' ...", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "runner.cli", "run", "--target", target, "--tags", tags,
                    "--report-dir", str(report_dir)], cwd=ROOT, stdout=subprocess.DEVNULL)
    (made,) = set(report_dir.iterdir()) - before
    return made


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bench/conformance.py")
    parser.add_argument("--targets", default="lab,realstack")
    parser.add_argument("--tags", default=SINGLE_STORIES)
    parser.add_argument("--report-dir", type=Path, help="where the runs and their merge go (default: a temporary "
                                                        "folder)")
    parser.add_argument("--from", dest="runs", type=Path, action="append", default=[],
                        help="a run folder (reports/<run-id>) to merge instead of running")
    args = parser.parse_args(argv)
    report_dir = args.report_dir or Path(tempfile.mkdtemp(prefix="dmaas-conformance-"))
    runs = args.runs or [run(target, args.tags, report_dir) for target in args.targets.split(",")]
    cli.main(["--root", str(ROOT), "report", "merge", "--report-dir", str(report_dir), *map(str, runs)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
