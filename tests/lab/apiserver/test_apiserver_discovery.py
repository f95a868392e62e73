"""Discovery and the APIs served at a Kubernetes version, through the
client's discovery calls, DynamicClient and kubectl."""
import json
import shutil
import subprocess

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException


def test_version(cluster):
    info = client.VersionApi(cluster.api).get_code()
    assert (info.git_version, info.major, info.minor, info.platform) == ("v1.29.4", "1", "29", "linux/amd64")


def test_core_resource_list(cluster):
    listing = cluster.core.get_api_resources()
    by_name = {r.name: r for r in listing.resources}
    assert listing.group_version == "v1"
    assert {"namespaces", "pods", "services", "configmaps", "secrets", "serviceaccounts", "persistentvolumeclaims",
            "persistentvolumes", "events", "endpoints"} <= set(by_name)
    pods = by_name["pods"]
    assert (pods.kind, pods.namespaced, pods.short_names) == ("Pod", True, ["po"])
    assert {"get", "list", "create", "update", "patch", "delete"} <= set(pods.verbs)
    assert by_name["pods/exec"].kind == "PodExecOptions"
    assert set(by_name["pods/status"].verbs) == {"get", "patch", "update"}
    assert by_name["namespaces"].namespaced is False and "configmaps/status" not in by_name


def test_group_list_and_preferred_versions(cluster):
    groups = {g.name: g for g in client.ApisApi(cluster.api).get_api_versions().groups}
    assert {"apps", "batch", "policy", "networking.k8s.io", "storage.k8s.io", "rbac.authorization.k8s.io",
            "apiextensions.k8s.io"} <= set(groups)
    assert groups["batch"].preferred_version.group_version == "batch/v1"
    assert [v.version for v in groups["policy"].versions] == ["v1"]


def served(cluster, group_version):
    status, body = cluster.call("GET", f"/apis/{group_version}")
    return {r["name"] for r in body["resources"]}


@pytest.mark.parametrize("version, psp_and_beta_cronjobs", [("1.24.17", True), ("1.25.0", False), ("1.29.4", False)])
def test_version_dependent_apis(make_cluster, version, psp_and_beta_cronjobs):
    cluster = make_cluster(version)
    groups = {g.name: [v.version for v in g.versions]
              for g in client.ApisApi(cluster.api).get_api_versions().groups}
    assert ("v1beta1" in groups["policy"]) is psp_and_beta_cronjobs
    assert ("v1beta1" in groups["batch"]) is psp_and_beta_cronjobs
    assert groups["policy"][0] == "v1" and groups["batch"][0] == "v1"
    assert {"poddisruptionbudgets"} <= served(cluster, "policy/v1")
    if psp_and_beta_cronjobs:
        assert "podsecuritypolicies" in served(cluster, "policy/v1beta1")
        assert "cronjobs" in served(cluster, "batch/v1beta1")


def test_podsecuritypolicy_crud_where_served(make_cluster):
    cluster = make_cluster("1.24.17")
    psp = {"apiVersion": "policy/v1beta1", "kind": "PodSecurityPolicy", "metadata": {"name": "restricted"},
           "spec": {"privileged": False, "seLinux": {"rule": "RunAsAny"}, "runAsUser": {"rule": "MustRunAsNonRoot"},
                    "supplementalGroups": {"rule": "RunAsAny"}, "fsGroup": {"rule": "RunAsAny"}}}
    dyn = cluster.dynamic()
    resource = dyn.resources.get(api_version="policy/v1beta1", kind="PodSecurityPolicy")
    assert resource.namespaced is False
    resource.create(body=psp)
    assert resource.get(name="restricted").spec.runAsUser.rule == "MustRunAsNonRoot"


def test_api_not_served_at_this_version_is_404(cluster):
    with pytest.raises(ApiException) as caught:
        cluster.call("GET", "/apis/policy/v1beta1/podsecuritypolicies")
    assert caught.value.status == 404 and json.loads(caught.value.body)["reason"] == "NotFound"
    with pytest.raises(ApiException) as caught:
        cluster.call("POST", "/apis/policy/v1beta1/podsecuritypolicies", {"metadata": {"name": "x"}})
    assert caught.value.status == 404
    with pytest.raises(ApiException) as caught:
        cluster.call("GET", "/apis/policy/v1beta1")
    assert caught.value.status == 404


def test_dynamic_client_reads_through_any_served_version(make_cluster):
    cluster = make_cluster("1.24.17")
    job = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly"},
           "spec": {"schedule": "0 0 * * *", "jobTemplate": {"spec": {"template": {"spec": {
               "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}}}
    dyn = cluster.dynamic()
    dyn.resources.get(api_version="batch/v1", kind="CronJob").create(body=job, namespace="default")
    beta = dyn.resources.get(api_version="batch/v1beta1", kind="CronJob").get(name="nightly", namespace="default")
    assert beta.apiVersion == "batch/v1beta1" and beta.spec.schedule == "0 0 * * *"
    listed = dyn.resources.get(api_version="batch/v1beta1", kind="CronJob").get(namespace="default")
    assert listed.kind == "CronJobList" and listed.apiVersion == "batch/v1beta1"
    assert [i.apiVersion for i in listed.items] == ["batch/v1beta1"]


needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")


def kubectl(cluster, *args, stdin=None, env=None):
    """Run kubectl against the cluster with its caches in the test's tmp dir."""
    import os
    return subprocess.run(["kubectl", "--kubeconfig", cluster.kubeconfig, "--cache-dir", str(cluster.tmp / "kube-cache"),
                           *args], input=stdin, capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, **(env or {})))


@needs_kubectl
def test_kubectl_get_namespaces(cluster):
    cluster.core.create_namespace({"metadata": {"name": "team-a"}})
    run = kubectl(cluster, "get", "ns", "-o", "name")
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["namespace/default", "namespace/team-a"]
    cluster.clock.advance(3 * 86400 + 7200)  # ages are printed in lab (virtual) time
    run = kubectl(cluster, "get", "ns")
    assert run.returncode == 0, run.stderr
    assert [line.split() for line in run.stdout.splitlines()] == [
        ["NAME", "STATUS", "AGE"], ["default", "Active", "3d2h"], ["team-a", "Active", "3d2h"]]


@needs_kubectl
def test_kubectl_apply_twice(cluster):
    manifest = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: app, image: "IMAGE"}]}
"""
    first = kubectl(cluster, "apply", "-f", "-", stdin=manifest.replace("IMAGE", "app:1"))
    assert first.returncode == 0 and "created" in first.stdout, first.stderr
    second = kubectl(cluster, "apply", "-f", "-", stdin=manifest.replace("IMAGE", "app:2"))
    assert second.returncode == 0 and "configured" in second.stdout, second.stderr
    spec = cluster.apps.read_namespaced_deployment("web", "default").spec.template.spec
    assert [(c.name, c.image) for c in spec.containers] == [("app", "app:2")]


@needs_kubectl
def test_kubectl_exec_over_websocket(cluster):
    cluster.core.create_namespaced_pod("default", {"metadata": {"name": "p"},
                                                   "spec": {"containers": [{"name": "c", "image": "i"}]}})
    cluster.core.patch_namespaced_pod_status("p", "default", {"status": {"phase": "Running"}})
    # kubectl < 1.30 speaks SPDY unless told to use websockets; the lab speaks websockets only
    run = kubectl(cluster, "exec", "p", "--", "sh", "-c", "exit", "3",
                  env={"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "true"})
    assert run.returncode == 3 and run.stdout == "out:sh -c exit 3\n", run.stderr
