"""`dmaas realstack build|up|status|down|cluster add NAME|cluster remove NAME`.

`cluster add NAME` starts one more cluster on the running stack and prints
its kubeconfig path (its last line of output), `cluster remove NAME` stops
it: what a real target profile's lifecycle hooks need to create and destroy
clusters on the real stack."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from runner.realstack import build, stack


def main(action: str, root: Path, rest: list[str]) -> int:
    if action == "build":
        return build.build(root, rest)
    state = stack.Stack(root)
    try:
        if action == "up":
            clusters = rest or list(stack.DEFAULT_CLUSTERS)
            started = time.monotonic()
            state_json = state.up(clusters, progress=lambda m: print(f"realstack: {m}", file=sys.stderr))
            print(f"realstack up in {time.monotonic() - started:.0f}s: state {state.dir / 'stack.json'}")
            for name, c in state_json["clusters"].items():
                print(f"  cluster {name}: {c['server']} (v{c['version']}) kubeconfig {c['kubeconfig']}")
            for name, s3 in state_json["s3"].items():
                print(f"  s3 {name}: {s3['endpoint']}")
            print(f"  kubectl of the same release: {build.bin_dir(root) / 'kubectl'}")
            return 0
        if action == "cluster":
            if len(rest) != 2 or rest[0] not in ("add", "remove"):
                print("realstack: usage: dmaas realstack cluster add|remove NAME", file=sys.stderr)
                return 2
            verb, name = rest
            if verb == "add":
                entry = state.add_cluster(name, progress=lambda m: print(f"realstack: {m}", file=sys.stderr))
                print(entry["kubeconfig"])
            else:
                state.remove_cluster(name)
                print(f"realstack: cluster {name} removed", file=sys.stderr)
            return 0
        if action == "status":
            lines = state.status()
            print("\n".join(lines))
            return 1 if any("DEAD" in line for line in lines) else 0
        if action == "down":
            started = time.monotonic()
            if state._read_processes() is None:
                print(f"realstack: no real stack in {state.dir}", file=sys.stderr)
                return 1
            state.down()
            print(f"realstack down in {time.monotonic() - started:.1f}s ({state.dir} removed)")
            return 0
    except stack.StackError as error:
        print(f"realstack: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # `up` and `cluster add` take down what they had started before this arrives
        stopping = action == "down" or rest[:1] == ["remove"]
        after = "run `dmaas realstack down` to finish" if stopping else "what it had started is stopped"
        print(f"realstack: {action} interrupted; {after}", file=sys.stderr)
        return 130
    raise ValueError(action)
