"""One call of an uploader CLI (kopia, restic) on node-agent's data path:
timed for the benchmark, its failure one line naming the repository (the
CLI's last stderr line; the password and keys travel in the environment,
never on the command line)."""
import subprocess
import time

from lab.metrics import METRICS

TIMEOUT_SECONDS = 600


def run(command, env, what, repository, error, cwd=None):
    """stdout of `command`; raises `error` (an exception class) when it
    fails or outlives TIMEOUT_SECONDS. `what` names the call ("kopia
    snapshot create") in messages and in the lab's metrics."""
    started = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        raise error(f"{what} timed out after {TIMEOUT_SECONDS}s (repository {repository})") from None
    finally:
        METRICS.add("uploader", what, time.perf_counter() - started)
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit status {done.returncode}"
        raise error(f"{what} failed (repository {repository}): {reason}")
    return done.stdout
