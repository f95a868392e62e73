"""The programs the lab runs that realstack/build.sh builds from their Go
modules (scripts/setup.sh builds them): `velero-uploader` (Velero's own
file-system uploader), `versitygw` (the S3 server) and the `kopia` CLI (for
tests and diagnostics). `$DMAAS_<NAME>` (e.g. DMAAS_VERSITYGW) points at
another build."""
import os
import subprocess
from pathlib import Path

BUILD_SCRIPT = Path(__file__).resolve().parents[1] / "realstack" / "build.sh"


class ToolMissing(Exception):
    """A program the lab needs is not built; str() says how to build it."""


_bin_dir = None


def _build_bin_dir():
    global _bin_dir
    if _bin_dir is None:
        try:
            out = subprocess.run(["bash", str(BUILD_SCRIPT), "--print-dir"], capture_output=True, text=True,
                                 timeout=30, check=True).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        _bin_dir = Path(out) / "bin" if out else None
    return _bin_dir


def binary(name):
    """The path of a built program (it may not exist: see require)."""
    explicit = os.environ.get("DMAAS_" + name.upper().replace("-", "_"))
    if explicit:
        return explicit
    built = _build_bin_dir()
    return str(built / name) if built else name


def require(*names):
    """Refuse to start a lab that could not run one of these."""
    for name in names:
        path = binary(name)
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise ToolMissing(f"no {name} at {path}: build it with `bash realstack/build.sh {name}` "
                              f"(scripts/setup.sh does), or set DMAAS_{name.upper().replace('-', '_')} to one")
