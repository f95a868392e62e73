"""Shared pieces of the step definitions: parse types for the words the
features use, step decorators that turn `Unsupported` into a skip, and
helpers over the scenario state.

Parse types (use as `{name:Type}` in step texts):
    Name      the inside of `"..."` (no quotes)
    Own       the name of an object the scenario makes (a namespace, plan,
              backup, location, policy): the step gets it as the target
              names it (context.driver.own: prefixed where the run shares
              clusters); Owns: a list of them, as Names
    Which     `oldest`, `latest`, `latest-but-one day's`
    Names     `"a"`, `"a" and "b"`, `"a", "b" and "c"` -> ["a", "b", "c"]
    Duration  `80 hours`, `3 days`, `1h`, `15 minutes`, `72h`, `an hour` -> seconds (int; runner/durations.py)
    Size      `64 KiB`, `2 MiB`, `512 MiB`, `1 GB` -> bytes (int)

Per scenario (features/environment.py makes both before it):
    context.driver          runner.driver.Driver
    context.scenario_state  ScenarioState (steps/scenario_state.py): the DMaaS
                            layer over the driver and everything the steps remember
The hooks turn the state's plans, seen_backups, gone and restores into the
report's timeline at the end of the scenario (runner/report/timeline.py).
"""
import base64
import functools
import gzip
import re

import behave
import parse

from runner import durations
from runner.driver.layout import VeleroLayout
from runner.driver.reachability import TargetUnreachable, unreachable
from runner.errors import Unsupported
from runner.times import parse_time

from scenario_state import Record

# ------------------------------------------------------------------ parsing

_NAMES = r'"[^"]+"(?:(?:, | and |, and )"[^"]+")*'
_SIZES = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}
_SIZE = r"\d+(?:\.\d+)? ?(?:[KMG]i?B|B)"


@parse.with_pattern(r'[^"]+')
def parse_name(text):
    """A quoted word's inside: never spans a quote, so a field cannot swallow the rest of a step."""
    return text


@parse.with_pattern(r"oldest|latest-but-one day's|latest")
def parse_which(text):
    return text


@parse.with_pattern(_NAMES)
def parse_names(text):
    """`"a", "b" and "c"` -> ["a", "b", "c"]."""
    return re.findall(r'"([^"]+)"', text)


@parse.with_pattern(durations.PATTERN)
def parse_duration(text):
    """`80 hours`, `3 days`, `1h`, `15 minutes`, `an hour` -> seconds (the one grammar: runner/durations.py)."""
    return durations.parse_duration(text)


@parse.with_pattern(_SIZE)
def parse_size(text):
    """`64 KiB` -> 65536."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]?i?B)\s*", text, re.IGNORECASE)
    if not match or match.group(2).lower() not in _SIZES:
        raise ValueError(f"not a size: {text!r} (e.g. 64 KiB, 2 MiB)")
    return int(float(match.group(1)) * _SIZES[match.group(2).lower()])


def parse_list(text):
    """A table cell `billing, hr` -> ["billing", "hr"]."""
    return [part.strip() for part in text.split(",") if part.strip()]


class Owned(str):
    """A name the feature gives an object the scenario makes; the step
    decorators turn it into the target's name for it (driver.own)."""


@parse.with_pattern(r'[^"]+')
def parse_own(text):
    return Owned(text)


@parse.with_pattern(_NAMES)
def parse_owns(text):
    return [Owned(name) for name in parse_names(text)]


def own(context, value):
    """Owned names (and lists of them) as the target names them; anything else as it is."""
    if isinstance(value, Owned):
        return context.driver.own(str(value))
    if isinstance(value, list):
        return [own(context, item) for item in value]
    return value


behave.register_type(Name=parse_name, Names=parse_names, Which=parse_which, Duration=parse_duration,
                     Size=parse_size, Own=parse_own, Owns=parse_owns)


# ------------------------------------------------------------------ decorators

def skip_unsupported(function):
    """Run a step with its Own names as the target names them; a target that
    cannot do it skips the scenario with the reason; one that stops
    answering fails it with one line naming the endpoint (not the client
    library's exception text)."""
    @functools.wraps(function)
    def run(context, *args, **kwargs):
        args = [own(context, value) for value in args]
        kwargs = {key: own(context, value) for key, value in kwargs.items()}
        try:
            return function(context, *args, **kwargs)
        except Unsupported as unsupported:
            context.scenario.skip(f"unsupported on target '{context.driver.target.name}': {unsupported}")
        except Exception as error:
            gone = unreachable(error)
            if gone is None:
                raise
            raise TargetUnreachable(f"target '{context.driver.target.name}' stopped answering: {gone}") from None
    return run


def _decorator(register):
    def decorate(text):
        def wrap(function):
            register(text)(skip_unsupported(function))
            return function
        return wrap
    return decorate


given = _decorator(behave.given)
when = _decorator(behave.when)
then = _decorator(behave.then)
step = _decorator(behave.step)


# ------------------------------------------------------------------ scenario state

def assert_count(names, count, expected):
    """`names` has `count` entries, else AssertionError "<expected>, found N: a, b"
    (`expected` says who expected what: "plan p: expected 5 completed backups")."""
    assert len(names) == count, f"{expected}, found {len(names)}: {', '.join(sorted(names)) or 'none'}"


def app_at(context, cluster, namespace):
    apps = context.scenario_state.apps
    found = apps.get((cluster, namespace))
    if found is None:
        raise AssertionError(f"no application was deployed in namespace {namespace} of cluster {cluster} "
                             f"by this scenario (known: {sorted(apps)})")
    return found


def probe(context, cluster, namespace, app_name=None):
    from runner.apps.probes import DataProbe
    name = app_name or app_at(context, cluster, namespace).name
    return DataProbe(context.driver.cluster(cluster), namespace, name)


def location_names(context, cluster):
    return sorted(context.scenario_state.locations.get(cluster, {}))


def location_of(context, cluster, name):
    """The Location (runner.dmaas.locations) a step made `name` on `cluster`."""
    found = context.scenario_state.locations.get(cluster, {}).get(name)
    if found is None:
        raise AssertionError(f"cluster {cluster} has no backup location '{name}' in this scenario "
                             f"(it has: {location_names(context, cluster) or 'none'})")
    return found


def layout_of(context, location):
    """The Velero layout of a location, in its bucket."""
    return VeleroLayout(context.driver.bucket(location.profile), location.prefix)


def spec_of(context, plan):
    spec = context.scenario_state.plans.get(plan)
    assert spec is not None, (f"no plan {plan} in this scenario "
                              f"(plans: {', '.join(context.scenario_state.plans) or 'none'})")
    return spec


def record_backup(context, backup_name, cluster, plan=None):
    """Remember the data of every app of `cluster` now: the state a backup taken now must restore."""
    state = context.scenario_state
    states = {namespace: probe(context, c, namespace).state() for (c, namespace) in state.apps if c == cluster}
    state.records[backup_name] = Record(cluster, context.driver.clock.now(), states, plan)
    return state.records[backup_name]


def record_of(context, backup_name):
    records = context.scenario_state.records
    found = records.get(backup_name)
    if found is None:
        raise AssertionError(f"no data was recorded at the time of backup {backup_name} "
                             f"(recorded: {', '.join(sorted(records)) or 'none'})")
    return found


def last_restore(context):
    done = context.scenario_state.restores
    if not done:
        raise AssertionError("no restore was done earlier in this scenario")
    return done[-1]


# a timestamp from the API or a record (RFC 3339 text or datetime) as an aware UTC datetime
as_time = parse_time


def encodings(value):
    """The forms a secret value could take in a bucket: plain, and base64 at
    each of the three alignments it can have inside a larger encoded blob
    (only the characters the value alone determines). Compressed objects are
    decompressed before searching, so these cover them too."""
    raw = value.encode()
    forms = {raw}
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw)
        start, end = -(-8 * offset // 6), 8 * (offset + len(raw)) // 6
        forms.add(encoded[start:end])
    return forms


def readable_forms(data):
    """The bytes of an object and, if it is gzip, its decompressed bytes."""
    forms = [data]
    if data[:2] == b"\x1f\x8b":
        try:
            forms.append(gzip.decompress(data))
        except (OSError, EOFError):
            pass
    return forms
