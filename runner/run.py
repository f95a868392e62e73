"""`dmaas run`: expand the matrices, check the target, start what each
worker needs (the target's class says what: runner/targets), run behave,
stop it all (on failure and on Ctrl-C too), write the reports."""
from __future__ import annotations

import datetime as dt
import json
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from runner import expand, features, report, scenarios, strategy, targets
from runner import workers as workers_
from runner.errors import Problems, UserError
from runner.report import model
from runner.report.formatters import ASSIGNED_USERDATA
from runner.step_coverage import behave_env

LAB_TARGET = "lab"
STOP_TIMEOUT = 30     # seconds behave gets to finish its after-hooks after Ctrl-C
# Ctrl-C, and what a CI cancel, `timeout` or a closed terminal sends: each
# stops the run the same way, and the exit code says which (128 + signal)
INTERRUPTS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised in the main thread like Ctrl-C's KeyboardInterrupt."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_interrupted(signum, _frame):
    raise Interrupted(signum)


@dataclass
class Options:
    root: Path
    tags: list[str]
    target: str = LAB_TARGET
    report_dir: Path | None = None
    jobs: int | None = None        # None: workers.default_jobs()
    rerun_failed: str | None = None   # "last" or a run id / run dir: only the scenarios that failed there
    shard: tuple[int, int] | None = None   # (I, N): the I-th of N parts of the selected scenarios


def parse_shard(text: str) -> tuple[int, int]:
    """`--shard I/N` -> (I, N), 1 <= I <= N."""
    index, _, count = text.partition("/")
    if not (index.isdigit() and count.isdigit() and 1 <= int(index) <= int(count)):
        raise UserError(f"--shard {text}: expected I/N with 1 <= I <= N (e.g. 1/4: the first of four parts)")
    return int(index), int(count)


def new_run_id(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.timezone.utc)
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def behave_command(run_dir: Path, tags: list[str], target: str) -> list[str]:
    command = [sys.executable, "-m", "runner.behave_process", "--no-summary", "--no-snippets", "--show-skipped",
               # the driver's progress on long steps ([clock], [realstack]) goes to stderr; behave would
               # hold it until a failure
               "--no-capture-stderr", "-D", f"target={target}",
               "-f", "json", "-o", str(run_dir / model.BEHAVE_JSON),
               "-f", "runner.report.formatters:ExtrasFormatter", "-o", str(run_dir / model.EXTRAS),
               "-f", "runner.report.formatters:ProgressFormatter", "-o", "-"]
    for tag in tags:
        command.append(f"--tags={tag}")
    return command


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


_OUTPUT_LOCK = threading.Lock()


def _relay(line: str) -> None:
    # behave prints its runner class on every run; nobody needs that line
    if not line.startswith("USING RUNNER:"):
        with _OUTPUT_LOCK:     # workers' progress lines never interleave mid-line
            sys.stdout.write(line)
            sys.stdout.flush()


class _Worker:
    """One behave process over some scenarios (all of them when `locations`
    is None), with what its target's class starts for it (a lab of its own)."""

    def __init__(self, out_dir: Path, locations: list[str] | None, env: dict):
        self.out_dir = out_dir
        self.locations = locations
        self.env = dict(env)
        self.started = None        # runner.targets.base.Worker
        self.proc = None
        self.rc = None

    def start_target(self, profile, root: Path) -> None:
        self.started = targets.target_class(profile).start_for_worker(profile, self.out_dir, root)
        if self.started is not None:
            self.env.update(self.started.env)

    def run_behave(self, command: list[str], root: Path) -> None:
        """Runs behave, relaying its output (the progress lines) as it comes."""
        if self.locations is not None:
            assigned = self.out_dir / "scenarios.txt"
            assigned.write_text("\n".join(self.locations) + "\n", encoding="utf-8")
            command = command + ["-D", f"{ASSIGNED_USERDATA}={assigned}"] + self.locations
        self.proc = subprocess.Popen(command, cwd=root, env=self.env,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)
        for line in self.proc.stdout:
            _relay(line)
        self.rc = self.proc.wait()

    def interrupt(self) -> None:
        """Ctrl-C for behave (a terminal's Ctrl-C reached it already; SIGTERM
        sent to this process alone did not). runner.behave_process takes the
        first interrupt and ignores the rest, so its cleanup is not cut short."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)

    def finish_behave(self, deadline: float) -> None:
        """After an interrupt: give behave's after-hooks (cleanup) until the
        deadline, then kill it."""
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def stop_target(self) -> str | None:
        """Stops what start_target started; the one-line problem if that failed."""
        if self.started is None:
            return None
        try:
            self.started.stop()
        except Exception as exc:  # noqa: BLE001 -- report it, and still write the reports
            return " ".join(str(exc).split())
        finally:
            self.started = None
        return None


def _in_threads(function, workers: list[_Worker], threads: list) -> list[BaseException | None]:
    """function(worker) for every worker at once; the exception each raised.
    The threads are added to `threads`: an interrupt leaves them running, and
    the caller joins them once it has stopped what they wait for."""
    errors: list[BaseException | None] = [None] * len(workers)

    def call(i):
        try:
            function(workers[i])
        except BaseException as exc:  # noqa: BLE001 -- handed back to the caller
            errors[i] = exc
    started = [threading.Thread(target=call, args=(i,), daemon=True) for i in range(len(workers))]
    threads += started
    for thread in started:
        thread.start()
    for thread in started:
        while thread.is_alive():       # a plain join() would not let Ctrl-C through
            thread.join(0.2)
    return errors


def failed_scenarios(root: Path, reports_dir: Path, which: str) -> tuple[str, list]:
    """(run id, [ScenarioEntry]) of the scenarios that failed in run `which`:
    "last" (the newest run under reports_dir with a report), a run id, or a
    run's folder. Matched by feature file and scenario name, so that edits
    which move a scenario's line keep it."""
    if which == "last":
        # by when each report was written: run ids have whole seconds and a random
        # suffix, so two runs started in one second do not sort by name
        runs = sorted((d for d in reports_dir.iterdir() if (d / "report.json").is_file()),
                      key=lambda d: ((d / "report.json").stat().st_mtime_ns, d.name)) \
            if reports_dir.is_dir() else []
        if not runs:
            raise UserError(f"--rerun-failed: no earlier run with a report.json in {reports_dir}")
        run_dir = runs[-1]
    else:
        run_dir = Path(which) if Path(which).is_dir() else reports_dir / which
        if not (run_dir / "report.json").is_file():
            raise UserError(f"--rerun-failed {which}: no report.json in {run_dir}")
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    failed = {(s["location"].rsplit(":", 1)[0], s["name"]) for f in report.get("features", [])
              for s in f.get("scenarios", []) if s.get("status") in model.FAILING}
    if not failed:
        raise UserError(f"--rerun-failed: run {run_dir.name} has no failed scenario")
    selected = [e for e in features.scenario_index(root, []) if (e.location.rsplit(":", 1)[0], e.name) in failed]
    if not selected:
        raise UserError(f"--rerun-failed: none of the {len(failed)} scenario(s) that failed in run "
                        f"{run_dir.name} is in the features any more")
    return run_dir.name, selected


def preflight(root: Path, profile, selected: list, skips_are_problems: bool = False) -> list[str]:
    """What the target's class finds the selected scenarios need and lack
    (runner/targets: the lab's profile serves their buckets and engines; a
    real target's clusters and buckets have what they use): problems raise
    Problems, one line each; the warnings are returned. With
    `skips_are_problems` (`dmaas validate`), what `dmaas run` would skip for
    want of something (an engine, cluster lifecycle) is a problem too."""
    findings = targets.target_class(profile).preflight(profile, root, selected)
    problems = findings.problems + (findings.skips + findings.warnings if skips_are_problems else [])
    if problems:
        raise Problems(problems)
    return findings.warnings


def _split(entries: list, parts: int, options: Options, profile, reports_dir: Path, model_) -> list:
    """The scenarios in at most `parts` groups balanced by their expected
    seconds on this target (workers.partition): the same for every
    `--shard I/N` that sees the same earlier reports, and for --jobs."""
    fs_engines = frozenset(name for name, engine in model_.engines.items() if engine.get("backup") == "fs")
    skip_tags = frozenset(getattr(profile, "data", profile or {}).get("skip_tags") or {})
    return workers_.partition(entries, parts, workers_.past_durations(reports_dir, options.target),
                              fs_engines, skip_tags)


def _plan(order: list, options: Options, profile, reports_dir: Path, model_):
    """(jobs, [[ScenarioEntry]] or None for one worker over everything, serial
    order) for the selected scenarios `order`."""
    jobs = options.jobs if options.jobs is not None else workers_.default_jobs()
    if jobs < 1:
        raise UserError(f"--jobs {jobs}: expected 1 or more")
    if jobs == 1 or not targets.target_class(profile).parallel_safe(profile):
        return 1, None, []
    if len(order) <= 1:
        return 1, None, []
    plan = _split(order, jobs, options, profile, reports_dir, model_)
    return len(plan), plan, order


def shard_of(selection: list, options: Options, profile, reports_dir: Path, model_) -> list:
    """The scenarios of shard I of N: the I-th group of the selection split in N (none when it has fewer)."""
    index, count = options.shard
    groups = _split(selection, count, options, profile, reports_dir, model_)
    return groups[index - 1] if index <= len(groups) else []


def run(options: Options) -> int:
    root = Path(options.root).resolve()
    profile = scenarios.load_target_profile(root, options.target)
    model_ = scenarios.load(root)
    expand.write(root, expand.render(root, model_))
    strategy_text = strategy.read(root)
    reports_dir = Path(options.report_dir or root / "reports").resolve()
    if options.rerun_failed and options.tags:
        raise UserError("--rerun-failed selects the scenarios itself: drop --tags")
    rerun_of, selected = failed_scenarios(root, reports_dir, options.rerun_failed) if options.rerun_failed \
        else (None, features.require_selection(root, options.tags))      # before any target starts
    selection = selected
    if options.shard:
        selected = shard_of(selection, options, profile, reports_dir, model_)
    for warning in preflight(root, profile, selected):
        print(f"warning: {warning}", file=sys.stderr)
    jobs, plan, order = _plan(selected, options, profile, reports_dir, model_)

    run_id = new_run_id()
    run_dir = reports_dir / run_id
    run_dir.mkdir(parents=True)
    shard = {"index": options.shard[0], "count": options.shard[1], "selection": [e.location for e in selection],
             "scenarios": [e.location for e in selected]} if options.shard else None
    info = {"run_id": run_id, "target": options.target, "tags": options.tags, "jobs": jobs,
            "started": _now(), "finished": "", **({"rerun_of": rerun_of} if rerun_of else {}),
            **({"shard": shard} if shard else {})}
    (run_dir / model.RUN_INFO).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    print(f"run {run_id}: target {options.target}, "
          + (f"the {len(selection)} failed scenario(s) of run {rerun_of}" if rerun_of
             else f"tags {' '.join(options.tags) or '(all)'}")
          + (f", shard {shard['index']}/{shard['count']}: {len(selected)} of {len(selection)} scenarios"
             if shard else "")
          + (f", {jobs} workers" if jobs > 1 else ""), flush=True)
    if not selected:      # a shard of more parts than scenarios: nothing to start
        info["finished"] = _now()
        (run_dir / model.RUN_INFO).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        paths = report.write_all(model.load_run(run_dir), run_dir, strategy_text)
        print("0 scenarios in this shard\nreports: " + " ".join(str(p) for p in paths))
        return 0

    env = behave_env(root)
    env.update(DMAAS_TARGET=options.target, DMAAS_RUN_ID=run_id, DMAAS_REPORT_DIR=str(run_dir))
    if plan is None:     # given the scenarios' locations unless it runs every scenario of the tags
        workers = [_Worker(run_dir, [e.location for e in selected] if rerun_of or shard else None, env)]
    else:
        workers = [_Worker(run_dir / "workers" / str(i), [e.location for e in group], env)
                   for i, group in enumerate(plan)]
        for worker in workers:
            worker.out_dir.mkdir(parents=True)
    handlers = _handle_interrupts()
    try:     # interrupts are ignored from the first one until the reports of what ran are written
        return _execute(root, options, profile, run_dir, info, workers, plan, order, strategy_text)
    finally:
        _restore(handlers)


def _execute(root, options, profile, run_dir, info, workers, plan, order, strategy_text) -> int:
    """Start what the workers need, run behave in every worker, stop everything, report."""
    interrupted = None          # the signal that stopped the run
    stop_problems: list[str] = []
    threads: list[threading.Thread] = []
    try:
        errors = _in_threads(lambda w: w.start_target(profile, root), workers, threads)
        failed = next((e for e in errors if e is not None), None)
        if failed is not None:
            if isinstance(failed, KeyboardInterrupt):
                raise failed
            print(f"error: the target did not start: {' '.join(str(failed).split()) or type(failed).__name__}",
                  file=sys.stderr)
            return 1
        _in_threads(lambda w: w.run_behave(behave_command(w.out_dir, options.tags, options.target), root),
                    workers, threads)
    except KeyboardInterrupt as exc:
        interrupted = getattr(exc, "signum", signal.SIGINT)
        print(f"interrupted ({signal.Signals(interrupted).name}): waiting up to {STOP_TIMEOUT}s for behave's "
              "cleanup", file=sys.stderr)
    finally:
        _ignore_interrupts()     # a second interrupt must not leave behave or a lab running
        deadline = time.monotonic() + STOP_TIMEOUT
        if interrupted:
            for worker in workers:
                worker.interrupt()
        for worker in workers:
            worker.finish_behave(deadline)
        for thread in threads:       # a lab still starting when the interrupt came
            thread.join(max(0.1, deadline - time.monotonic()))
        for worker in workers:
            problem = worker.stop_target()
            if problem:
                print(f"error: stopping the target: {problem}", file=sys.stderr)
                stop_problems.append(problem)
        for problem in _after_run(profile, run_dir, info["run_id"]):
            print(f"error: after the run: {problem}", file=sys.stderr)
            stop_problems.append(problem)

    behave_rc = max((w.rc for w in workers if w.rc is not None), default=None)
    info["finished"] = _now()
    info["behave_exit_code"] = behave_rc
    (run_dir / model.RUN_INFO).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    if plan is not None:
        workers_.merge_outputs(run_dir, [workers_.Part(w.out_dir, frozenset(e.location for e in group))
                                         for w, group in zip(workers, plan)], [e.location for e in order])
    # behave wrote its json unredacted; a cut-short one is dropped (the extras still say what ran)
    model.sanitize_behave_json(run_dir / model.BEHAVE_JSON)
    _recover_behave_json(root, run_dir)
    if plan is not None:
        remove_tree(run_dir / "workers")
    result = model.load_run(run_dir)
    paths = report.write_all(result, run_dir, strategy_text)
    code = conclude(result, paths, behave_rc, interrupted, options.tags, shard=options.shard is not None)
    return max(code, 1) if stop_problems and not interrupted else code


def _recover_behave_json(root: Path, run_dir: Path) -> None:
    """behave writes its json when it ends: a behave stopped before its
    cleanup ended (an interrupt whose after-hooks outlast STOP_TIMEOUT) wrote
    none, and the report would say no scenario ran. The scenarios the
    formatter recorded as they ended (extras.jsonl) are reported from the
    feature files instead."""
    behave_path = run_dir / model.BEHAVE_JSON
    if behave_path.is_file() and behave_path.stat().st_size:
        return
    ran = [location for _, location in model.read_extras(run_dir / model.EXTRAS)]
    if ran:
        behave_path.write_text(json.dumps(features.behave_json(root, ran), indent=1) + "\n", encoding="utf-8")
        model.sanitize_behave_json(behave_path)


def _after_run(profile, run_dir: Path, run_id: str) -> list[str]:
    """What the target's class removes once behave is gone: the real stack it
    left, or what a run on shared clusters left (swept by its label)."""
    try:
        return targets.target_class(profile).after_run(profile, run_dir, run_id)
    except Exception as exc:  # noqa: BLE001 -- said, and the reports are still written
        return [" ".join(str(exc).split()) or type(exc).__name__]


def _handle_interrupts() -> dict:
    """SIGTERM and SIGHUP raise Interrupted as Ctrl-C raises KeyboardInterrupt;
    the handlers they replace (SIGINT's too), to put back."""
    if threading.current_thread() is not threading.main_thread():
        return {}           # signal handlers belong to the main thread
    handlers = {signum: signal.getsignal(signum) for signum in INTERRUPTS}
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_interrupted)
    # Ctrl-C too, even when started with SIGINT ignored (a shell's `dmaas run &`,
    # a CI step's background job): the behave workers handle it anyway, so the
    # run must too, or they stop while it reports an ordinary failure
    signal.signal(signal.SIGINT, signal.default_int_handler)
    return handlers


def _ignore_interrupts() -> None:
    if threading.current_thread() is threading.main_thread():
        for signum in INTERRUPTS:
            signal.signal(signum, signal.SIG_IGN)


def _restore(handlers: dict) -> None:
    for signum, handler in handlers.items():
        signal.signal(signum, handler)


def conclude(result: model.Run, paths: list[Path], behave_rc, interrupted: int | None, tags: list[str],
             shard: bool = False) -> int:
    """Prints what did not pass and the counts; the exit code (`dmaas run`, `dmaas report merge`).
    A shard whose part is only scenarios not for this target ran nothing and
    did nothing wrong (the merge judges the run)."""
    counts = result.counts()
    skipped = [s for s in result.scenarios if s.status == "skipped"]
    several = len(result.targets) > 1       # a merge of runs on several targets: say which
    if skipped:
        print("skipped:")
        for s in skipped:
            print(f"  {s.tcid or s.name}{f' on {s.target}' if several else ''}: {s.reason}")
    by_design: dict[str, int] = {}      # the forms for other targets: one line per reason, not per scenario
    for s in result.scenarios:
        if s.status == model.NOT_FOR_TARGET:
            by_design[s.reason] = by_design.get(s.reason, 0) + 1
    for reason, n in by_design.items():
        print(f"{model.LABELS[model.NOT_FOR_TARGET]}: {n} scenario(s): {reason}")
    print(f"{len(result.scenarios)} scenarios: "
          + ", ".join(f"{n} {model.LABELS.get(k, k)}" for k, n in counts.items() if n or k == "passed")
          + f" ({result.duration:.1f}s)")
    print("reports: " + " ".join(str(p) for p in paths))
    if interrupted:
        print(f"interrupted ({signal.Signals(interrupted).name})", file=sys.stderr)
        return 128 + interrupted
    if any(counts[k] for k in model.FAILING):
        return 1
    if not result.scenarios:
        if behave_rc:
            print(f"error: behave exited with {behave_rc} before running any scenario (see its output above)",
                  file=sys.stderr)
            return 1
        raise UserError(f"no scenario matches the tags {' '.join(tags) or '(none)'}")
    if counts["passed"] == 0:
        if shard and counts[model.NOT_FOR_TARGET] == len(result.scenarios):
            print("this shard's scenarios are all not for this target: nothing to run")
            return 0
        print("error: no selected scenario ran (all skipped)", file=sys.stderr)
        return 1
    if behave_rc:
        print(f"error: behave exited with {behave_rc}", file=sys.stderr)
        return 1
    return 0
