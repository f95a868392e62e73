"""pods/exec over a websocket, as kubernetes.stream.stream speaks it."""
import json

import pytest
from kubernetes.client.rest import ApiException
from kubernetes.stream import stream

# kubernetes 36 turns a refused websocket handshake into ApiException(status=0)
# and then fails decoding its empty body (AttributeError); either means refused.
REFUSED = (ApiException, AttributeError)


def make_pod(cluster, name="app", containers=("main",), phase="Running"):
    cluster.core.create_namespaced_pod("default", {
        "metadata": {"name": name},
        "spec": {"containers": [{"name": c, "image": "busybox"} for c in containers]}})
    if phase:
        cluster.core.patch_namespaced_pod_status(name, "default", {"status": {"phase": phase}})


def run(cluster, pod, command, **kwargs):
    client = stream(cluster.core.connect_get_namespaced_pod_exec, pod, "default", command=command,
                    stdout=True, stderr=True, stdin=False, tty=False, _preload_content=False, **kwargs)
    client.run_forever(timeout=10)
    return client.returncode, client.read_stdout(), client.read_stderr()


def test_exec_success(cluster):
    make_pod(cluster)
    code, out, err = run(cluster, "app", ["sh", "-c", "echo hi"])
    assert (code, out, err) == (0, "out:sh -c echo hi\n", "")
    assert cluster.exec_calls == [("default", "app", "main", ["sh", "-c", "echo hi"])]


def test_exec_non_zero_exit(cluster):
    make_pod(cluster)
    code, out, err = run(cluster, "app", ["sh", "-c", "exit", "3"])
    assert code == 3 and err == "err-line\n" and out.startswith("out:")


def test_exec_preloaded_output(cluster):
    make_pod(cluster)
    output = stream(cluster.core.connect_get_namespaced_pod_exec, "app", "default", command=["ls", "/data"],
                    stdout=True, stderr=False, stdin=False, tty=False)
    assert output == "out:ls /data\n"


def test_exec_picks_named_container(cluster):
    make_pod(cluster, containers=("main", "sidecar"))
    code, _, _ = run(cluster, "app", ["true"], container="sidecar")
    assert code == 0 and cluster.exec_calls[-1][2] == "sidecar"
    with pytest.raises(REFUSED):  # two containers and none named
        run(cluster, "app", ["true"])
    code, status = refusal(cluster, "app", ["true"])
    assert code == 400 and "a container name must be specified" in status["message"]


def refusal(cluster, pod, command):
    """The Status answer to an exec request the server refuses before upgrading."""
    with pytest.raises(ApiException) as caught:
        cluster.call("GET", f"/api/v1/namespaces/default/pods/{pod}/exec",
                     query=[("command", c) for c in command] + [("stdout", "true")])
    return caught.value.status, json.loads(caught.value.body)


def test_exec_missing_pod_is_refused(cluster):
    with pytest.raises(REFUSED):
        run(cluster, "ghost", ["true"])
    code, status = refusal(cluster, "ghost", ["true"])
    assert (code, status["message"]) == (404, 'pods "ghost" not found')
    assert cluster.exec_calls == []


def test_exec_in_pending_pod_is_refused(cluster):
    make_pod(cluster, phase=None)
    with pytest.raises(REFUSED):
        run(cluster, "app", ["true"])
    code, status = refusal(cluster, "app", ["true"])
    assert code == 400 and "container not found" in status["message"]


def test_exec_without_upgrade_is_400(cluster):
    make_pod(cluster)
    code, status = refusal(cluster, "app", ["true"])
    assert code == 400 and status["message"] == "Upgrade request required"
    assert refusal(cluster, "app", [])[1]["message"] == "you must specify at least 1 command"
