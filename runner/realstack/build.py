"""Build (or find) the real stack's binaries: a thin layer over realstack/build.sh."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from runner.errors import UserError


def versions(root: Path) -> dict[str, str]:
    """realstack/versions.env as a dict (the pins, read where the checkout is)."""
    pairs = (line.split("=", 1) for line in (root / "realstack" / "versions.env").read_text().splitlines()
             if "=" in line and not line.lstrip().startswith("#"))
    return {k.strip(): v.strip() for k, v in pairs}


# The version sets versions.env pins: each one's binaries under bin/ (the
# current set at its top, the legacy set in bin/legacy/).
SETS = {"": "", "LEGACY_": "legacy"}


def releases(versions: dict[str, str], component: str) -> dict[str, str]:
    """The built releases of `component` ("K8S" or "VELERO") -> the bin/
    subdirectory of each: {"1.33.13": "", "1.24.17": "legacy"}."""
    return {versions[f"{prefix}{component}_VERSION"].lstrip("v"): sub for prefix, sub in SETS.items()}


def script(root: Path) -> Path:
    path = Path(root) / "realstack" / "build.sh"
    if not path.is_file():
        raise UserError(f"{path}: missing (run from the project root or pass --root)")
    return path


def build(root: Path, components: list[str] | None = None) -> int:
    """Install the Debian packages the real node runs (when missing), then
    run the build script (progress on stderr) -> its exit status."""
    from runner.realstack.node import missing_host_packages
    missing = missing_host_packages()
    if missing and not components:
        print(f"realstack: installing {' '.join(missing)} with apt-get", file=sys.stderr)
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *missing]):
            if subprocess.call([*sudo, *command], env=env, stdout=subprocess.DEVNULL) != 0:
                print(f"realstack: `{' '.join(command[:2])}` of {' '.join(missing)} failed", file=sys.stderr)
                return 1
    status = subprocess.call(["bash", str(script(root)), *(components or [])])
    if status != 0 or components:
        return status
    from runner.realstack import artifacts, images, rootfs
    progress = lambda message: print(f"realstack: {message}", file=sys.stderr)  # noqa: E731
    try:
        rootfs.layer(images.cache_dir(), progress)
    except (rootfs.RootfsError, OSError, subprocess.SubprocessError) as error:
        print(f"realstack: the applications' Debian layer: {error}", file=sys.stderr)
        return 1
    try:
        images.published(versions(root), images.cache_dir(), progress)
    except (artifacts.ArtifactError, OSError) as error:
        print(f"realstack: the applications' published artifacts: {error}", file=sys.stderr)
        return 1
    return 0


def bin_dir(root: Path) -> Path:
    """The bin/ of the pinned versions; UserError when they are not built yet."""
    done = subprocess.run(["bash", str(script(root)), "--check"], capture_output=True, text=True)
    if done.returncode != 0:
        missing = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "not built"
        raise UserError(f"{missing.removeprefix('realstack: ')}; run `dmaas realstack build` first")
    return Path(done.stdout.strip())
