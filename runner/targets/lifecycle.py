"""Cluster lifecycle hooks of a real target profile: the team's own commands
that create and destroy a cluster by name, and install what a new cluster
needs (e.g. a `velero install` line).

    lifecycle:
      create: make-cluster "$DMAAS_CLUSTER"       # prints the new cluster's kubeconfig path (last line)
      destroy: drop-cluster "$DMAAS_CLUSTER"
      install: velero install --kubeconfig "$KUBECONFIG" ...   # optional, run on each new cluster
      timeout: 900                                 # seconds each command may take (default 900)

Each is a shell line run by /bin/sh with DMAAS_CLUSTER (the cluster's name,
which carries the scenario's prefix) and, for install, KUBECONFIG and
DMAAS_CONTEXT in its environment; values reach it only through the
environment, never spliced into the line. A command that fails, prints no
kubeconfig or runs out of time is one line naming the profile field, the
exit status and its last line of output (redacted).

    Hooks(path, section)            # None when the profile has no lifecycle:
    .create(name) -> kubeconfig path; .install(name, kubeconfig, context); .destroy(name)
"""
from __future__ import annotations

import os
import subprocess
import sys

from runner import redact
from runner.errors import TargetError

DEFAULT_TIMEOUT = 900


class Hooks:
    def __init__(self, path, section):
        self.path = path
        self.commands = {key: section.get(key) for key in ("create", "destroy", "install")}
        self.timeout = float(section.get("timeout") or DEFAULT_TIMEOUT)

    def _run(self, field, name, **env):
        command = self.commands[field]
        print(f"[lifecycle] {field} cluster {name} (lifecycle.{field})", file=sys.stderr, flush=True)
        try:
            done = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, timeout=self.timeout,
                                  stdin=subprocess.DEVNULL, env={**os.environ, "DMAAS_CLUSTER": name, **env})
        except subprocess.TimeoutExpired:
            raise TargetError(f"{self.path}: lifecycle.{field}: cluster {name}: no result within "
                              f"{self.timeout:g} s (lifecycle.timeout)") from None
        if done.returncode != 0:
            raise TargetError(f"{self.path}: lifecycle.{field}: cluster {name}: exited with status "
                              f"{done.returncode}: {_last_line(done.stderr or done.stdout)}")
        return done.stdout

    def create(self, name):
        """Runs `create`; the kubeconfig path it printed last."""
        printed = [line.strip() for line in self._run("create", name).splitlines() if line.strip()]
        kubeconfig = os.path.expanduser(printed[-1]) if printed else ""
        if not kubeconfig or not os.path.isfile(kubeconfig):
            raise TargetError(f"{self.path}: lifecycle.create: cluster {name}: the command's last line of output "
                              f"should be the new cluster's kubeconfig path, found "
                              f"{_last_line(kubeconfig) if kubeconfig else 'no output'}")
        return kubeconfig

    def install(self, name, kubeconfig, context):
        if self.commands["install"]:
            self._run("install", name, KUBECONFIG=kubeconfig, DMAAS_CONTEXT=context)

    def destroy(self, name):
        self._run("destroy", name)


def hooks(path, data):
    """The profile's Hooks, or None without a `lifecycle:` section."""
    section = data.get("lifecycle")
    return Hooks(path, section) if section else None


def _last_line(text):
    lines = [line for line in (text or "").splitlines() if line.strip()]
    return redact.text(lines[-1].strip())[:300] if lines else "(no output)"
