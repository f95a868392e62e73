"""The applications catalogue: scenarios/apps.yaml plus the Jinja2 manifests
in runner/apps/manifests/.

    get(name) -> AppSpec
    AppSpec.manifests(namespace, storage_class, replicas=None) -> [dict]

Every object an app renders carries the labels `app.kubernetes.io/part-of:
<app>` and `app.kubernetes.io/name: <component>`; probes find pods by them.
"""
from __future__ import annotations

import dataclasses
import functools
import secrets
from pathlib import Path

import jinja2
import yaml

from runner.errors import UserError
from runner.scenarios import load_yaml

REPO = Path(__file__).resolve().parents[2]
APPS_FILE = "scenarios/apps.yaml"
MANIFESTS_DIR = Path(__file__).resolve().parent / "manifests"
PART_OF = "app.kubernetes.io/part-of"
COMPONENT = "app.kubernetes.io/name"


@dataclasses.dataclass(frozen=True)
class Volume:
    name: str            # the pod volume / claim template name
    mount: str           # where the component's container mounts it
    shape: str           # data shape (runner/apps/shapes.py)


@dataclasses.dataclass(frozen=True)
class Component:
    name: str
    kind: str                                   # StatefulSet | Deployment | CronJob
    replicated: bool = False                    # every replica holds the same data
    configmaps: tuple = ()
    volumes: tuple = ()                         # (Volume, ...)

    def claim_names(self, replicas):
        """The PVC names this component's volumes get with `replicas` replicas."""
        if self.kind == "StatefulSet":
            return [f"{v.name}-{self.name}-{i}" for v in self.volumes for i in range(replicas)]
        return [f"{self.name}-{v.name}" for v in self.volumes]


@dataclasses.dataclass(frozen=True)
class AppSpec:
    name: str
    title: str
    components: tuple                           # (Component, ...)
    template: str = ""
    default_replicas: int = 1

    def component(self, name):
        for component in self.components:
            if component.name == name:
                return component
        raise KeyError(f"app {self.name} has no component {name!r}")

    def workloads(self):
        """[(kind, name)] of the app's workloads."""
        return [(c.kind, c.name) for c in self.components]

    def manifests(self, namespace, storage_class, replicas=None):
        """The app's objects, in apply order (definitions before their resources)."""
        replicas = self.default_replicas if replicas is None else int(replicas)
        if replicas < 1:
            raise UserError(f"app {self.name}: replicas must be at least 1, got {replicas}")
        text = _environment().get_template(self.template).render(
            app=self.name, namespace=namespace, storage_class=storage_class, replicas=replicas)
        try:
            docs = [doc for doc in yaml.safe_load_all(text) if doc]
        except yaml.YAMLError as exc:
            raise UserError(f"{MANIFESTS_DIR.name}/{self.template}: renders invalid YAML: "
                            f"{' '.join(str(exc).split())}") from None
        return docs


def _mount(claim):
    return {"name": claim["name"], "mountPath": claim["mountPath"]}


def _claim_volume(claim, owner):
    return {"name": claim["name"], "persistentVolumeClaim": {"claimName": f"{owner}-{claim['name']}"}}


def _tcp_ready(port):
    """A readinessProbe: the server accepts TCP connections on `port`."""
    return {"tcpSocket": {"port": port}, "periodSeconds": 2, "failureThreshold": 60}


def _password():
    """A password generated per installation (what a Secret of the app holds)."""
    return secrets.token_urlsafe(18)


@functools.lru_cache(maxsize=1)
def _environment():
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(MANIFESTS_DIR)),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["dmaas_mount"] = _mount
    env.filters["dmaas_claim_volume"] = _claim_volume
    env.globals.update(tcp_ready=_tcp_ready, password=_password)
    return env


def _spec(name, entry):
    components = tuple(
        Component(name=c["name"], kind=c["kind"], replicated=bool(c.get("replicated", False)),
                  configmaps=tuple(c.get("configmaps", ())),
                  volumes=tuple(Volume(v["name"], v["mount"], v["shape"]) for v in c.get("volumes", ())))
        for c in entry["components"])
    return AppSpec(name=name, title=entry["title"], components=components,
                   template=entry["manifests"], default_replicas=int(entry.get("replicas", 1)))


@functools.lru_cache(maxsize=1)
def _catalogue():
    data = load_yaml(REPO, APPS_FILE) or {}
    return {name: _spec(name, entry) for name, entry in (data.get("apps") or {}).items()}


def names():
    return list(_catalogue())


def get(name) -> AppSpec:
    """The catalogue entry `name`; an unknown name lists the known ones."""
    try:
        return _catalogue()[name]
    except KeyError:
        raise UserError(f"{APPS_FILE}: unknown application '{name}' (known: {', '.join(names())})") from None
