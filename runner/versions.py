"""Versions as vendors write them, and what a scenario or profile asks for.

A server reports `v1.29.4`, `v1.29.4+k3s1`, `v1.29.4-eks-5a2b3c1`,
`v1.29.4-gke.1043000`, `1.29.4`: each is release 1.29.4 (the part after the
patch number is the vendor's build). What is asked for is a release
(`1.29.4`), a minor (`1.29`: any patch of it) or a minimum (`>=1.29`,
`>=1.29.4`, or `1.29 or later` in a step).

    release(text) -> (1, 29, 4) | None         # a reported version
    parse_wanted(text) -> Wanted | None        # what is asked for
    matches(found, wanted) -> bool             # found: a reported version; wanted: asked-for text
    describe(wanted) -> str                    # "1.29.x", "1.29 or later"
"""
from __future__ import annotations

import dataclasses
import re

# optional "v", three numbers, then anything a vendor appends (+k3s1, -eks-..., -gke.N, -rc.1)
_RELEASE = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:[-+.].*)?$")
_WANTED = re.compile(r"^(?P<min>>=\s*)?v?(?P<major>\d+)\.(?P<minor>\d+)(?:\.(?P<patch>\d+))?"
                     r"(?P<later>\s+or\s+later|\+)?$")
PATTERN = r"(?:>=)?v?\d+\.\d+(?:\.\d+)?(?: or later|\+)?"     # what parse_wanted takes (schemas repeat it)


def release(text) -> tuple[int, int, int] | None:
    """(major, minor, patch) of a version a server reports, vendor suffixes ignored."""
    match = _RELEASE.match(str(text or "").strip())
    return tuple(int(part) for part in match.groups()) if match else None


def normalize(text) -> str:
    """`v1.29.4-eks-5a2b` -> `1.29.4`; what is not a version stays as it was."""
    found = release(text)
    return ".".join(map(str, found)) if found else str(text)


@dataclasses.dataclass(frozen=True)
class Wanted:
    version: tuple           # (major, minor) or (major, minor, patch)
    minimum: bool            # this version or any later one

    def __str__(self):
        text = ".".join(map(str, self.version))
        if self.minimum:
            return f"{text} or later"
        return text if len(self.version) == 3 else f"{text}.x"


def parse_wanted(text) -> Wanted | None:
    match = _WANTED.match(str(text or "").strip())
    if not match:
        return None
    version = (int(match["major"]), int(match["minor"])) + ((int(match["patch"]),) if match["patch"] else ())
    return Wanted(version, bool(match["min"] or match["later"]))


def matches(found, wanted) -> bool:
    """Whether a reported version satisfies what is asked for."""
    have, want = release(found), parse_wanted(wanted)
    if have is None or want is None:
        return False
    if want.minimum:
        return have[:len(want.version)] >= want.version
    return have[:len(want.version)] == want.version


def describe(wanted) -> str:
    parsed = parse_wanted(wanted)
    return str(parsed) if parsed else str(wanted)
