"""behave hooks: the target for the run, a fresh driver and scenario state
(steps/scenario_state.py) per scenario, diagnostics when a scenario fails,
and cleanup after every scenario.

Target: the profile named by `-D target=NAME`, else $DMAAS_TARGET, else
`lab`, opened by its kind's class (runner/targets: a lab profile attaches to
the lab in $DMAAS_LAB_STATE when set, as `dmaas run` does, and otherwise
starts one for the run and stops it afterwards).

Before a scenario's first step, what its steps ask of the target (the
clusters they name, cluster lifecycle, faults: runner.features.step_needs)
and what a real clock makes impossible to check (runner/targets/real_time.py)
are asked of the target: a scenario it cannot run is skipped with the
reason before anything is set up or waited for.

Diagnostics of a failed scenario go to
`$DMAAS_REPORT_DIR/diagnostics/<scenario-slug>/` (default
`reports/<run-id>/diagnostics/...`), collected before cleanup. Every
scenario with plans, passed or failed, leaves the timeline of what it saw of
their backups and restores on the scenario (runner/report/timeline.py) for
the extras formatter to write.
"""
import datetime
import json
import os
import pathlib
import resource
import signal
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
STEPS = pathlib.Path(__file__).parent / "steps"    # the step library, beside this file (a link to steps/)
for path in (REPO, STEPS):    # plain `behave` from the repo root, without installing; the step library
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from runner.dmaas import DMaaS  # noqa: E402
from runner.driver import Driver  # noqa: E402
from runner.driver.waits import POLL_SLEEPS  # noqa: E402
from runner.errors import UserError  # noqa: E402
from runner.interrupts import received as interrupts_received  # noqa: E402
from runner.report import timeline  # noqa: E402
from runner.report.formatters import skip_not_for_target  # noqa: E402
from runner.driver import timeouts  # noqa: E402
from runner.features import step_needs  # noqa: E402
from runner.targets import load_profile, open_target  # noqa: E402
from runner.targets.real_time import problems as real_time_problems  # noqa: E402
from scenario_state import ScenarioState  # noqa: E402


class TargetUnavailable(Exception):
    """The run cannot start: bad profile or a target that did not come up (one line)."""


def _run_id():
    return os.environ.get("DMAAS_RUN_ID") or datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y%m%d-%H%M%S")


def before_all(context):
    context.run_id = _run_id()
    context.report_dir = pathlib.Path(os.environ.get("DMAAS_REPORT_DIR") or REPO / "reports" / context.run_id)
    name = context.config.userdata.get("target") or os.environ.get("DMAAS_TARGET") or "lab"
    try:
        profile = load_profile(name)
        context.skip_tags = dict(profile.data.get("skip_tags") or {})
        timeouts.configure(profile.data.get("timeouts"))
        context.target = open_target(profile)
    except UserError as error:   # behave shows a hook error as its one-line message
        raise TargetUnavailable(f"target '{name}': {error.message}") from None
    except Exception as error:   # the lab failed to start: its own one-line reason
        raise TargetUnavailable(f"target '{name}' did not start: {' '.join(str(error).split())}") from None


def after_all(context):
    target = getattr(context, "target", None)
    if target is not None:
        target.stop()


# bench/suite.py sets this to a file that gets one JSON line per scenario:
# wall time, the target's own counters (lab: S3, API, uploader, controllers,
# clock) and the driver's poll sleeps over the scenario, hooks included.
BENCH_OUT = os.environ.get("DMAAS_BENCH_OUT")


def _bench_start(context):
    context.bench = (time.monotonic(), context.target.metrics(), dict(POLL_SLEEPS))


def _bench_end(context, scenario):
    started, metrics, polls = context.bench
    line = {"scenario": scenario.name, "status": scenario.status.name,
            "seconds": round(time.monotonic() - started, 3),
            "target_before": metrics, "target_after": context.target.metrics(),
            "poll_sleeps": {k: POLL_SLEEPS[k] - polls[k] for k in POLL_SLEEPS},
            "behave_peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
    with open(BENCH_OUT, "a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")


def before_scenario(context, scenario):
    if BENCH_OUT:
        _bench_start(context)
    context.driver = Driver(context.target, context.run_id, scenario.name)
    context.scenario_state = ScenarioState(dmaas=DMaaS(context.driver))
    context.scenario_slug = f"{context.driver.slug}-{context.driver.id}"
    skipped = [tag for tag in scenario.effective_tags if tag in context.skip_tags]
    if skipped:   # before any step: nothing is set up for a scenario this target does not run by design
        skip_not_for_target(scenario, f"not run on target '{context.target.name}' (@{skipped[0]}): "
                                      f"{context.skip_tags[skipped[0]]}")
        return
    reason = cannot_run(context.target, scenario)
    if reason:
        scenario.skip(f"unsupported on target '{context.target.name}': {reason}")


def after_step(context, step):
    """After a step an interrupt landed in, the run stops (behave's own
    abort: the rest untested, cleanup hooks run) and the scenario says so,
    also when a library swallowed the KeyboardInterrupt and the step failed
    with what followed."""
    if not interrupts_received or getattr(context, "aborted", False):
        return
    name = signal.Signals(interrupts_received[0]).name
    context.abort(reason=f"interrupted ({name})")
    if step.status.has_failed():
        error = getattr(step, "exception", None)
        then = f" (then: {type(error).__name__}: {' '.join(str(error).split())})" if error else ""
        context.scenario.error_message = f"interrupted ({name}) during step '{step.keyword} {step.name}'{then}"


def cannot_run(target, scenario):
    """Why the target cannot run the scenario, known from its steps' words, or None."""
    for action, name in step_needs(scenario.all_steps):
        reason = target.cannot(action, name)
        if reason:
            return reason
    return next(iter(real_time_problems(scenario.all_steps, target)), None)


def _timeline(context, driver):
    """The plans' backups and restores as the steps recorded them (steps/scenario_state.py), for the reports."""
    state = getattr(context, "scenario_state", None)
    if state is None or not state.plans:
        return None
    try:
        ended = driver.clock.now()
    except Exception:   # the target stopped answering: the timeline ends at its last event
        ended = None
    return timeline.record(state.plans, state.seen_backups, state.gone, state.restores, ended)


def after_scenario(context, scenario):
    driver = getattr(context, "driver", None)
    if driver is None:
        return
    try:
        try:
            scenario.timeline = _timeline(context, driver)
        except Exception as error:   # a report detail must never hide the scenario's own result
            print(f"timeline of {scenario.name} failed: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
        if scenario.status.name in ("failed", "error", "hook_error"):
            directory = context.report_dir / "diagnostics" / context.scenario_slug
            try:
                driver.diagnostics(directory)
                scenario.diagnostics_dir = f"diagnostics/{context.scenario_slug}"   # for the reports
                print(f"diagnostics: {directory}", file=sys.stderr, flush=True)
            except Exception as error:   # diagnostics must never hide the failure itself
                print(f"diagnostics of {scenario.name} failed: {type(error).__name__}: {error}",
                      file=sys.stderr, flush=True)
        problems = driver.cleanup()
        if problems:   # something was left behind: a hook error marks the scenario
            raise AssertionError(f"cleanup of '{scenario.name}' left things behind: " + "; ".join(problems))
    finally:
        driver.close()
        if BENCH_OUT:
            _bench_end(context, scenario)
