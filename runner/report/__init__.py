"""Reports of a run: a neutral model (model.py) built from behave's output,
rendered as JUnit XML, Cucumber JSON, JSON, a single-file HTML report (with
the plans' timelines, timeline.py, and the history of the earlier runs in
the same reports folder, history.py) and the strategy markdown with its
Status cells filled."""
from __future__ import annotations

from pathlib import Path

from runner.report import cucumber, history, html, json_report, junit, markdown
from runner.report.model import Run

JUNIT = "junit.xml"
CUCUMBER = "cucumber.json"
JSON = "report.json"
HTML = "report.html"
MARKDOWN = "dmaas-test-strategy.md"


def write_all(run: Run, run_dir: Path, strategy_text: str) -> list[Path]:
    """Writes every report of `run` into run_dir; returns their paths."""
    run_dir = Path(run_dir)
    outputs = {
        JUNIT: junit.render(run),
        CUCUMBER: cucumber.render(run, run_dir),
        JSON: json_report.render(run),
        HTML: html.render(run, strategy_text, history.load(run_dir.parent, run)),
        MARKDOWN: markdown.render(run, strategy_text),
    }
    paths = []
    for name, text in outputs.items():
        path = run_dir / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths
