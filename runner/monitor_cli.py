"""`dmaas monitor [--target NAME] [--lab-state PATH] [--report-dir DIR] [--json]`:
the monitor views (runner/dmaas/monitor.py) of a running lab
($DMAAS_LAB_STATE, else $DMAAS_LAB_DIR/lab.json, else .lab/lab.json, where
`dmaas lab up` puts it) or of a target profile's clusters, as tables (or
JSON) and, with --report-dir, DIR/monitor.json."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from runner import targets
from runner.dmaas.monitor import _locations, format_table, views, write_report
from runner.driver import Driver
from runner.errors import UserError


def _open(target_name, lab_state):
    if target_name == "lab":
        state = Path(lab_state or os.environ.get("DMAAS_LAB_STATE")
                     or Path(os.environ.get("DMAAS_LAB_DIR") or ".lab") / "lab.json")
        if not state.is_file():
            raise UserError(f"no running lab: {state} does not exist (start one with `dmaas lab up`)")
        target = targets.attach_lab(str(state))
    else:
        target = targets.open_target(targets.load_profile(target_name))
    driver = Driver(target, run_id="monitor", scenario="monitor")
    clients = {name: driver.cluster(name) for name in target.cluster_names()}
    return target, driver, clients


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="dmaas monitor", description="continuity plans, S3 usage per team "
                                     "and connectivity, read from the clusters and buckets")
    parser.add_argument("--target", default="lab", help="target profile (default: lab = the running lab)")
    parser.add_argument("--lab-state", help="lab.json of a running lab (default $DMAAS_LAB_STATE, "
                        "else $DMAAS_LAB_DIR/lab.json, else .lab/lab.json)")
    parser.add_argument("--report-dir", help="write monitor.json there")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = parser.parse_args(argv)
    try:
        target, driver, clients = _open(args.target, args.lab_state)
        profiles = {location.profile for location in _locations(clients)} or set(target.profile_buckets)
        data = views(driver, clients, profiles)
    except UserError as exc:
        print(f"dmaas monitor: {exc.message}", file=sys.stderr)
        return 2
    except (RuntimeError, OSError) as exc:     # the lab went away, a refused connection
        print(f"dmaas monitor: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    if args.report_dir:
        write_report(args.report_dir, data)
    if args.json:
        print(json.dumps({"views": data}, indent=2, sort_keys=True))
    else:
        print(format_table("Continuity plans", data["plans"]))
        print(format_table("S3 usage per team", data["usage"]))
        print(format_table("Connectivity", data["connectivity"]))
    return 0
