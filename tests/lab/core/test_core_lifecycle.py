"""Starting and stopping the lab as a process: speed, clean-up, CLI, bad config."""
import json
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from lab import process
from lab.config import ConfigError

REPO = Path(__file__).resolve().parents[3]


def descendants(pid):
    """Pids whose parent chain leads to `pid` (read from /proc)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def start_and_stop(state_dir):
    started = time.monotonic()
    handle = process.start(None, state_dir)
    up = time.monotonic() - started
    pids = {handle.pid} | descendants(handle.pid)
    assert len(handle.state["clusters"]) == 2 and len(handle.state["s3"]) == 2
    assert len(pids) >= 3                        # the lab and one S3 server (versitygw) per profile
    stopping = time.monotonic()
    handle.stop()
    down = time.monotonic() - stopping
    return up, down, pids


def test_two_clusters_and_two_s3_start_and_stop_cleanly(tmp_path):
    # how fast is bench/lab_api.py's to say (a busy machine must not fail this)
    state_dir = tmp_path / "state"
    up, down, pids = start_and_stop(state_dir)
    print(f"\nlab start {up:.2f}s, stop {down:.2f}s")
    assert not [pid for pid in pids if alive(pid)], "processes left behind"
    assert not state_dir.exists(), "state dir left behind"


def test_bad_config_is_one_line_naming_file_and_field(tmp_path):
    config = tmp_path / "lab.yaml"
    config.write_text("lab:\n  clusters:\n    - {name: backup, version: banana}\n")
    done = subprocess.run([sys.executable, "-m", "lab", "serve", "--state-dir", str(tmp_path / "s"),
                           "--config", str(config)], capture_output=True, text=True, cwd=REPO, timeout=30)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert str(config) in done.stderr and "lab.clusters[0].version" in done.stderr
    assert not (tmp_path / "s").exists()
    with pytest.raises(ConfigError) as error:
        process.start({"lab": {"s3": ["Not_A_Name"]}}, tmp_path / "s")
    assert "lab.s3[0]: bad S3 profile name 'Not_A_Name'" in str(error.value)
    config.write_text("lab: [\n")
    done = subprocess.run([sys.executable, "-m", "lab", "up", "--state-dir", str(tmp_path / "s"),
                           "--config", str(config)], capture_output=True, text=True, cwd=REPO, timeout=30)
    assert done.returncode == 2 and "not valid YAML" in done.stderr and done.stderr.count("\n") == 1


def test_cli_up_status_down(tmp_path):
    config = tmp_path / "lab.yaml"
    config.write_text("clusters: [{name: solo, version: '1.25.0'}]\ns3: [aws]\n")   # top-level mapping works too
    state_dir = tmp_path / "state"

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "lab", *args, "--state-dir", str(state_dir)],
                              capture_output=True, text=True, cwd=REPO, timeout=60)

    done = cli("up", "--config", str(config))
    assert done.returncode == 0, done.stderr
    state = json.loads((state_dir / "lab.json").read_text())
    try:
        assert list(state["clusters"]) == ["solo"] and list(state["s3"]) == ["aws"]
        assert cli("up").returncode == 1                      # one lab per state dir
        s3 = state["s3"]["aws"]
        bucket = boto3.client("s3", endpoint_url=s3["endpoint"], region_name=s3["region"],
                              aws_access_key_id=s3["access_key"], aws_secret_access_key=s3["secret_key"])
        bucket.create_bucket(Bucket="usage")
        bucket.put_object(Bucket="usage", Key="a", Body=b"x" * 1234)
        done = cli("status")
        assert done.returncode == 0, done.stderr
        assert "cluster solo: version 1.25.0" in done.stdout and "health ok (v1.25.0)" in done.stdout
        assert state["clusters"]["solo"]["kubeconfig"] in done.stdout
        assert f"s3 aws: {s3['endpoint']}" in done.stdout
        assert "usage: 1 objects, 1234 bytes" in done.stdout
    finally:
        done = cli("down")
    assert done.returncode == 0, done.stderr
    assert not state_dir.exists() and not alive(state["pid"])
    done = cli("status")
    assert done.returncode == 1 and "no lab is running" in done.stderr


def test_lab_exits_when_the_process_that_started_it_dies(tmp_path):
    state_dir = tmp_path / "state"
    script = ("import os, sys; from lab import process; "
              f"print(process.start(None, {str(state_dir)!r}).pid, flush=True); os._exit(0)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == 0, done.stderr
    pid = int(done.stdout)
    deadline = time.monotonic() + 10
    while (alive(pid) or state_dir.exists()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid) and not state_dir.exists()


def test_any_s3_profile_name_is_an_endpoint_of_its_own(tmp_path):
    """The lab serves whatever bucket profiles it is given (the runner passes
    scenarios/buckets.yaml's), each a separate S3 world with its own keys."""
    handle = process.start({"lab": {"clusters": [], "s3": ["ceph", "wasabi-eu"]}}, tmp_path / "s")
    try:
        s3 = handle.state["s3"]
        assert sorted(s3) == ["ceph", "wasabi-eu"] and s3["ceph"]["endpoint"] != s3["wasabi-eu"]["endpoint"]
        clients = {name: boto3.client("s3", endpoint_url=e["endpoint"], region_name=e["region"],
                                      aws_access_key_id=e["access_key"], aws_secret_access_key=e["secret_key"])
                   for name, e in s3.items()}
        clients["ceph"].create_bucket(Bucket="only-here")
        clients["ceph"].put_object(Bucket="only-here", Key="k", Body=b"v")
        assert clients["ceph"].get_object(Bucket="only-here", Key="k")["Body"].read() == b"v"
        assert "only-here" not in [b["Name"] for b in clients["wasabi-eu"].list_buckets()["Buckets"]]
        assert s3["ceph"]["access_key"] != s3["wasabi-eu"]["access_key"]
    finally:
        handle.stop()
