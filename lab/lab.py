"""Lab: every cluster, the S3 endpoints, the virtual clock and the tick loop.

All controllers of all clusters run under one lock: after every object
write (and every TICK seconds) until idle ("settled"), and during `advance`
at each virtual time a controller asked for (`next_due`), in order.
"""
import datetime
import json
import logging
import os
import shutil
import threading
import time
import traceback
from pathlib import Path

from lab.clock import VirtualClock, format_time
from lab.cluster import Cluster
from lab.config import LabConfig, check_cluster
from lab.metrics import METRICS
from lab.s3 import S3Endpoint
from lab import tools
from lab.velero.kopia import Uploader
from lab.velero.objectstorage import forget_bodies

log = logging.getLogger("lab")

TICK = 0.1                 # real seconds between background passes
MAX_PASSES = 200           # a settle that keeps working longer is a controller bug
MAX_DUE_STEPS = 1_000_000  # stops at due times within one advance


class LabError(Exception):
    """A request the lab refuses; `code` is the HTTP status the control API gives."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


class Lab:
    def __init__(self, config: LabConfig, state_dir, host="127.0.0.1"):
        self.config = config
        self.state_dir = Path(state_dir).resolve()
        self.host = host
        self.clock = VirtualClock(config.start)
        self.lock = threading.RLock()       # controllers and cluster lifecycle
        self.clusters = {}
        self.s3 = {}
        self.control_url = None
        self._stop = threading.Event()
        self._failures = {}                  # (cluster, controller) -> last traceback logged
        self._ticker = None
        self._settled_at = None              # _revision() when the controllers last went idle
        self._wake = threading.Event()       # set by any object write in any cluster
        self.uploader = Uploader(self.state_dir / "uploader")   # node-agent's, for every cluster

    # lifecycle -------------------------------------------------------------
    def start(self):
        tools.require("velero-uploader")     # node-agent's uploader, before anything starts
        self.state_dir.mkdir(parents=True, exist_ok=True)
        # A lab that died without shutting down leaves its clusters: start empty.
        shutil.rmtree(self.state_dir / "clusters", ignore_errors=True)
        shutil.rmtree(self.state_dir / "s3", ignore_errors=True)
        (self.state_dir / "lab.json").unlink(missing_ok=True)
        for profile in self.config.s3:            # S3 servers start while clusters are built
            endpoint = S3Endpoint(profile, self.state_dir / "s3" / profile, self.host)
            endpoint.on_damage = self.bucket_damaged
            endpoint.spawn()
            self.s3[profile] = endpoint
        for spec in self.config.clusters:
            self.create_cluster(spec.name, spec.version, spec.velero_version, publish=False)
        for endpoint in self.s3.values():
            endpoint.wait_ready()
        self.settle()
        self._ticker = threading.Thread(target=self._tick_loop, name="lab-ticker", daemon=True)
        self._ticker.start()

    def publish(self, control_url):
        """Write lab.json (atomically: readers never see half a file)."""
        self.control_url = control_url
        target = self.state_dir / "lab.json"
        partial = target.with_suffix(".json.tmp")
        partial.write_text(json.dumps(self.state(), indent=2))
        os.replace(partial, target)

    def stop(self):
        self._stop.set()
        self._wake.set()
        if self._ticker is not None:
            self._ticker.join(timeout=10)
        with self.lock:
            for cluster in self.clusters.values():
                cluster.stop()
            self.clusters.clear()
        self.uploader.stop()
        for endpoint in self.s3.values():
            endpoint.stop()
        self.s3.clear()

    def state(self):
        with self.lock:
            return {"pid": os.getpid(), "control": self.control_url,
                    "clusters": {name: c.state() for name, c in self.clusters.items()},
                    "s3": {name: e.state() for name, e in self.s3.items()},
                    "engines": {name: e.as_mapping() for name, e in self.config.engines.items()}}

    def bucket_damaged(self, bucket, wiped=False):
        """A bucket is about to be corrupted or cut, or a repository in it was
        wiped: what the lab keeps of it (open repositories, bodies by ETag)
        is read again."""
        self.uploader.drop(bucket, wiped)
        forget_bodies(bucket)

    # clusters --------------------------------------------------------------
    def create_cluster(self, name, version=None, velero_version=None, publish=True):
        try:
            spec = check_cluster(name, version, velero_version)
        except ValueError as error:
            raise LabError(400, str(error))
        with self.lock:
            if spec.name in self.clusters:
                raise LabError(409, f"cluster {spec.name!r} already exists")
            cluster = Cluster(self, spec.name, spec.version, spec.velero_version,
                              self.state_dir / "clusters" / spec.name, self.host).start()
            cluster.store.add_listener(lambda *_: self._wake.set())
            self.clusters[spec.name] = cluster
            if publish:
                self.settle()
                self.publish(self.control_url)
            return cluster

    def delete_cluster(self, name):
        with self.lock:
            cluster = self.cluster(name)
            del self.clusters[name]
            cluster.destroy()
            self.publish(self.control_url)

    def cluster(self, name):
        cluster = self.clusters.get(name)
        if cluster is None:
            raise LabError(404, f"no cluster {name!r} (have: {', '.join(sorted(self.clusters)) or 'none'})")
        return cluster

    def endpoint(self, profile):
        endpoint = self.s3.get(profile)
        if endpoint is None:
            raise LabError(404, f"no S3 profile {profile!r} (have: {', '.join(sorted(self.s3)) or 'none'})")
        return endpoint

    # controllers -----------------------------------------------------------
    def settle(self):
        """Run every controller until none changes anything (bounded)."""
        with self.lock, METRICS.timed("clock", "settle"):
            for _ in range(MAX_PASSES):
                METRICS.add("clock", "pass")
                # taken before the pass: a write the API servers take while the
                # pass runs (they do not hold the lock) makes the next tick look
                before = self._revision()
                busy = [c for cluster in list(self.clusters.values()) for c in cluster.controllers
                        if self._reconcile(cluster, c)]
                if not busy:
                    # a failing controller is retried every tick, as a requeue
                    # would, and so is one that waits on real time (polling())
                    self._settled_at = None if self._failures or self._polling() else before
                    return True
            log.warning("controllers still busy after %d passes: %s", MAX_PASSES,
                        ", ".join(sorted({type(c).__name__ for c in busy})))
            return False

    def _reconcile(self, cluster, controller):
        key = (cluster.name, id(controller))
        started = time.perf_counter()
        try:
            changed = bool(controller.reconcile())
        except Exception:
            # One controller's bug must not stop the others or the lab; the
            # same failure is logged once, not ten times a second.
            failure = traceback.format_exc()
            if self._failures.get(key) != failure:
                self._failures[key] = failure
                log.error("cluster %s: %s failed:\n%s", cluster.name, type(controller).__name__, failure)
            return False
        finally:
            METRICS.add("controllers", type(controller).__name__, time.perf_counter() - started)
        self._failures.pop(key, None)
        return changed

    def _next_due(self, after):
        """The earliest time after `after` any controller asked for, or None."""
        dues = []
        for cluster in self.clusters.values():
            for controller in cluster.controllers:
                try:
                    due = controller.next_due()
                except Exception:
                    log.error("cluster %s: %s.next_due failed:\n%s", cluster.name, type(controller).__name__,
                              traceback.format_exc())
                    continue
                if due is not None and due > after:
                    dues.append(due)
        return min(dues) if dues else None

    def advance(self, seconds):
        """Move the clock forward, running controllers at every due time on the way."""
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
            raise LabError(400, "seconds: expected a number >= 0")
        with self.lock, METRICS.timed("clock", "advance"):
            self.settle()
            target = self.clock.now() + datetime.timedelta(seconds=seconds)
            for _ in range(MAX_DUE_STEPS):
                due = self._next_due(self.clock.now())
                if due is None or due > target:
                    break
                self.clock.set(due)
                METRICS.add("clock", "stop")
                self.settle()
            self.clock.set(target)
            self.settle()
            return format_time(self.clock.now())

    def _polling(self):
        return any(getattr(c, "polling", lambda: False)()
                   for cluster in self.clusters.values() for c in cluster.controllers)

    def _revision(self):
        """What controllers act on: the clock and every cluster's objects
        (their S3 work is due by the clock, their other work by objects)."""
        return (self.clock.now(),
                tuple((name, c.store.resource_version()) for name, c in sorted(self.clusters.items())))

    def _tick_loop(self):
        # Woken by every object write (as watches wake real controllers), and
        # every TICK anyway; a pass whose revision is unchanged costs nothing.
        while not self._stop.is_set():
            self._wake.wait(TICK)
            self._wake.clear()
            if self._stop.is_set():
                return
            with self.lock:
                if self._settled_at == self._revision():
                    continue        # nothing changed since the controllers last went idle
                self.settle()
