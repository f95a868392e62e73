"""Start, find and stop the lab process from outside (the only lab module
the runner imports).

    handle = start(config, state_dir)   # config: None | YAML path | mapping
    handle.state                        # lab.json as a dict
    handle.stop()                       # POST /shutdown, wait for the process

The child is `python -m lab serve --state-dir D --config - --log D/lab.log`:
it reads its (already validated) configuration from stdin and reports start
errors on stderr, which start() reads until the child switches its output
to the log file, so a failed start raises with the child's own one-line error.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

from lab.config import load_config, parse_config

START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)


class LabProcessError(RuntimeError):
    """Starting, finding or stopping the lab failed; the message is one line."""


def default_state_dir():
    return Path(os.environ.get("DMAAS_LAB_DIR") or ".lab")


class LabProcess:
    """A running lab process (started here or attached to)."""

    def __init__(self, state_dir, state, popen=None):
        self.state_dir = Path(state_dir)
        self.state = state
        self._popen = popen

    @property
    def control_url(self):
        return self.state["control"]

    @property
    def pid(self):
        return self.state["pid"]

    def control(self, method, path, body=None, timeout=60):
        """Call the control API -> (status, JSON body)."""
        return control_call(self.control_url, method, path, body, timeout)

    def refresh(self):
        """Re-read the state (clusters come and go)."""
        self.state = self.control("GET", "/state")[1]
        return self.state

    def stop(self, timeout=STOP_TIMEOUT):
        """Ask the lab to shut down and wait until its process is gone."""
        try:
            self.control("POST", "/shutdown", timeout=5)
        except LabProcessError:
            _signal(self.pid, signal.SIGTERM)
        if not self._wait_exit(timeout):
            _signal(self.pid, signal.SIGKILL)
            self._wait_exit(5)
            raise LabProcessError(f"lab process {self.pid} did not exit within {timeout:.0f}s of "
                                  f"shutdown; killed it")
        if self.state_dir.exists() and not (self.state_dir / "lab.json").exists():
            remove_tree(self.state_dir)

    def _wait_exit(self, timeout):
        if self._popen is not None:
            try:
                self._popen.wait(timeout)
                return True
            except subprocess.TimeoutExpired:
                return False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _alive(self.pid):
                return True
            time.sleep(0.02)
        return False


def start(config=None, state_dir=None, timeout=START_TIMEOUT, source="<config>", detach=False):
    """Start a lab in the background and return once it is serving (a bad
    config raises lab.config.ConfigError before anything starts, naming
    `source` for a mapping, the file for a path). Unless `detach`, the lab
    shuts itself down when this process dies, so a killed test run or
    benchmark never leaves a lab behind; `python -m lab up` detaches."""
    if isinstance(config, dict):
        parsed = parse_config(config, source)
    elif config is not None:
        parsed = load_config(str(config))
    else:
        parsed = parse_config(None)
    state_dir = Path(state_dir or default_state_dir()).resolve()
    running = running_state(state_dir)
    if running:
        raise LabProcessError(f"a lab is already running in {state_dir} (pid {running['pid']})")
    check_state_dir(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [_PACKAGE_ROOT, os.environ.get("PYTHONPATH")])))
    popen = subprocess.Popen(
        [sys.executable, "-m", "lab", "serve", "--state-dir", str(state_dir), "--config", "-",
         "--log", str(state_dir / "lab.log")] + ([] if detach else ["--exit-with-parent", str(os.getpid())]),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True, env=env)     # a session of its own: `dmaas lab up` may exit
    early_output = []
    reader = threading.Thread(target=lambda: early_output.extend(popen.stdout), daemon=True)
    reader.start()
    popen.stdin.write(yaml.safe_dump(_as_mapping(parsed)).encode())
    popen.stdin.close()
    lab_json = state_dir / "lab.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lab_json.exists():
            return LabProcess(state_dir, json.loads(lab_json.read_text()), popen)
        if popen.poll() is not None:
            reader.join(2)
            lines = [l.decode(errors="replace").strip() for l in early_output if l.strip()]
            remove_tree(state_dir)
            raise LabProcessError(lines[-1] if lines else f"lab process exited with status {popen.returncode}")
        time.sleep(0.01)
    popen.kill()
    popen.wait()
    remove_tree(state_dir)
    raise LabProcessError(f"lab did not write {lab_json} within {timeout:.0f}s")


# What a lab puts in its state dir. Anything else means the directory is not
# a lab's, and shutdown (which removes the state dir) would delete someone's files.
_LAB_FILES = {"lab.json", "lab.json.tmp", "lab.log", "clusters"}


def check_state_dir(state_dir):
    """Refuse a state dir that holds anything but a lab's files."""
    state_dir = Path(state_dir)
    if not state_dir.exists():
        return
    if not state_dir.is_dir():
        raise LabProcessError(f"state dir {state_dir} is not a directory")
    foreign = sorted(p.name for p in state_dir.iterdir() if p.name not in _LAB_FILES)
    if foreign:
        raise LabProcessError(f"state dir {state_dir} holds files that are not the lab's ({foreign[0]}); "
                              f"it is removed on shutdown, so choose an empty or new one")


def attach(state_dir=None):
    """The lab already running in state_dir."""
    state_dir = Path(state_dir or default_state_dir()).resolve()
    state = running_state(state_dir)
    if not state:
        raise LabProcessError(f"no lab is running in {state_dir} (no lab.json with a live pid)")
    return LabProcess(state_dir, state)


def control_call(control_url, method, path, body=None, timeout=60):
    """One control API request -> (status, JSON); 4xx/5xx raise with the lab's one-line error."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(control_url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        try:
            message = json.loads(error.read()).get("error") or error.reason
        except ValueError:
            message = error.reason
        raise LabProcessError(f"lab control {method} {path}: {error.code} {message}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise LabProcessError(f"lab control {control_url}{path} unreachable: {reason}") from None


def _as_mapping(config):
    return {"lab": {"clusters": [vars(c) for c in config.clusters], "s3": list(config.s3),
                    "start": config.start, "host": config.host,
                    "engines": {name: spec.as_mapping() for name, spec in config.engines.items()}}}


def running_state(state_dir):
    try:
        state = json.loads((Path(state_dir) / "lab.json").read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) and _alive(state.get("pid")) else None


def _alive(pid):
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal(pid, signum):
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def remove_tree(path):
    shutil.rmtree(path, ignore_errors=True)
