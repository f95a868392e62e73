"""The `dmaas` command: run, report merge, validate, expand, list, steps, lab, realstack, monitor."""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from runner import expand, scenarios
from runner.errors import UserError

EXIT_BAD_INPUT = 2


def _root(args) -> Path:
    root = Path(args.root).resolve()
    if not (root / "scenarios").is_dir() or not (root / "features").is_dir():
        raise UserError(f"{root}: not a project root (no scenarios/ and features/ here; use --root)")
    return root


def cmd_run(args) -> int:
    from runner.run import Options, parse_shard, run
    return run(Options(root=_root(args), tags=args.tags or [], target=args.target,
                       report_dir=Path(args.report_dir) if args.report_dir else None, jobs=args.jobs,
                       rerun_failed=args.rerun_failed, shard=parse_shard(args.shard) if args.shard else None))


def cmd_report(args) -> int:
    from runner.merge import merge
    root = _root(args)
    return merge(root, args.runs, Path(args.report_dir) if args.report_dir else root / "reports")


def cmd_validate(args) -> int:
    from runner.step_coverage import undefined_steps
    root = _root(args)
    model, problems = scenarios.collect(root)
    rendered = []
    if model is not None and not problems:
        try:
            rendered = expand.render(root, model)
            problems += expand.staleness(root, rendered)
        except UserError as exc:
            problems.append(exc.message)
    if not args.no_steps:
        problems += undefined_steps(root)
    if args.target and not problems:
        problems += _preflight_problems(root, args.target, args.tags)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return 1
    files = scenarios.scenario_files(root)
    print(f"ok: {len(files)} scenario files valid, {len(rendered)} generated features up to date"
          + ("" if args.no_steps else ", every step has a definition")
          + (f", target {args.target} answers" if args.target else ""))
    return 0


def _preflight_problems(root, target: str, tags: list[str]) -> list[str]:
    """`dmaas run`'s preflight of the target for the selected scenarios, as problem lines,
    with what `dmaas run` would skip for want of something and the warnings."""
    from runner import features
    from runner.run import preflight
    try:
        selected = features.require_selection(root, tags)
        preflight(root, scenarios.load_target_profile(root, target), selected, skips_are_problems=True)
    except UserError as exc:
        return exc.lines
    return []


def cmd_steps(args) -> int:
    from runner import step_docs
    from runner.step_coverage import step_vocabulary
    vocabulary = step_vocabulary(_root(args))
    print(step_docs.render_markdown(vocabulary) if args.markdown else step_docs.render_text(vocabulary), end="")
    return 0


def cmd_expand(args) -> int:
    root = _root(args)
    rendered = expand.render(root, scenarios.load(root))
    written, removed = expand.write(root, rendered)
    for rel in written:
        print(f"wrote {rel}")
    for rel in removed:
        print(f"removed {rel} (no matrix produces it)")
    print(f"{len(rendered)} generated features ({len(written)} written, {len(removed)} removed)")
    return 0


def cmd_list(args) -> int:
    from runner.features import feature_index
    root = _root(args)
    model = scenarios.load(root)
    for problem in expand.staleness(root, expand.render(root, model)):
        print(f"warning: {problem}", file=sys.stderr)
    for entry in feature_index(root, args.tags or []):
        print(f"{entry.tcid:<48} {entry.scenarios:>2} scenario(s)  {' '.join('@' + t for t in entry.tags)}  "
              f"{entry.path}")
    return 0


def cmd_lab(args) -> int:
    # the lab is its own program; the runner only ever starts it as a process
    return subprocess.call([sys.executable, "-m", "lab", args.action, *args.rest], cwd=Path(args.root).resolve())


def cmd_realstack(args) -> int:
    from runner.realstack.cli import main as realstack_main     # lazy: only this command needs it
    return realstack_main(args.action, Path(args.root).resolve(), args.rest)


def cmd_monitor(args) -> int:
    try:
        from runner.monitor_cli import main as monitor_main   # lazy: pulls in the driver
    except ImportError as exc:
        print(f"error: `dmaas monitor` is not available: {exc}", file=sys.stderr)
        return 1
    return int(monitor_main(args.rest) or 0)


def _passthrough(argv: list[str]) -> tuple[list[str], list[str] | None]:
    """Splits `... monitor ARGS` so that ARGS (options included) reach the monitor verbatim."""
    i = 0
    while i < len(argv):
        if argv[i] == "--root":
            i += 2
        elif argv[i].startswith("-"):
            i += 1
        else:
            break
    if i < len(argv) and argv[i] == "monitor":
        return argv[:i + 1], argv[i + 1:]
    return argv, None


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="dmaas", description="Executable DMaaS test strategy (behave + lab).")
    top.add_argument("--root", default=".", help="project root (default: current directory)")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="expand, start the target, run behave, write reports")
    run.add_argument("--tags", action="append", metavar="EXPR", help="behave tag expression (repeatable)")
    run.add_argument("--target", default="lab", help="target profile under scenarios/targets/ (default: lab)")
    run.add_argument("--report-dir", help="where reports/<run-id>/ goes (default: ./reports)")
    run.add_argument("--jobs", type=int, metavar="N",
                     help="scenarios in N worker processes, each with its own lab (default: one per core; "
                          "real clusters: 1)")
    run.add_argument("--rerun-failed", nargs="?", const="last", metavar="RUN",
                     help="run only the scenarios that failed in the last run (or in RUN: a run id under "
                          "the reports folder, or a run's folder)")
    run.add_argument("--shard", metavar="I/N",
                     help="run the I-th of N parts of the selected scenarios (balanced by the durations of "
                          "earlier reports under the reports folder: give every part the same ones); "
                          "`dmaas report merge` joins the parts' runs")
    run.set_defaults(func=cmd_run)

    report = sub.add_parser("report", help="work with run folders: `merge` shards or runs on other targets")
    report_sub = report.add_subparsers(dest="action", required=True, metavar="ACTION")
    merge = report_sub.add_parser(
        "merge", help="one run folder with the reports of these runs together: the shards of a run give the "
                      "reports one run would have; runs on several targets add the TCID x target table")
    merge.add_argument("runs", nargs="+", metavar="RUN", help="a run's folder, or its run id under --report-dir")
    merge.add_argument("--report-dir", help="where run ids are looked up and the merged reports/<run-id>/ goes "
                                            "(default: ./reports)")
    merge.set_defaults(func=cmd_report)

    steps = sub.add_parser("steps", help="the step vocabulary: every step by area, its parameters, an example")
    steps.add_argument("--markdown", action="store_true", help="as docs/steps.md (which is generated from it)")
    steps.set_defaults(func=cmd_steps)

    validate = sub.add_parser("validate", help="schemas, matrix references, generated features, step coverage")
    validate.add_argument("--no-steps", action="store_true", help="skip the step coverage check")
    validate.add_argument("--target", help="also reach this target's clusters and buckets, as `dmaas run` does "
                                           "before any scenario")
    validate.add_argument("--tags", action="append", default=[],
                          help="with --target: check what these scenarios need (default: all)")
    validate.set_defaults(func=cmd_validate)

    sub.add_parser("expand", help="render the matrices into features/generated/").set_defaults(func=cmd_expand)

    lst = sub.add_parser("list", help="TCIDs and tags of every feature")
    lst.add_argument("--tags", action="append", metavar="EXPR", help="only features with scenarios these select")
    lst.set_defaults(func=cmd_list)

    lab = sub.add_parser("lab", help="start, inspect or stop the embedded lab (python -m lab)")
    lab.add_argument("action", choices=["up", "status", "down"])
    lab.add_argument("rest", nargs=argparse.REMAINDER, help="passed on to python -m lab")
    lab.set_defaults(func=cmd_lab)

    realstack = sub.add_parser("realstack", help="build, start, inspect or stop the real stack "
                                                 "(real Kubernetes and Velero as local processes)")
    realstack.add_argument("action", choices=["build", "up", "status", "down", "cluster"])
    realstack.add_argument("rest", nargs=argparse.REMAINDER,
                           help="build: components; up: cluster names; cluster add NAME [--kubernetes VERSION] "
                                "[--velero VERSION] | cluster remove NAME: one more cluster on a running stack "
                                "(add prints its kubeconfig path)")
    realstack.set_defaults(func=cmd_realstack)

    monitor = sub.add_parser("monitor", help="the DMaaS monitor views (plans, S3 usage, connectivity); "
                                            "its arguments go to runner.dmaas.monitor", add_help=False)
    monitor.set_defaults(func=cmd_monitor)
    return top


def main(argv: list[str] | None = None) -> int:
    head, rest = _passthrough(list(sys.argv[1:] if argv is None else argv))
    args = parser().parse_args(head)
    if rest is not None:
        args.rest = rest
    try:
        return args.func(args)
    except UserError as exc:
        for line in exc.lines:
            print(f"error: {line}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
