"""Step coverage: every step of every feature has a step definition.

behave decides what matches (its registry, matchers, step modules and
environment.py), so the check loads them the way `behave` does, in a
separate Python process (step modules register globally, once per process)
started in the project root: `python -m runner.step_coverage OUT.json`."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

SCAN_TIMEOUT = 120     # seconds; loading step modules and parsing features is all the scan does


def behave_env(root: Path) -> dict[str, str]:
    """The environment behave runs in: the project root importable first, then this
    `runner` package (for its formatters) in case the project is not installed."""
    env = dict(os.environ)
    package_home = str(Path(__file__).resolve().parents[1])
    paths = list(dict.fromkeys([str(Path(root).resolve()), package_home]))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, paths + [env.get("PYTHONPATH")]))
    env["DMAAS_PROJECT_ROOT"] = str(Path(root).resolve())    # its catalogue and target profiles (runner.target)
    return env


def undefined_steps(root: Path) -> list[str]:
    """One line per undefined step: "features/x.feature:LINE: undefined step: <keyword> <text>"."""
    root = Path(root)
    with tempfile.TemporaryDirectory(prefix="dmaas-steps-") as tmp:
        out = Path(tmp) / "problems.json"
        try:
            proc = subprocess.run([sys.executable, "-m", "runner.step_coverage", str(out)], cwd=root,
                                  env=behave_env(root), capture_output=True, text=True, timeout=SCAN_TIMEOUT)
        except subprocess.TimeoutExpired:
            return [f"steps/: loading the step definitions did not finish within {SCAN_TIMEOUT}s"]
        try:
            return json.loads(out.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            lines = [line for line in (proc.stderr + proc.stdout).splitlines() if line.strip()]
            return [f"steps/: cannot load the features and step definitions: {lines[-1] if lines else 'no output'}"]


def _scan() -> list[str]:
    """In the project root: load hooks and step modules as behave's Runner does, then match every step."""
    from behave.configuration import Configuration
    from behave.runner import Context, Runner
    from behave.runner_util import parse_features
    from behave.step_registry import registry

    config = Configuration(["--dry-run"])
    runner = Runner(config)
    with runner.path_manager:
        runner.setup_paths()
        runner.context = Context(runner)
        runner.load_hooks()
        runner.load_step_definitions()
        locations = [f for f in runner.feature_locations() if not config.exclude(f)]
        features = parse_features(locations, language=config.lang)
    problems: list[str] = []
    for feature in features:
        for scenario in feature.walk_scenarios():
            for step in scenario.all_steps:
                if registry.find_match(step) is None:
                    line = f"{step.location}: undefined step: {step.keyword} {step.name}"
                    if line not in problems:
                        problems.append(line)
    return problems


def main(argv: list[str]) -> int:
    out = Path(argv[0])
    try:
        problems = _scan()
    except Exception as exc:  # noqa: BLE001 -- a broken step module or feature: one line, not a traceback
        problems = [f"steps/: cannot load the features and step definitions: {type(exc).__name__}: "
                    f"{' '.join(str(exc).split())}"]
    out.write_text(json.dumps(problems), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
