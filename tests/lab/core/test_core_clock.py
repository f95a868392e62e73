"""The virtual clock: advance through the control API; object timestamps follow it."""
import datetime

from kubernetes import client

from lab_http import control
from lab.clock import VirtualClock, parse_time
from lab.config import LabConfig
from lab.lab import Lab


def test_advance_moves_creation_timestamps(lab, core, namespace):
    before = parse_time(control(lab, "GET", "/clock")[1]["now"])
    status, body = control(lab, "POST", "/clock/advance", {"seconds": 25 * 3600})
    assert status == 200
    after = parse_time(body["now"])
    assert after - before == datetime.timedelta(hours=25)
    created = core.create_namespaced_config_map(namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c")))
    assert created.metadata.creation_timestamp == after
    assert control(lab, "POST", "/clock/advance", {"seconds": -1})[0] == 400
    assert control(lab, "POST", "/clock/advance", {})[0] == 400


class _Alarm:
    """A controller that wants to run at given virtual times (like a Schedule)."""

    def __init__(self, clock, times):
        self.clock, self.pending, self.ran_at = clock, sorted(times), []

    def next_due(self):
        return self.pending[0] if self.pending else None

    def reconcile(self):
        if self.pending and self.clock.now() >= self.pending[0]:
            self.pending.pop(0)
            self.ran_at.append(self.clock.now())
            return True
        return False


class _Store:
    def resource_version(self):
        return "1"


class _Cluster:
    name = "fake"

    def __init__(self, controllers):
        self.controllers = controllers
        self.store = _Store()


def test_advance_stops_at_every_due_time_in_order(tmp_path):
    lab = Lab(LabConfig(clusters=[], s3=[]), tmp_path)
    start = lab.clock.now()
    hours = [start + datetime.timedelta(hours=h) for h in (1, 2, 5, 30)]
    alarm = _Alarm(lab.clock, hours)
    lab.clusters["fake"] = _Cluster([alarm])
    lab.advance(6 * 3600)
    assert alarm.ran_at == hours[:3]
    assert lab.clock.now() == start + datetime.timedelta(hours=6)


def test_clock_never_goes_backwards():
    clock = VirtualClock("2026-01-05T00:00:00Z")
    clock.set(parse_time("2026-01-06T00:00:00Z"))
    try:
        clock.set(parse_time("2026-01-05T12:00:00Z"))
    except ValueError as error:
        assert "backwards" in str(error)
    else:
        raise AssertionError("the clock went backwards")
