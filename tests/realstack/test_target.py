"""The `realstack` target profile: the run starts the stack, clusters start as
scenarios name them and stop with them, buckets are the lab's S3 (faults
included), and stop() leaves nothing."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

ROOT = Path(__file__).resolve().parents[2]


def _s3(profile):
    return boto3.client("s3", endpoint_url=profile.endpoint, region_name=profile.region,
                        aws_access_key_id=profile.access_key, aws_secret_access_key=profile.secret_key,
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                                      connect_timeout=3, read_timeout=5))


def test_the_target_starts_clusters_on_demand_and_stops_everything(realstack_built, tmp_path, monkeypatch):
    from kubernetes import client, config
    from runner.realstack.stack import alive
    from runner.targets import TargetError, Unsupported, load_profile, open_target
    monkeypatch.delenv("DMAAS_REALSTACK_DIR", raising=False)
    state_dir = tmp_path / "state"
    target = open_target(load_profile("realstack"), state_dir)
    try:
        assert target.kind == "realstack" and target.time_scale < 0.1
        assert json.loads((state_dir / "stack.json").read_text())["clusters"] == {}

        info = target.ensure_cluster("alpha", version=target._versions["K8S_VERSION"].lstrip("v"))
        assert info.created and target.ensure_cluster("alpha").created is False
        api = config.new_client_from_config(info.kubeconfig, context=info.context)
        [node] = client.CoreV1Api(api).list_node().items
        assert node.metadata.name == "alpha-node"
        with pytest.raises(Unsupported, match=r"builds Kubernetes 1\.33\.\d+ and 1\.24\.\d+ only .* "
                                              r"needs Kubernetes 1\.23\.17"):
            target.ensure_cluster("old", version="1.23.17")
        with pytest.raises(TargetError, match="cluster 'alpha' already runs"):
            target.create_cluster("alpha")

        bucket = target.bucket_profile("minio")
        s3 = _s3(bucket)
        s3.create_bucket(Bucket="target-check")
        s3.put_object(Bucket="target-check", Key="k", Body=b"v")
        target.cut_bucket("minio")
        with pytest.raises((BotoCoreError, ClientError)):
            s3.get_object(Bucket="target-check", Key="k")
        target.restore_bucket("minio")
        assert s3.get_object(Bucket="target-check", Key="k")["Body"].read() == b"v"

        alpha = [p for p in json.loads((state_dir / "processes.json").read_text()) if p["cluster"] == "alpha"]
        assert {p["component"] for p in alpha} >= {"etcd", "kube-apiserver", "containerd", "kubelet", "kube-proxy"}
        target.destroy_cluster("alpha")
        assert not any(alive(p) for p in alpha)
        assert not (state_dir / "clusters" / "alpha").exists()
        assert "alpha" not in json.loads((state_dir / "stack.json").read_text())["clusters"]
        processes = json.loads((state_dir / "processes.json").read_text())
    finally:
        target.stop()
    assert not state_dir.exists()
    assert not any(alive(p) for p in processes)


def test_a_cluster_of_the_legacy_set_serves_psp_and_runs_its_velero(realstack_built, tmp_path, monkeypatch):
    """A step naming the legacy set's releases gets them: the API server
    reports that release with its Go and commit and serves PodSecurityPolicy,
    the node's kubelet is of it, Velero runs the legacy image; the name then
    cannot be had at other releases, and the node's pod logs in the host's
    /var/log/pods (kubelet 1.24 has no other place) go with it."""
    from kubernetes import client, config
    from runner.realstack import build
    from runner.targets import TargetError, load_profile, open_target
    monkeypatch.delenv("DMAAS_REALSTACK_DIR", raising=False)
    versions = build.versions(ROOT)
    kubernetes, velero = versions["LEGACY_K8S_VERSION"], versions["LEGACY_VELERO_VERSION"]
    target = open_target(load_profile("realstack"), tmp_path / "state")
    try:
        info = target.ensure_cluster("old", version=kubernetes.lstrip("v").rsplit(".", 1)[0],
                                     velero_version=velero.lstrip("v"))
        assert (info.version, info.velero_version) == (kubernetes.lstrip("v"), velero.lstrip("v"))
        api = config.new_client_from_config(info.kubeconfig, context=info.context)
        served = client.VersionApi(api).get_code()
        assert (served.git_version, served.git_commit) == (kubernetes, versions["LEGACY_K8S_GIT_COMMIT"])
        assert served.go_version.startswith("go1.")
        response = api.call_api("/apis/policy/v1beta1", "GET", auth_settings=["BearerToken"], _preload_content=False)
        assert "podsecuritypolicies" in {r["name"] for r in json.loads(response.data)["resources"]}
        [node] = client.CoreV1Api(api).list_node().items
        assert node.status.node_info.kubelet_version == kubernetes
        deployment = client.AppsV1Api(api).read_namespaced_deployment("velero", "velero")
        assert deployment.spec.template.spec.containers[0].image == f"velero/velero:{velero}"
        with pytest.raises(TargetError, match=f"cluster 'old' already runs Kubernetes {kubernetes.lstrip('v')}"):
            target.ensure_cluster("old", version=versions["K8S_VERSION"].lstrip("v"))
        uids = {pod.metadata.uid for pod in client.CoreV1Api(api).list_pod_for_all_namespaces().items}
        logs = [d for d in Path("/var/log/pods").glob("*_*_*") if d.name.rsplit("_", 1)[-1] in uids]
        assert logs, "kubelet 1.24 logs pods in /var/log/pods"
        target.destroy_cluster("old")
        assert not any(d.exists() for d in logs)
    finally:
        target.stop()


SMOKE = """
  Scenario: TCID-DIR-DMAAS-PORTAL a namespace backed up through real Velero restores on another cluster
    Given a cluster "ops"
    And a cluster "dr"
    And the "minio" bucket with prefix "smoke" is a backup location named "smoke" on clusters "ops" and "dr"
    When the team takes an on-demand backup "smoke-1" of namespace "kube-public" on cluster "ops" to location "smoke"
    Then backup "smoke-1" is not in the "aws" bucket
    When backup "smoke-1" is restored on cluster "dr"
    Then the restore on cluster "dr" completed
    And the connectivity view shows clusters "ops" and "dr" and the "minio" bucket as connected
"""


def test_a_run_on_the_realstack_target_starts_and_stops_it(realstack_built, tmp_path):
    """`dmaas run --target realstack` reaches real Velero through the driver
    and the DMaaS layer: two clusters started on demand, a backup location on
    the lab's S3, a backup taken on one cluster and restored on the other,
    the connectivity view; the stack it started is gone afterwards."""
    project = tmp_path / "project"
    for name in ("scenarios", "schemas", "features", "steps", "docs"):
        shutil.copytree(ROOT / name, project / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "setup.cfg", project / "setup.cfg")
    header = "".join((ROOT / "features/portal.feature").read_text().splitlines(keepends=True)[:3])
    (project / "features/smoke.feature").write_text("@rssmoke " + header + SMOKE)
    reports = tmp_path / "reports"
    env = {k: v for k, v in os.environ.items() if k != "DMAAS_REALSTACK_DIR"}
    result = subprocess.run([sys.executable, "-m", "runner.cli", "--root", str(project), "run", "--target",
                             "realstack", "--tags", "@rssmoke", "--report-dir", str(reports)],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    (run_dir,) = list(reports.iterdir())
    report = json.loads((run_dir / "report.json").read_text())
    statuses = [s["status"] for f in report["features"] for s in f["scenarios"]]
    assert statuses == ["passed"]
    assert not (run_dir / "realstack").exists()
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(run_dir) not in ps, "a process of the real stack is still running"


def test_the_realstack_profile_skips_cstor_with_its_reason():
    """No bucket or cluster needed: the profile alone says cStor cannot run here."""
    from runner.targets import Target, Unsupported, load_profile
    from runner.targets.realstack import RealStackTarget
    target = Target.__new__(RealStackTarget)
    Target.__init__(target, "realstack")
    target.unsupported_engines = load_profile("realstack").data["unsupported_engines"]
    with pytest.raises(Unsupported, match=r"^target 'realstack' cannot serve engine 'cstor': OpenEBS cStor backs up "
                                          r"through its own pools and Velero plugin"):
        target.check_engine("cstor")
    target.check_engine("local-hp")
    target.check_engine("jiva")


def test_a_cluster_gets_the_built_releases_its_step_names():
    """No stack needed: the releases chosen from versions.env's two sets."""
    from runner.targets import Target, Unsupported
    from runner.targets.realstack import RealStackTarget
    target = Target.__new__(RealStackTarget)
    Target.__init__(target, "realstack")
    target._versions = {"K8S_VERSION": "v1.33.13", "LEGACY_K8S_VERSION": "v1.24.17",
                        "VELERO_VERSION": "v1.16.2", "LEGACY_VELERO_VERSION": "v1.12.3"}
    assert target._releases("a", None, None) == ["1.33.13", "1.16.2"]
    assert target._releases("a", "1.24", "1.12.3") == ["1.24.17", "1.12.3"]
    assert target._releases("a", "1.24.17", "1.16") == ["1.24.17", "1.16.2"]
    assert target._releases("a", ">=1.24", None) == ["1.33.13", "1.16.2"]
    with pytest.raises(Unsupported, match=r"^target 'realstack' builds Kubernetes 1\.33\.13 and 1\.24\.17 only "
                                          r"\(realstack/versions\.env\); cluster 'a' needs Kubernetes 1\.23\.17$"):
        target._releases("a", "1.23.17", None)
    with pytest.raises(Unsupported, match=r"builds Velero 1\.16\.2 and 1\.12\.3 only .* needs Velero 1\.10\.x"):
        target._releases("a", None, "1.10")


def test_a_kubelet_gets_the_configuration_its_release_reads():
    """kubelet 1.24 takes the runtime endpoint as a flag and knows none of
    the later fields; 1.33 reads them all from its configuration."""
    from runner.realstack.network import NodeNet
    from runner.realstack.node import Node
    net = NodeNet(1, 1)
    old, new = (Node(Path("/nonexistent"), "n", net, kubernetes) for kubernetes in ("1.24.17", "1.33.13"))
    old_config, new_config = (node._kubelet_config(Path("/ca")) for node in (old, new))
    later = {"containerRuntimeEndpoint", "failCgroupV1", "localStorageCapacityIsolation", "podLogsDir"}
    assert later <= set(new_config) and not later & set(old_config)
    assert old_config["featureGates"] == {"LocalStorageCapacityIsolation": False}
    assert "--container-runtime-endpoint" in old.kubelet_command(Path("kubelet"), Path("kc"))
    assert "--container-runtime-endpoint" not in new.kubelet_command(Path("kubelet"), Path("kc"))
