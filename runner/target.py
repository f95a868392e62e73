"""Targets: where scenarios run. The only module that knows lab vs real.

A target profile is `scenarios/targets/<name>.yaml` (schema:
`schemas/target.schema.json`):

    kind: lab                        # the embedded lab, started by the runner
    lab: {clusters: [...], s3: [minio, aws], engines: [cstor, jiva], start: "2026-01-05T00:00:00Z"}

    kind: real                       # existing clusters and buckets
    clusters:
      backup: {kubeconfig: ~/.kube/config | kubeconfig_env: VAR, context: ctx,
               version: "1.29.4", velero_version: "1.12.4"}   # versions optional
      producer: [{context: old, version: "1.23.17"}, {context: new, version: "1.29.4"}]
                                     # several clusters for one name: the first
                                     # running the versions a scenario asks for
    buckets:
      aws: {client: boto3, endpoint: https://s3.amazonaws.com, region: us-east-1,
            bucket: my-bucket, access_key_env: AWS_ACCESS_KEY_ID,
            secret_key_env: AWS_SECRET_ACCESS_KEY}
    velero_namespace: velero
    time_scale: 0.0333               # 1 h of scenario time -> 2 min of waiting
    from_lab_state: true             # optional: clusters and buckets from the
                                     # running lab's lab.json ($DMAAS_LAB_STATE);
                                     # a cluster entry may then be {lab_cluster: X}
    clock: lab                       # optional, only with from_lab_state

What differs between the two kinds is exactly: the clock (lab: virtual,
`POST /clock/advance`; real: scaled waiting), cluster lifecycle (lab: create
and destroy through the control API; real: a fixed set of named contexts)
and faults (lab: control API; real: `Unsupported`). Everything else (clusters,
Velero, buckets) goes through the same official clients for both.

`clock: lab` is the one exception to "a real profile never talks to the
lab": it lets a lab-as-real run advance the lab's virtual clock so it takes
seconds; without it the real code path waits scaled real time.

API (HACKING.md "Driver, DMaaS layer and apps"):

    load_profile(name_or_path) -> runner.scenarios.Profile   # TargetError on bad input
    open_target(profile, state_dir=None) -> Target      # starts a lab if needed
    attach_lab(state_path) -> LabTarget                 # a lab someone else started
    Target.name, .kind, .velero_namespace, .time_scale, .profile_buckets
    Target.ensure_cluster(name, version=None, velero_version=None) -> ClusterInfo
    Target.create_cluster(name, version=None, velero_version=None) -> ClusterInfo  # must be new
    Target.destroy_cluster(name)
    Target.bucket_profile(name) -> BucketProfile
    Target.now() -> aware UTC datetime; Target.advance(seconds) -> now
    Target.cut_cluster(name) / restore_cluster(name)
    Target.cut_bucket(profile, bucket=None) / restore_bucket(profile, bucket=None)
    Target.set_quota(profile, bucket, bytes_or_None); Target.corrupt(profile, bucket, key)
    Target.stop()
    Unsupported(reason): the target cannot do this; steps turn it into a skip.
"""
import dataclasses
import datetime
import json
import os
import pathlib
import sys
import tempfile
import time
import urllib.error
import urllib.request


from runner.errors import UserError
from runner import scenarios
from runner.times import parse_time

REPO = pathlib.Path(__file__).resolve().parents[1]
# the project whose scenarios run: `dmaas run --root` passes it to behave
PROJECT = pathlib.Path(os.environ.get("DMAAS_PROJECT_ROOT") or REPO).resolve()
BUCKETS_FILE = PROJECT / "scenarios" / "buckets.yaml"
# what the lab provisions an engine from (its title is for people)
LAB_ENGINE_FIELDS = ("storage_class", "provisioner", "parameters", "annotations", "volume", "backup")
CONTROL_TIMEOUT = 300          # a clock advance runs every due controller; days of schedules


class Unsupported(Exception):
    """This target cannot do what the scenario asks (the step is skipped with the reason)."""

    @property
    def reason(self):
        return str(self)


class TargetError(UserError):
    """Bad profile or an unreachable target: one line naming the file/field/endpoint."""


@dataclasses.dataclass(frozen=True)
class ClusterInfo:
    name: str
    kubeconfig: str
    context: str
    version: str | None = None
    velero_version: str | None = None
    created: bool = False           # True if ensure_cluster created it just now


@dataclasses.dataclass(frozen=True)
class BucketProfile:
    name: str
    client: str                     # "minio" | "boto3"
    endpoint: str
    region: str
    bucket: str
    access_key: str = dataclasses.field(repr=False)
    secret_key: str = dataclasses.field(repr=False)

    def __str__(self):
        return f"{self.name} ({self.client} {self.endpoint}/{self.bucket})"


# ---------------------------------------------------------------- profiles

def load_profile(name_or_path):
    """A target profile by name or path, read and validated by the one
    loader (runner.scenarios.load_target_profile); TargetError names file and field."""
    try:
        return scenarios.load_target_profile(PROJECT, name_or_path)
    except UserError as error:
        raise TargetError(error.message) from None


def lab_config(section, root=None):
    """A profile's `lab:` section as lab.process.start takes it: without an
    `s3` list, the lab serves every bucket profile of scenarios/buckets.yaml
    (one S3 endpoint each); without an `engines` list, every engine of
    scenarios/engines.yaml (a list names some), each passed as the entry the
    lab provisions from. So a new entry in either needs no other change."""
    config = dict(section or {})
    config.setdefault("s3", list(bucket_catalogue(root)))
    engines = engine_catalogue(root)
    names = config.get("engines")
    unknown = sorted(set(names or ()) - set(engines))
    if unknown:
        raise TargetError(f"lab.engines: no engine '{unknown[0]}' in scenarios/engines.yaml "
                          f"(known: {', '.join(engines)})")
    config["engines"] = {name: {key: engines[name][key] for key in LAB_ENGINE_FIELDS if key in engines[name]}
                         for name in (engines if names is None else names)}
    return config


def catalogue(name, root=None):
    """scenarios/<name>.yaml of `root` (else of PROJECT): its entries by name."""
    path = pathlib.Path(root or PROJECT) / "scenarios" / f"{name}.yaml"
    if not path.is_file():
        raise TargetError(f"{path}: missing")
    try:
        data = scenarios.load_yaml(path.parent.parent, f"scenarios/{path.name}") or {}
    except UserError as error:
        raise TargetError(error.message) from None
    return data.get(name, data)


def bucket_catalogue(root=None):
    """scenarios/buckets.yaml: profile -> {client, bucket, region, ...}."""
    return catalogue("buckets", root)


def engine_catalogue(root=None):
    """scenarios/engines.yaml: engine -> {storage_class, provisioner, volume, backup, ...}."""
    return catalogue("engines", root)


def open_target(profile, state_dir=None):
    """The Target a profile describes; a lab profile starts a lab now."""
    if profile.kind == "lab":
        return LabTarget.start(profile, state_dir)
    if profile.kind == "realstack":
        return RealStackTarget(profile, state_dir)
    return RealTarget(profile, state_dir)


def attach_lab(state_path, name="lab"):
    """A LabTarget on a lab started elsewhere (`dmaas lab up`, `dmaas run`)."""
    import lab.process   # the lab is reached through lab.process only
    handle = lab.process.attach(str(_state_dir(state_path)))
    return LabTarget(name, handle, owned=False)


def _state_dir(state_path):
    path = pathlib.Path(state_path)
    return path.parent if path.name == "lab.json" or path.is_file() else path


def _read_lab_json(state_path):
    path = pathlib.Path(state_path)
    path = path if path.is_file() else path / "lab.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise TargetError(f"{path}: cannot read lab state ({error})") from None


# ---------------------------------------------------------------- control API

class ControlClient:
    """JSON over HTTP to the lab's control API."""

    def __init__(self, url):
        self.url = url.rstrip("/")

    def call(self, method, path, body=None, timeout=60):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                text = response.read()
                return json.loads(text) if text else {}
        except urllib.error.HTTPError as error:
            try:
                message = json.loads(error.read()).get("error") or error.reason
            except ValueError:
                message = error.reason
            raise TargetError(f"lab control {method} {path}: {error.code} {message}") from None
        except (urllib.error.URLError, OSError) as error:
            raise TargetError(f"lab control {self.url}{path}: unreachable ({error})") from None


# ---------------------------------------------------------------- targets

class Target:
    """Common surface; subclasses implement the lab/real differences."""

    kind = None

    def __init__(self, name):
        self.name = name
        self.velero_namespace = "velero"
        self.time_scale = 1.0
        self.unsupported_engines = {}      # engine name -> why this target cannot serve it (profile)
        # real seconds between two passes of Velero's garbage collector: how long an
        # expired backup may still be there (the lab's collects at expiration itself)
        self.velero_gc_period = 0.0
        # whether scenario time passes while steps work (real clocks) or stands still (the lab's)
        self.real_time = False

    def check_engine(self, name):
        """Unsupported with the profile's reason when this target cannot serve
        the storage engine `name` (a real target without OpenEBS cStor, ...)."""
        if name in self.unsupported_engines:
            raise Unsupported(f"target '{self.name}' cannot serve engine '{name}': {self.unsupported_engines[name]}")

    def ensure_cluster(self, name, version=None, velero_version=None):
        raise NotImplementedError

    def create_cluster(self, name, version=None, velero_version=None):
        raise Unsupported(f"target '{self.name}' ({self.kind}) cannot create cluster '{name}': "
                          f"its clusters are a fixed set of contexts")

    def destroy_cluster(self, name):
        raise Unsupported(f"target '{self.name}' ({self.kind}) cannot destroy cluster '{name}'")

    def bucket_profile(self, name):
        raise NotImplementedError

    @property
    def profile_buckets(self):
        """Names of the bucket profiles this target has."""
        raise NotImplementedError

    def now(self):
        raise NotImplementedError

    def advance(self, seconds, until=None):
        """Move scenario time by `seconds`; a waiting target waits until the
        monotonic time `until` instead when given (runner.driver.clock.Passage)."""
        raise NotImplementedError

    def _no_faults(self, what):
        raise Unsupported(f"target '{self.name}' ({self.kind}) cannot {what}: "
                          f"faults need the lab's control API")

    def cut_cluster(self, name):
        self._no_faults(f"cut off cluster '{name}'")

    def restore_cluster(self, name):
        self._no_faults(f"reconnect cluster '{name}'")

    def cut_bucket(self, profile, bucket=None):
        self._no_faults(f"cut off the '{profile}' bucket")

    def restore_bucket(self, profile, bucket=None):
        self._no_faults(f"reconnect the '{profile}' bucket")

    def set_quota(self, profile, bucket, limit):
        self._no_faults(f"set a quota on the '{profile}' bucket")

    def corrupt(self, profile, bucket, key):
        self._no_faults(f"corrupt an object in the '{profile}' bucket")

    def metrics(self):
        """What the target counted of its own work (the lab's GET /metrics),
        for bench/suite.py; None where the target counts nothing."""
        return None

    def stop(self):
        pass


class LabBucketFaults:
    """Bucket faults through the lab's control API (`self.control`): the lab's
    S3 and the real stack's (which is the lab's) sit behind the same proxy."""

    def cut_bucket(self, profile, bucket=None):
        self.control.call("POST", f"/faults/s3/{profile}", _dropnone({"action": "cut", "bucket": bucket}))

    def restore_bucket(self, profile, bucket=None):
        self.control.call("POST", f"/faults/s3/{profile}", _dropnone({"action": "restore", "bucket": bucket}))

    def set_quota(self, profile, bucket, limit):
        self.control.call("PUT", f"/s3/{profile}/quota", {"bucket": bucket, "bytes": limit})

    def corrupt(self, profile, bucket, key):
        self.control.call("POST", f"/faults/s3/{profile}/corrupt", {"bucket": bucket, "key": key})


class LabTarget(LabBucketFaults, Target):
    """The embedded lab: one `python -m lab serve` process, reached through
    lab.json's URLs; clusters are created and destroyed on demand."""

    kind = "lab"

    def __init__(self, name, handle, owned):
        super().__init__(name)
        self.handle = handle
        self.owned = owned
        self.control = ControlClient(handle.state["control"])
        self._buckets = bucket_catalogue()

    @classmethod
    def start(cls, profile, state_dir=None):
        import lab.process   # the lab is reached through lab.process only
        state_dir = state_dir or tempfile.mkdtemp(prefix="dmaas-lab-")
        handle = lab.process.start(lab_config(profile.data.get("lab")), str(state_dir))
        return cls(profile.name, handle, owned=True)

    def state(self):
        return self.control.call("GET", "/state")

    def metrics(self):
        return self.control.call("GET", "/metrics")

    def create_cluster(self, name, version=None, velero_version=None):
        body = _dropnone({"name": name, "version": version, "velero_version": velero_version})
        entry = self.control.call("POST", "/clusters", body)
        return self._info(name, entry, created=True)

    @staticmethod
    def _info(name, entry, created):
        return ClusterInfo(name=name, kubeconfig=entry["kubeconfig"], context=entry["context"],
                           version=entry.get("version"), velero_version=entry.get("velero_version"),
                           created=created)

    def ensure_cluster(self, name, version=None, velero_version=None):
        entry = self.state().get("clusters", {}).get(name)
        if entry is None:
            return self.create_cluster(name, version, velero_version)
        for field, wanted in (("version", version), ("velero_version", velero_version)):
            if wanted and entry.get(field) != wanted:
                raise TargetError(f"lab cluster '{name}' already exists with {field} "
                                  f"{entry.get(field)}, the scenario wants {wanted}")
        return self._info(name, entry, created=False)

    def destroy_cluster(self, name):
        self.control.call("DELETE", f"/clusters/{name}")

    @property
    def profile_buckets(self):
        return sorted(set(self.handle.state.get("s3", {})) & set(self._buckets))

    def check_engine(self, name):
        served = self.handle.state.get("engines", {})
        if name not in served:
            raise TargetError(f"engine '{name}': not served by this lab (lab engines: {', '.join(served)}; "
                              f"a lab serves every engine of scenarios/engines.yaml unless its lab.engines "
                              f"lists some)")
        super().check_engine(name)

    def bucket_profile(self, name):
        endpoint = self.handle.state.get("s3", {}).get(name)
        catalogue = self._buckets.get(name)
        if endpoint is None or catalogue is None:
            raise TargetError(f"bucket profile '{name}': not served by this lab "
                              f"(lab s3: {', '.join(self.handle.state.get('s3', {}))}; "
                              f"{BUCKETS_FILE.name}: {', '.join(self._buckets)})")
        return BucketProfile(name=name, client=catalogue.get("client", "boto3"),
                             endpoint=endpoint["endpoint"], region=endpoint.get("region", "us-east-1"),
                             bucket=catalogue["bucket"], access_key=endpoint["access_key"],
                             secret_key=endpoint["secret_key"])

    def now(self):
        return parse_time(self.control.call("GET", "/clock")["now"])

    def advance(self, seconds, until=None):
        reply = self.control.call("POST", "/clock/advance", {"seconds": seconds},
                                  timeout=CONTROL_TIMEOUT)
        return parse_time(reply["now"])

    def cut_cluster(self, name):
        self.control.call("POST", f"/faults/clusters/{name}", {"action": "cut"})

    def restore_cluster(self, name):
        self.control.call("POST", f"/faults/clusters/{name}", {"action": "restore"})

    def stop(self):
        if self.owned:
            self.handle.stop()


class RealTarget(Target):
    """Existing clusters (kubeconfig contexts) and buckets (credentials from
    the environment). No lifecycle, no faults; time is waited for, scaled."""

    kind = "real"

    def __init__(self, profile, state_dir=None):
        super().__init__(profile.name)
        data = profile.data
        self.path = profile.path
        self.velero_namespace = data.get("velero_namespace", "velero")
        self.time_scale = float(data.get("time_scale", 1.0))
        self.unsupported_engines = dict(data.get("unsupported_engines") or {})
        # velero server --garbage-collection-frequency (Velero's default: 1h); the lab's
        # collector, when its clock is the lab's, collects at expiration
        self.velero_gc_period = 0.0 if data.get("clock") == "lab" else float(data.get("velero_gc_period", 3600))
        self.real_time = data.get("clock") != "lab"
        self._lab = None            # a lab this profile started (from_lab_state without a running lab)
        self._clusters = {}         # scenario cluster name -> [candidate entries]
        self._lab_clusters = {}     # lab.json clusters (from_lab_state)
        self._buckets = {}
        self._clock = None
        if data.get("from_lab_state"):
            self._from_lab_state(data, state_dir)
        for name, entries in (data.get("clusters") or {}).items():
            entries = entries if isinstance(entries, list) else [entries]
            self._clusters[name] = [self._resolve(name, entry) for entry in entries]
        self._buckets.update(data.get("buckets") or {})
        if data.get("clock") == "lab":
            self.time_scale = 1.0

    def _from_lab_state(self, data, state_dir):
        state_path = os.environ.get("DMAAS_LAB_STATE")
        if not state_path:
            if not data.get("lab"):
                raise TargetError(f"{self.path}: from_lab_state: set DMAAS_LAB_STATE to a running "
                                  f"lab's lab.json (or give the profile a lab: section)")
            import lab.process   # starting the lab is the one lab-specific act
            state_dir = state_dir or tempfile.mkdtemp(prefix="dmaas-lab-")
            self._lab = lab.process.start(lab_config(data["lab"]), str(state_dir))
            state = self._lab.state
        else:
            state = _read_lab_json(state_path)
        for name, entry in state.get("clusters", {}).items():
            self._lab_clusters[name] = {"kubeconfig": entry["kubeconfig"], "context": entry["context"],
                                        "version": entry.get("version"),
                                        "velero_version": entry.get("velero_version")}
            self._clusters[name] = [self._lab_clusters[name]]
        self._buckets_from_state(state.get("s3", {}))
        if data.get("clock") == "lab":
            self._clock = ControlClient(state["control"])

    def _buckets_from_state(self, s3):
        """Bucket profiles from a lab.json / stack.json `s3` section, their keys
        exported into environment variables and read back from there as a real
        profile's are."""
        catalogue = bucket_catalogue()
        for name, entry in s3.items():
            access_env = f"DMAAS_{name.upper()}_ACCESS_KEY"
            secret_env = f"DMAAS_{name.upper()}_SECRET_KEY"
            os.environ[access_env] = entry["access_key"]
            os.environ[secret_env] = entry["secret_key"]
            self._buckets[name] = {"client": catalogue.get(name, {}).get("client", "boto3"),
                                   "endpoint": entry["endpoint"],
                                   "region": entry.get("region", "us-east-1"),
                                   "bucket": catalogue.get(name, {}).get("bucket", f"dmaas-{name}"),
                                   "access_key_env": access_env, "secret_key_env": secret_env}

    def _resolve(self, name, entry):
        """A profile entry; `lab_cluster: X` stands for lab.json's cluster X."""
        if "lab_cluster" not in entry:
            return entry
        found = self._lab_clusters.get(entry["lab_cluster"])
        if found is None:
            raise TargetError(f"{self.path}: clusters.{name}.lab_cluster: the lab has no cluster "
                              f"'{entry['lab_cluster']}' (it has: {', '.join(sorted(self._lab_clusters)) or 'none'})")
        return found

    def ensure_cluster(self, name, version=None, velero_version=None):
        """The first of the name's clusters that runs the versions asked for
        (a profile may list several clusters for one name, e.g. one per
        Kubernetes version)."""
        entries = self._clusters.get(name)
        if not entries:
            raise Unsupported(f"target '{self.name}' has no cluster '{name}' "
                              f"(it has: {', '.join(sorted(self._clusters)) or 'none'})")
        found = []
        for entry in entries:
            info = self._info(name, entry)
            versions = {field: getattr(info, field) or (self._discover(info, field) if wanted else None)
                        for field, wanted in (("version", version), ("velero_version", velero_version))}
            if (not version or versions["version"] == version) and \
                    (not velero_version or versions["velero_version"] == velero_version):
                return info
            found.append(f"Kubernetes {versions['version']}"
                         + (f" with DMaaS (Velero) {versions['velero_version']}" if velero_version else ""))
        wanted = f"Kubernetes {version}" if version else ""
        if velero_version:
            wanted = f"{wanted} with DMaaS (Velero) {velero_version}".strip()
        raise Unsupported(f"target '{self.name}' cluster '{name}' runs {' / '.join(found)}, "
                          f"the scenario needs {wanted}")

    def _info(self, name, entry):
        kubeconfig = entry.get("kubeconfig")
        if entry.get("kubeconfig_env"):
            kubeconfig = os.environ.get(entry["kubeconfig_env"])
            if not kubeconfig:
                raise TargetError(f"{self.path}: clusters.{name}.kubeconfig_env: "
                                  f"${entry['kubeconfig_env']} is not set")
        kubeconfig = os.path.expanduser(kubeconfig or "~/.kube/config")
        return ClusterInfo(name=name, kubeconfig=kubeconfig, context=entry.get("context") or name,
                           version=entry.get("version"), velero_version=entry.get("velero_version"))

    def _discover(self, info, field):
        """The version a real cluster reports (server gitVersion, Velero image tag)."""
        from kubernetes import client, config
        try:
            api = config.new_client_from_config(config_file=info.kubeconfig, context=info.context)
            if field == "version":
                return client.VersionApi(api).get_code().git_version.lstrip("v").split("+")[0]
            deployment = client.AppsV1Api(api).read_namespaced_deployment("velero", self.velero_namespace)
            image = deployment.spec.template.spec.containers[0].image
            return image.rsplit(":", 1)[-1].lstrip("v")
        except Exception as error:   # unreachable cluster, missing deployment: no version known
            return f"unknown ({type(error).__name__})"

    @property
    def profile_buckets(self):
        return sorted(self._buckets)

    def bucket_profile(self, name):
        entry = self._buckets.get(name)
        if entry is None:
            raise Unsupported(f"target '{self.name}' has no bucket profile '{name}' "
                              f"(it has: {', '.join(sorted(self._buckets)) or 'none'})")
        keys = {}
        for field in ("access_key_env", "secret_key_env"):
            variable = entry[field]
            if variable not in os.environ:
                raise TargetError(f"{self.path}: buckets.{name}.{field}: ${variable} is not set")
            keys[field] = os.environ[variable]
        return BucketProfile(name=name, client=entry.get("client", "boto3"), endpoint=entry["endpoint"],
                             region=entry.get("region", "us-east-1"), bucket=entry["bucket"],
                             access_key=keys["access_key_env"], secret_key=keys["secret_key_env"])

    def now(self):
        if self._clock:
            return parse_time(self._clock.call("GET", "/clock")["now"])
        return datetime.datetime.now(datetime.timezone.utc)

    def advance(self, seconds, until=None):
        if self._clock:
            reply = self._clock.call("POST", "/clock/advance", {"seconds": seconds},
                                     timeout=CONTROL_TIMEOUT)
            return parse_time(reply["now"])
        deadline = time.monotonic() + seconds * self.time_scale if until is None else until
        wait = max(0.0, deadline - time.monotonic())
        alone = until is None        # a passage of several steps reports its own progress, once a step
        if alone:
            print(f"[clock] {seconds:g} s of scenario time = {wait:.0f} s of real waiting "
                  f"(time_scale {self.time_scale:g})", file=sys.stderr, flush=True)
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, 30))
            if alone and left > 30:
                print(f"[clock] {max(0, left - 30):.0f} s left", file=sys.stderr, flush=True)
        return self.now()

    def stop(self):
        if self._lab is not None:
            self._lab.stop()


class RealStackTarget(LabBucketFaults, RealTarget):
    """The built-in real stack (`runner/realstack`): real etcd, kube-apiserver,
    kube-controller-manager and Velero as local processes, reached like any
    real cluster through kubeconfigs and S3 endpoints. Unlike a real target it
    starts clusters on demand (a scenario that names a new cluster gets one)
    and can cut, fill or corrupt its buckets, whose S3 is the lab's; time is
    real, scaled by the profile's time_scale.

    It attaches to a stack in $DMAAS_REALSTACK_DIR when one runs there
    (`dmaas realstack up`); otherwise it starts one in `state_dir` (by default
    the run's report dir) and stops it in stop()."""

    kind = "realstack"

    def __init__(self, profile, state_dir=None):
        from runner.realstack import stack   # the stack's own module; no lab import here
        Target.__init__(self, profile.name)
        self.path = profile.path
        data = profile.data
        self.velero_namespace = stack.VELERO_NAMESPACE
        self.time_scale = float(data.get("time_scale", 1.0))
        self.unsupported_engines = dict(data.get("unsupported_engines") or {})
        self.velero_gc_period = stack.GC_FREQUENCY_SECONDS
        self.real_time = True
        self._clusters, self._lab_clusters, self._buckets, self._clock, self._lab = {}, {}, {}, None, None
        self._versions = stack.build.versions(REPO)
        attached = os.environ.get("DMAAS_REALSTACK_DIR")
        if attached and (pathlib.Path(attached) / "stack.json").is_file():
            self.stack, self.owned = stack.Stack(REPO, attached), False
        else:
            where = state_dir or (pathlib.Path(os.environ["DMAAS_REPORT_DIR"]) / "realstack"
                                  if os.environ.get("DMAAS_REPORT_DIR") else tempfile.mkdtemp(prefix="dmaas-rs-"))
            self.stack, self.owned = stack.Stack(REPO, where), True
            print(f"[realstack] starting S3 in {self.stack.dir} (clusters start as scenarios name them)",
                  file=sys.stderr, flush=True)
            try:
                self.stack.up(clusters=[])
            except stack.StackError as error:
                raise TargetError(f"{self.path}: the real stack did not start: {error}") from None
        state = self.stack.state()
        self._buckets_from_state(state["s3"])
        self.control = ControlClient(state["s3_control"])   # bucket faults only

    def _entry(self, name):
        return self.stack.state()["clusters"].get(name)

    def _check_versions(self, name, version, velero_version):
        built = {"version": self._versions["K8S_VERSION"].lstrip("v"),
                 "velero_version": self._versions["VELERO_VERSION"].lstrip("v")}
        for field, wanted, what in (("version", version, "Kubernetes"), ("velero_version", velero_version,
                                                                         "Velero")):
            if wanted and wanted != built[field]:
                raise Unsupported(f"target '{self.name}' builds {what} {built[field]} only "
                                  f"(realstack/versions.env); cluster '{name}' needs {what} {wanted}")

    def _start(self, name):
        from runner.realstack import stack
        print(f"[realstack] starting cluster {name}", file=sys.stderr, flush=True)
        try:
            return self.stack.add_cluster(name)
        except stack.StackError as error:
            raise TargetError(f"{self.path}: cluster {name} did not start: {error}") from None

    def _cluster_info(self, name, entry, created):
        return ClusterInfo(name=name, kubeconfig=entry["kubeconfig"], context=entry["context"],
                           version=entry.get("version"), velero_version=entry.get("velero_version"),
                           created=created)

    def ensure_cluster(self, name, version=None, velero_version=None):
        self._check_versions(name, version, velero_version)
        entry = self._entry(name)
        if entry is not None:
            return self._cluster_info(name, entry, created=False)
        return self._cluster_info(name, self._start(name), created=True)

    def create_cluster(self, name, version=None, velero_version=None):
        self._check_versions(name, version, velero_version)
        if self._entry(name) is not None:
            raise TargetError(f"target '{self.name}': cluster '{name}' already runs")
        return self._cluster_info(name, self._start(name), created=True)

    def destroy_cluster(self, name):
        from runner.realstack import stack
        try:
            self.stack.remove_cluster(name)
        except stack.StackError as error:
            raise TargetError(f"target '{self.name}': {error}") from None

    def stop(self):
        if self.owned:
            self.stack.down()


def _dropnone(body):
    return {k: v for k, v in body.items() if v is not None}


