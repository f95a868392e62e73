"""Lab API throughput: create / list / delete ConfigMaps with the kubernetes
client against a lab cluster, plus the lab's start and stop time.

    python bench/lab_api.py [--count N]      (default 500)
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kubernetes import client, config  # noqa: E402

from lab import process  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500, help="ConfigMaps to create, list and delete")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lab-bench-") as tmp:
        started = time.monotonic()
        lab = process.start(None, Path(tmp) / "state")
        start_seconds = time.monotonic() - started
        try:
            cluster = lab.state["clusters"]["backup"]
            core = client.CoreV1Api(config.new_client_from_config(cluster["kubeconfig"], context=cluster["context"]))
            core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="bench")))
            names = [f"cm-{i:05d}" for i in range(args.count)]
            rate = {}
            began = time.monotonic()
            for name in names:
                core.create_namespaced_config_map("bench", client.V1ConfigMap(
                    metadata=client.V1ObjectMeta(name=name, labels={"bench": "yes"}), data={"key": name * 4}))
            rate["create"] = args.count / (time.monotonic() - began)
            began = time.monotonic()
            listed = core.list_namespaced_config_map("bench", label_selector="bench=yes").items
            list_seconds = time.monotonic() - began
            assert len(listed) == args.count, f"listed {len(listed)} of {args.count}"
            rate["list"] = args.count / list_seconds
            began = time.monotonic()
            for name in names:
                core.delete_namespaced_config_map(name, "bench")
            rate["delete"] = args.count / (time.monotonic() - began)
        finally:
            stopping = time.monotonic()
            lab.stop()
            stop_seconds = time.monotonic() - stopping
    print(f"configmaps: {args.count}")
    for operation in ("create", "list", "delete"):
        print(f"{operation:>7}: {rate[operation]:9.0f} objects/s")
    print(f"   list: {list_seconds * 1000:9.1f} ms for one list of {args.count}")
    print(f"lab start: {start_seconds:.2f} s (2 clusters, 2 S3 endpoints), stop: {stop_seconds:.2f} s")


if __name__ == "__main__":
    main()
