"""`dmaas run`: expand the matrices, start the target, run behave, write
the reports. The lab target is started here (lab.process, the only import of
the lab) and stopped afterwards, on failure and on Ctrl-C too."""
from __future__ import annotations

import datetime as dt
import json
import secrets
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from runner import expand, report, scenarios, strategy
from runner.errors import UserError
from runner.report import model
from runner.step_coverage import behave_env

LAB_TARGET = "lab"
STOP_TIMEOUT = 30     # seconds behave gets to finish its after-hooks after Ctrl-C


@dataclass
class Options:
    root: Path
    tags: list[str]
    target: str = LAB_TARGET
    report_dir: Path | None = None


def new_run_id(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.timezone.utc)
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def behave_command(run_dir: Path, tags: list[str], target: str) -> list[str]:
    command = [sys.executable, "-m", "behave", "--no-summary", "--no-snippets", "--show-skipped",
               "-D", f"target={target}",
               "-f", "json", "-o", str(run_dir / model.BEHAVE_JSON),
               "-f", "runner.report.formatters:ExtrasFormatter", "-o", str(run_dir / model.EXTRAS),
               "-f", "runner.report.formatters:ProgressFormatter", "-o", "-"]
    for tag in tags:
        command.append(f"--tags={tag}")
    return command


def is_lab(name: str, profile: dict | None) -> bool:
    """A profile of kind `lab` (the default for the profile named lab) is started by the run itself."""
    return (profile or {}).get("kind", "lab" if name == LAB_TARGET else "real") == "lab"


def _start_lab(profile: dict, state_dir: Path):
    import lab.process   # the one place runner/ touches the lab: start it as a process
    return lab.process.start((profile or {}).get("lab") or {}, state_dir)


def _relay(line: str) -> None:
    # behave prints its runner class on every run; nobody needs that line
    if not line.startswith("USING RUNNER:"):
        sys.stdout.write(line)
        sys.stdout.flush()


def _run_behave(command: list[str], root: Path, env: dict) -> int:
    """Runs behave, relaying its output (the progress lines) as it comes."""
    proc = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE, text=True, bufsize=1)
    try:
        for line in proc.stdout:
            _relay(line)
        return proc.wait()
    except KeyboardInterrupt:
        # behave got the SIGINT too; give its after-hooks (cleanup) time to finish
        print(f"interrupted: waiting up to {STOP_TIMEOUT}s for behave's cleanup", file=sys.stderr)
        try:
            rest, _ = proc.communicate(timeout=STOP_TIMEOUT)
            for line in (rest or "").splitlines(keepends=True):
                _relay(line)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        raise


def run(options: Options) -> int:
    root = Path(options.root).resolve()
    profile = scenarios.target_profile(root, options.target)
    model_ = scenarios.load(root)
    expand.write(root, expand.render(root, model_))
    strategy_text = strategy.read(root)

    run_id = new_run_id()
    run_dir = Path(options.report_dir or root / "reports").resolve() / run_id
    run_dir.mkdir(parents=True)
    info = {"run_id": run_id, "target": options.target, "tags": options.tags, "started": _now(), "finished": ""}
    (run_dir / model.RUN_INFO).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    print(f"run {run_id}: target {options.target}, tags {' '.join(options.tags) or '(all)'}", flush=True)

    env = behave_env(root)
    env.update(DMAAS_TARGET=options.target, DMAAS_RUN_ID=run_id, DMAAS_REPORT_DIR=str(run_dir))
    lab_handle = None
    interrupted = False
    behave_rc = None
    lab_stop_failed = False
    try:
        if is_lab(options.target, profile):
            try:
                lab_handle = _start_lab(profile, run_dir / "lab")
            except Exception as exc:  # noqa: BLE001 -- whatever stopped the lab, say it in one line
                print(f"error: the lab target did not start: {' '.join(str(exc).split()) or type(exc).__name__}",
                      file=sys.stderr)
                return 1
            env["DMAAS_LAB_STATE"] = str(run_dir / "lab" / "lab.json")
        behave_rc = _run_behave(behave_command(run_dir, options.tags, options.target), root, env)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if lab_handle is not None:
            # a second Ctrl-C must not leave the lab running
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
            try:
                lab_handle.stop()
            except Exception as exc:  # noqa: BLE001 -- report it, and still write the reports
                print(f"error: stopping the lab: {' '.join(str(exc).split())}", file=sys.stderr)
                lab_stop_failed = True
            finally:
                signal.signal(signal.SIGINT, previous)

    info["finished"] = _now()
    info["behave_exit_code"] = behave_rc
    (run_dir / model.RUN_INFO).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    # behave wrote its json unredacted; a cut-short one is dropped (the extras still say what ran)
    model.sanitize_behave_json(run_dir / model.BEHAVE_JSON)
    result = model.load_run(run_dir)
    paths = report.write_all(result, run_dir, strategy_text)
    code = _conclude(result, paths, behave_rc, interrupted, options)
    return max(code, 1) if lab_stop_failed and code != 130 else code


def _conclude(result: model.Run, paths: list[Path], behave_rc, interrupted: bool, options: Options) -> int:
    counts = result.counts()
    skipped = [s for s in result.scenarios if s.status == "skipped"]
    if skipped:
        print("skipped:")
        for s in skipped:
            print(f"  {s.tcid or s.name}: {s.reason}")
    print(f"{len(result.scenarios)} scenarios: " + ", ".join(f"{n} {k}" for k, n in counts.items() if n or k == "passed")
          + f" ({result.duration:.1f}s)")
    print("reports: " + " ".join(str(p) for p in paths))
    if interrupted:
        print("interrupted", file=sys.stderr)
        return 130
    if any(counts[k] for k in model.FAILING):
        return 1
    if not result.scenarios:
        if behave_rc:
            print(f"error: behave exited with {behave_rc} before running any scenario (see its output above)",
                  file=sys.stderr)
            return 1
        raise UserError(f"no scenario matches the tags {' '.join(options.tags) or '(none)'}")
    if counts["passed"] == 0:
        print("error: no selected scenario ran (all skipped)", file=sys.stderr)
        return 1
    if behave_rc:
        print(f"error: behave exited with {behave_rc}", file=sys.stderr)
        return 1
    return 0
