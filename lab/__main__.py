"""`python -m lab serve|up|down|status`.

serve   run the lab in the foreground; writes STATE_DIR/lab.json when up;
        SIGTERM / SIGINT / POST /shutdown stop it and remove STATE_DIR
up      start `serve` in the background and wait until it is up
down    stop the lab running in STATE_DIR
status  each cluster (kubeconfig, version, health) and S3 endpoint (usage per bucket)
"""
import argparse
import json
import logging
import os
import signal
import sys
import threading
import urllib.request
from pathlib import Path

from lab import process
from lab.config import ConfigError, LabConfig, load_config


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m lab", description="the DMaaS lab")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("serve", "run the lab in the foreground"), ("up", "start the lab in the background"),
                       ("down", "stop the lab"), ("status", "show the lab")):
        command = commands.add_parser(name, help=text)
        command.add_argument("--state-dir", default=None,
                             help="lab state directory (default: $DMAAS_LAB_DIR or .lab)")
        if name in ("serve", "up"):
            command.add_argument("--config", default=None,
                                 help="YAML file with a `lab:` section ('-' reads stdin)")
        if name == "serve":
            command.add_argument("--log", default=None, help="once up, write output to this file")
            command.add_argument("--exit-with-parent", type=int, default=None, metavar="PID",
                                 help="shut down when process PID (our parent) is gone")
    args = parser.parse_args(argv)
    state_dir = Path(args.state_dir or process.default_state_dir()).resolve()
    try:
        return {"serve": serve, "up": up, "down": down, "status": status}[args.command](args, state_dir)
    except ConfigError as error:
        print(f"lab: error: {error}", file=sys.stderr)
        return 2
    except process.LabProcessError as error:
        print(f"lab: error: {error}", file=sys.stderr)
        return 1


def serve(args, state_dir):
    config = load_config(args.config) if args.config else LabConfig()
    from lab.control import ControlServer      # the server side only loads in `serve`
    from lab.lab import Lab
    if process.running_state(state_dir):
        raise process.LabProcessError(f"a lab is already running in {state_dir}")
    process.check_state_dir(state_dir)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    lab = Lab(config, state_dir, host=config.host)
    control = None
    try:
        try:
            lab.start()
            control = ControlServer(lab, on_shutdown=stopping.set, host=config.host).start()
        except Exception as error:      # one line for whoever started us; details need no traceback
            print(f"lab: error: cannot start: {type(error).__name__}: {error}".splitlines()[0],
                  file=sys.stderr, flush=True)
            return 1
        if args.log:
            _redirect_output(args.log)
        lab.publish(control.url)
        logging.getLogger("lab").info("lab up: control %s, state %s", control.url, state_dir / "lab.json")
        while not stopping.wait(0.5):
            if args.exit_with_parent and os.getppid() != args.exit_with_parent:
                logging.getLogger("lab").warning("parent process %d is gone: shutting down", args.exit_with_parent)
                break
        return 0
    finally:
        if control is not None:
            control.stop()
        lab.stop()
        process.remove_tree(state_dir)


def _redirect_output(path):
    """Send stdout/stderr to the log (closing the pipe `lab.process` reads
    start errors from)."""
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def up(args, state_dir):
    handle = process.start(args.config, state_dir, detach=True)
    print(f"lab up (pid {handle.pid}): control {handle.control_url}, state {state_dir / 'lab.json'}")
    for name, cluster in handle.state["clusters"].items():
        print(f"  cluster {name}: {cluster['server']} kubeconfig {cluster['kubeconfig']}")
    for name, s3 in handle.state["s3"].items():
        print(f"  s3 {name}: {s3['endpoint']}")
    return 0


def down(args, state_dir):
    handle = process.attach(state_dir)
    handle.stop()
    print(f"lab down (pid {handle.pid} exited, {state_dir} removed)")
    return 0


def status(args, state_dir):
    handle = process.attach(state_dir)
    state = handle.refresh()
    print(f"lab (pid {state['pid']}): control {state['control']}")
    for name, cluster in state["clusters"].items():
        print(f"cluster {name}: version {cluster['version']}, velero {cluster['velero_version']}, "
              f"health {_health(cluster['server'])}")
        print(f"  kubeconfig {cluster['kubeconfig']} (context {cluster['context']})")
    for name, s3 in state["s3"].items():
        print(f"s3 {name}: {s3['endpoint']} (region {s3['region']})")
        for line in _bucket_usage(s3):
            print(f"  {line}")
    return 0


def _health(server):
    try:
        with urllib.request.urlopen(server + "/version", timeout=3) as response:
            return f"ok ({json.loads(response.read()).get('gitVersion')})"
    except Exception as error:
        return f"unreachable ({getattr(error, 'reason', error)})"


def _bucket_usage(s3):
    """'bucket: N objects, B bytes' per bucket, read through boto3 as any client would."""
    import boto3
    from botocore.config import Config
    client = boto3.client("s3", endpoint_url=s3["endpoint"], region_name=s3["region"],
                          aws_access_key_id=s3["access_key"], aws_secret_access_key=s3["secret_key"],
                          config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                                        connect_timeout=3, read_timeout=10))
    try:
        buckets = [b["Name"] for b in client.list_buckets().get("Buckets", [])]
    except Exception as error:
        return [f"unreachable ({type(error).__name__})"]
    lines = []
    for bucket in buckets:
        count = size = 0
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            count += page.get("KeyCount", 0)
            size += sum(obj["Size"] for obj in page.get("Contents", []))
        lines.append(f"{bucket}: {count} objects, {size} bytes")
    return lines or ["no buckets"]


if __name__ == "__main__":
    sys.exit(main())
