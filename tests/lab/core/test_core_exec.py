"""pods/exec through kubernetes.stream: commands run with volume paths mapped to the node."""
from pathlib import Path

from kubernetes.stream import stream

from lab_http import control, wait_for


def run(core, namespace, pod, argv):
    response = stream(core.connect_get_namespaced_pod_exec, pod, namespace, command=argv,
                      stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
    response.run_forever(timeout=30)
    return response.returncode, response.read_stdout(), response.read_stderr()


def make_pod(core, namespace):
    core.create_namespaced_persistent_volume_claim(namespace, {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "openebs-cstor-csi",
                 "resources": {"requests": {"storage": "1Gi"}}}})
    core.create_namespaced_pod(namespace, {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app"},
        "spec": {"containers": [{"name": "main", "image": "busybox",
                                 "env": [{"name": "GREETING", "value": "hi"}],
                                 "volumeMounts": [{"name": "data", "mountPath": "/data"},
                                                  {"name": "cache", "mountPath": "/data/cache"}]}],
                 "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
                             {"name": "cache", "emptyDir": {}}]}})
    wait_for("pod running", lambda: core.read_namespaced_pod("app", namespace).status.phase == "Running")
    return core.read_namespaced_persistent_volume_claim("data", namespace).spec.volume_name


def test_exec_writes_into_the_volume_dir(lab, core, namespace):
    pv_name = make_pod(core, namespace)
    volume = Path(control(lab, "GET", "/state")[1]["clusters"]["backup"]["node_dir"]) / "volumes" / pv_name
    code, out, err = run(core, namespace, "app", [
        "sh", "-c", 'mkdir -p /data/db && echo "$GREETING rows" > /data/db/t.txt && cat /data/db/t.txt'])
    assert (code, out, err) == (0, "hi rows\n", "")
    assert (volume / "db" / "t.txt").read_text() == "hi rows\n"
    code, _, _ = run(core, namespace, "app", ["cp", "/data/db/t.txt", "/data/copy.txt"])
    assert code == 0 and (volume / "copy.txt").read_text() == "hi rows\n"
    # the longer mount wins: /data/cache is the emptyDir, not a folder of the claim
    assert run(core, namespace, "app", ["sh", "-c", "echo x > /data/cache/c"])[0] == 0
    assert not (volume / "cache").exists()
    assert run(core, namespace, "app", ["cat", "/data/cache/c"])[1] == "x\n"


def test_exec_reports_exit_status_and_stderr(core, namespace):
    make_pod(core, namespace)
    code, out, err = run(core, namespace, "app", ["sh", "-c", "echo oops >&2; exit 7"])
    assert (code, out, err) == (7, "", "oops\n")
    code, _, err = run(core, namespace, "app", ["no-such-binary-in-lab"])
    assert code == 127 and "not found" in err
