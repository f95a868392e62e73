"""A stand-in for a cluster's pods for the probe unit tests: pods whose
volumes are temp directories and whose exec runs this machine's /bin/sh with
mount paths rewritten to those directories (what the lab's kubelet does).
The end-to-end test (test_lab_e2e.py) runs the same probes on the lab."""
import subprocess
import types

import pytest

from runner.apps import catalogue
from runner.apps.catalogue import COMPONENT, PART_OF


class LocalPods:
    def __init__(self, root, app_name, replicas=1):
        self.root = root
        self.pods = {}
        app = catalogue.get(app_name)
        for component in app.components:
            if not component.volumes:
                continue
            count = replicas if component.kind == "StatefulSet" else 1
            for i in range(count):
                pod = f"{component.name}-{i}" if component.kind == "StatefulSet" else f"{component.name}-abc12-xyz"
                mounts, volumes = {}, []
                for claim, volume in zip(component.claim_names(count)[i::count] if component.kind == "StatefulSet"
                                         else component.claim_names(count), component.volumes):
                    directory = root / claim
                    directory.mkdir(parents=True, exist_ok=True)
                    mounts[volume.mount] = directory
                    volumes.append((volume.name, claim, volume.mount))
                self.pods[pod] = (app_name, component.name, mounts, volumes)
        self.core = types.SimpleNamespace(list_namespaced_pod=self._list)

    def _list(self, namespace, label_selector=None):
        items = []
        for name, (app, component, _mounts, volumes) in self.pods.items():
            ns = types.SimpleNamespace
            items.append(ns(
                metadata=ns(name=name, labels={PART_OF: app, COMPONENT: component}, deletion_timestamp=None),
                status=ns(phase="Running"),
                spec=ns(volumes=[ns(name=v, persistent_volume_claim=ns(claim_name=c)) for v, c, _ in volumes],
                        containers=[ns(volume_mounts=[ns(name=v, mount_path=m) for v, _, m in volumes])])))
        return types.SimpleNamespace(items=items)

    def exec(self, namespace, pod, argv):
        mounts = self.pods[pod][2]
        script = argv[2]
        for mount, directory in sorted(mounts.items(), key=lambda kv: -len(kv[0])):
            script = script.replace(mount, str(directory))
        done = subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, timeout=30)
        return done.returncode, done.stdout, done.stderr


@pytest.fixture
def local_pods(tmp_path):
    return lambda app, replicas=1, subdir="": LocalPods(tmp_path / subdir, app, replicas)
