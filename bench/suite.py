"""Where a `dmaas run` spends its time, per scenario and in total.

    python3 bench/suite.py [--tags EXPR]... [--jobs N] [--target lab] [--keep]

Runs `dmaas run` with DMAAS_BENCH_OUT set (features/environment.py then
writes one JSON line per scenario: wall time, the lab's own counters over
the scenario and the driver's poll sleeps) while sampling the memory of the
whole process tree twice a second, then prints:

- per scenario: wall seconds; uploader processes (count, seconds); S3
  requests (count, seconds); Kubernetes API requests (count, seconds);
  controller passes and clock stops; seconds the driver slept in polls;
- totals, S3 requests by operation, uploader calls by command, controller
  seconds by controller;
- peak RSS of the lab, of behave, of the S3 servers, of the uploader, and
  of the whole tree.

It prints figures and never asserts a time (the README's figures come from
here). Exit status is dmaas run's.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- memory

def _children():
    """{pid: [child pids]} of every process, from /proc."""
    tree = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def _rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _kind(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            words = cmdline.read().split(b"\0")
    except OSError:
        return "other"
    text = b" ".join(words).decode(errors="replace")
    for marker, kind in (("versitygw", "S3 server"), ("velero-uploader", "uploader"), ("-m lab serve", "lab"), ("-m behave", "behave"),
                         ("restic", "uploader"), ("dmaas", "dmaas run")):
        if marker in text:
            return kind
    return "other"


class MemorySampler(threading.Thread):
    """Peak RSS per process kind and of the whole tree under one pid."""

    def __init__(self, root_pid, interval=0.5):
        super().__init__(daemon=True)
        self.root_pid, self.interval = root_pid, interval
        self.peak = {"tree": 0}
        self._done = threading.Event()

    def run(self):
        while not self._done.wait(self.interval):
            tree, pending, total, kinds = _children(), [self.root_pid], 0, {}
            while pending:
                pid = pending.pop()
                rss = _rss_kib(pid)
                total += rss
                kind = _kind(pid)
                kinds[kind] = max(kinds.get(kind, 0), rss)
                pending += tree.get(pid, [])
            self.peak["tree"] = max(self.peak["tree"], total)
            for kind, rss in kinds.items():
                self.peak[kind] = max(self.peak.get(kind, 0), rss)

    def stop(self):
        self._done.set()
        self.join(timeout=5)


# ---------------------------------------------------------------- figures

def _delta(before, after):
    """{area: {name: [count, seconds]}} spent between two /metrics snapshots."""
    if not before or not after:
        return {}
    result = {}
    for area, names in after["areas"].items():
        for name, (count, seconds) in names.items():
            was = before["areas"].get(area, {}).get(name, [0, 0.0])
            if count - was[0]:
                result.setdefault(area, {})[name] = [count - was[0], seconds - was[1]]
    return result


def _sum(area_figures):
    return [sum(v[0] for v in area_figures.values()), sum(v[1] for v in area_figures.values())]


def _merge(into, figures):
    for area, names in figures.items():
        for name, (count, seconds) in names.items():
            entry = into.setdefault(area, {}).setdefault(name, [0, 0.0])
            entry[0] += count
            entry[1] += seconds


def _row(name, seconds, figures, polls):
    uploader, s3, api = (_sum(figures.get(a, {})) for a in ("uploader", "s3", "api"))
    clock = figures.get("clock", {})
    passes, stops = clock.get("pass", [0])[0], clock.get("stop", [0])[0]
    return (f"{name[:44]:44} {seconds:8.1f} {uploader[0]:5d} {uploader[1]:7.1f} {s3[0]:6d} {s3[1]:7.1f} "
            f"{api[0]:6d} {api[1]:6.1f} {passes:6d} {stops:5d} {polls['seconds']:6.1f}")


HEADER = (f"{'scenario':44} {'wall s':>8} {'upl n':>5} {'upl s':>7} {'s3 n':>6} {'s3 s':>7} "
          f"{'api n':>6} {'api s':>6} {'passes':>6} {'stops':>5} {'poll s':>6}")


def report(lines, wall, peak):
    total, polls = {}, {"count": 0, "seconds": 0.0}
    print(HEADER)
    for line in lines:
        figures = _delta(line["target_before"], line["target_after"])
        _merge(total, figures)
        for key in polls:
            polls[key] += line["poll_sleeps"][key]
        print(_row(f"{line['status'][:4]} {line['scenario']}", line["seconds"], figures, line["poll_sleeps"]))
    print(_row(f"total ({len(lines)} scenarios, sum)", sum(l["seconds"] for l in lines), total, polls))
    print(f"wall time of dmaas run: {wall:.1f} s")
    for area, title in (("s3", "S3 requests by operation"), ("uploader", "uploader calls"),
                        ("api", "Kubernetes API requests by verb"), ("controllers", "controller seconds"),
                        ("clock", "clock"), ("s3-caller", "s3 callers")):
        names = total.get(area, {})
        if names:
            print(f"{title}: " + ", ".join(f"{name} {count}/{seconds:.1f}s" for name, (count, seconds)
                                           in sorted(names.items(), key=lambda item: -item[1][1])))
    print("peak RSS MiB: " + ", ".join(f"{kind} {kib / 1024:.0f}" for kind, kib in sorted(peak.items())))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tags", action="append", default=[], help="behave tag expression (repeatable)")
    parser.add_argument("--jobs", type=int, help="dmaas run --jobs N")
    parser.add_argument("--target", default="lab")
    parser.add_argument("--keep", action="store_true", help="keep the reports (printed) instead of a temp dir")
    args = parser.parse_args(argv)
    reports = Path(tempfile.mkdtemp(prefix="dmaas-bench-"))
    out = reports / "bench.jsonl"
    command = [sys.executable, "-m", "runner.cli", "run", "--target", args.target, "--report-dir", str(reports)]
    command += [f"--tags={tag}" for tag in args.tags]
    if args.jobs:
        command += ["--jobs", str(args.jobs)]
    started = time.monotonic()
    proc = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "DMAAS_BENCH_OUT": str(out)},
                            stdout=subprocess.PIPE, text=True)
    sampler = MemorySampler(proc.pid)
    sampler.start()
    for line in proc.stdout:
        sys.stdout.write(line)
    rc = proc.wait()
    wall = time.monotonic() - started
    sampler.stop()
    lines = [json.loads(l) for l in out.read_text().splitlines()] if out.exists() else []
    report(lines, wall, sampler.peak)
    if args.keep:
        print(f"reports: {reports}")
    else:
        subprocess.run(["rm", "-rf", str(reports)], check=False)
    return rc


if __name__ == "__main__":
    sys.exit(main())
