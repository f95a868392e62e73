"""Step coverage: every step of every feature has a step definition (and
the engines steps name exist); and the step vocabulary (`dmaas steps`,
docs/steps.md).

behave decides what matches (its registry, matchers, step modules and
environment.py), so both load them the way `behave` does, in a separate
Python process (step modules register globally, once per process) started
in the project root: `python -m runner.step_coverage OUT.json` or
`... --vocabulary OUT.json`."""
from __future__ import annotations

import inspect
import json
import os
import re
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
    env["DMAAS_PROJECT_ROOT"] = str(Path(root).resolve())    # its catalogues and target profiles (runner.targets)
    return env


def undefined_steps(root: Path) -> list[str]:
    """One line per undefined step: "features/x.feature:LINE: undefined step: <keyword> <text>",
    and per step naming an engine scenarios/engines.yaml lacks."""
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


def _load():
    """In the project root: load hooks and step modules as behave's Runner
    does -> (the step registry, the parsed features)."""
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
    return registry, features


def _scan() -> list[str]:
    """Every step of every feature matched against the step definitions; a
    step's `engine` parameter must name an engine of scenarios/engines.yaml
    (the engines every target serves at most)."""
    registry, features = _load()
    engines = _engine_names()
    problems: list[str] = []
    for feature in features:
        for scenario in feature.walk_scenarios():
            for step in scenario.all_steps:
                match = registry.find_match(step)
                if match is None:
                    line = f"{step.location}: undefined step: {step.keyword} {step.name}"
                else:
                    line = next((f"{step.location}: unknown engine '{arg.value}' (scenarios/engines.yaml has: "
                                 f"{', '.join(engines)})" for arg in match.arguments or ()
                                 if arg.name == "engine" and engines is not None and arg.value not in engines),
                                None)
                if line and line not in problems:
                    problems.append(line)
    return problems


def _engine_names():
    """The engines of the project's scenarios/engines.yaml (None when unreadable:
    validating the scenario files says why)."""
    import yaml

    from runner.errors import UserError
    from runner import catalogues
    try:
        return list(catalogues.engines(Path.cwd()))
    except (UserError, OSError, yaml.YAMLError, AttributeError, TypeError):
        return None


_FIELD = re.compile(r"\{(\w+)(?::(\w+))?\}")


def _vocabulary() -> list[dict]:
    """Every step definition: area (its module), keyword, text, parameters
    (name, type), its docstring's first line, and one example line from a
    real feature (the first that uses it), in module and line order."""
    registry, features = _load()
    examples: dict[str, str] = {}
    for feature in features:
        for scenario in feature.walk_scenarios():
            for step in scenario.all_steps:
                matcher = registry.find_step_definition(step)
                if matcher is not None:
                    examples.setdefault(str(matcher.location),
                                        f"{step.keyword} {step.name}  ({step.location.filename}:{step.location.line})")
    entries = []
    for step_type, matchers in registry.steps.items():
        for matcher in matchers:
            location = str(matcher.location)
            filename, _, line = location.rpartition(":")
            doc = (inspect.getdoc(inspect.unwrap(matcher.func)) or "").split("\n\n")[0]
            entries.append({"area": Path(filename).stem.removesuffix("_steps"),
                            "file": "steps/" + Path(filename).name, "line": int(line or 0),
                            "keyword": step_type.capitalize(), "text": matcher.pattern,
                            "parameters": [[name, kind or "text"] for name, kind in _FIELD.findall(matcher.pattern)],
                            "doc": " ".join(doc.split()), "example": examples.get(location)})
    return sorted(entries, key=lambda e: (e["file"], e["line"]))


def step_vocabulary(root: Path) -> list[dict]:
    """The step definitions of the project at `root` (see _vocabulary), loaded
    in a subprocess as undefined_steps does; UserError when they cannot load."""
    from runner.errors import UserError
    with tempfile.TemporaryDirectory(prefix="dmaas-steps-") as tmp:
        out = Path(tmp) / "vocabulary.json"
        try:
            proc = subprocess.run([sys.executable, "-m", "runner.step_coverage", "--vocabulary", str(out)],
                                  cwd=root, env=behave_env(root), capture_output=True, text=True,
                                  timeout=SCAN_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise UserError(f"steps/: loading the step definitions did not finish within {SCAN_TIMEOUT}s") from None
        try:
            return json.loads(out.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            lines = [line for line in (proc.stderr + proc.stdout).splitlines() if line.strip()]
            raise UserError(f"steps/: cannot load the step definitions: {lines[-1] if lines else 'no output'}") \
                from None


def main(argv: list[str]) -> int:
    if argv[0] == "--vocabulary":
        Path(argv[1]).write_text(json.dumps(_vocabulary()), encoding="utf-8")
        return 0
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
