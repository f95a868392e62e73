"""`dmaas realstack build|up|status|down|cluster add NAME|cluster remove NAME`.

`cluster add NAME [--kubernetes VERSION] [--velero VERSION]` starts one
more cluster on the running stack (at built releases of versions.env,
default the current set's) and prints its kubeconfig path (its last line of output), `cluster remove NAME` stops
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
            words, releases = _release_options(rest)
            if len(words) != 2 or words[0] not in ("add", "remove") or releases is None \
                    or (releases and words[0] != "add"):
                print("realstack: usage: dmaas realstack cluster add NAME [--kubernetes VERSION] "
                      "[--velero VERSION] | cluster remove NAME", file=sys.stderr)
                return 2
            verb, name = words
            if verb == "add":
                entry = state.add_cluster(name, progress=lambda m: print(f"realstack: {m}", file=sys.stderr),
                                          **releases)
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


def _release_options(args: list[str]) -> tuple[list[str], dict | None]:
    """`--kubernetes V` / `--velero V` taken out of args -> (the other
    words, {"kubernetes": V, "velero": V}), None for a malformed option."""
    words, releases, args = [], {}, list(args)
    while args:
        word = args.pop(0)
        if word in ("--kubernetes", "--velero"):
            if not args:
                return words, None
            releases[word[2:]] = args.pop(0)
        elif word.startswith("--"):
            return words, None
        else:
            words.append(word)
    return words, releases
