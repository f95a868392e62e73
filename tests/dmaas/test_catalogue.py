"""Every app renders valid manifests for every engine's storage class."""
import pytest
import yaml

from runner.apps import catalogue
from runner.apps.catalogue import COMPONENT, PART_OF
from runner.errors import UserError
from runner.scenarios import load_file

ENGINES = yaml.safe_load(open(catalogue.REPO / "scenarios" / "engines.yaml"))["engines"]


def test_apps_yaml_matches_its_schema():
    _, problems = load_file(catalogue.REPO, "scenarios/apps.yaml")
    assert problems == []


@pytest.mark.parametrize("engine", sorted(ENGINES))
@pytest.mark.parametrize("app", catalogue.names())
def test_manifests_render_for_every_engine(app, engine):
    storage_class = ENGINES[engine]["storage_class"]
    spec = catalogue.get(app)
    docs = spec.manifests("team-ns", storage_class, replicas=2)
    assert docs and all(d.get("apiVersion") and d.get("kind") and d["metadata"].get("name") for d in docs)
    for doc in docs:
        assert doc["metadata"]["labels"][PART_OF] == app
        if doc["kind"] != "CustomResourceDefinition":
            assert doc["metadata"]["namespace"] == "team-ns"
    claims = [t["spec"]["storageClassName"] for d in docs if d["kind"] == "StatefulSet"
              for t in d["spec"]["volumeClaimTemplates"]]
    claims += [d["spec"]["storageClassName"] for d in docs if d["kind"] == "PersistentVolumeClaim"]
    assert claims and set(claims) == {storage_class}
    workloads = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    for component in spec.components:
        workload = workloads[(component.kind, component.name)]
        if component.kind == "CronJob":
            assert workload["apiVersion"] == "batch/v1"
            continue
        pod = workload["spec"]["template"]
        assert pod["metadata"]["labels"][COMPONENT] == component.name
        mounts = {m["name"]: m["mountPath"] for m in pod["spec"]["containers"][0]["volumeMounts"]}
        for volume in component.volumes:
            assert mounts[volume.name] == volume.mount
        for configmap in component.configmaps:
            assert ("ConfigMap", configmap) in workloads


def test_replicas_and_sizing():
    docs = catalogue.get("percona").manifests("ns", "sc", replicas=3)
    assert next(d for d in docs if d["kind"] == "StatefulSet")["spec"]["replicas"] == 3
    default = catalogue.get("mysql").manifests("ns", "sc")
    assert next(d for d in default if d["kind"] == "StatefulSet")["spec"]["replicas"] == 1
    with pytest.raises(UserError):
        catalogue.get("mysql").manifests("ns", "sc", replicas=0)


def test_portal_has_what_its_story_names():
    docs = catalogue.get("portal").manifests("portal", "sc")
    kinds = {}
    for doc in docs:
        kinds.setdefault(doc["kind"], []).append(doc)
    assert len(kinds["Deployment"]) >= 2 and len(kinds["StatefulSet"]) >= 1
    controller = next(d for d in kinds["Deployment"] if d["metadata"]["name"] == "nginx-controller")
    assert controller["metadata"]["labels"][COMPONENT] == "nginx-controller"
    assert [d["metadata"]["name"] for d in kinds["CustomResourceDefinition"]] == ["portalsites.portal.example.com"]
    assert kinds["PortalSite"] and kinds["Ingress"] and kinds["Secret"] and kinds["ServiceAccount"]
    assert docs.index(kinds["CustomResourceDefinition"][0]) < docs.index(kinds["PortalSite"][0])
    # only the controller and its permissions carry its label: excluding it keeps everything else
    labelled = [d for d in docs if d["metadata"]["labels"].get(COMPONENT) == "nginx-controller"]
    assert [(d["kind"], d["metadata"]["name"]) for d in labelled] == [
        ("ServiceAccount", "nginx-controller"), ("Role", "nginx-controller"), ("RoleBinding", "nginx-controller"),
        ("Deployment", "nginx-controller")]


def test_unknown_app_lists_the_known_ones():
    with pytest.raises(UserError, match="known: cassandra"):
        catalogue.get("oracle")
