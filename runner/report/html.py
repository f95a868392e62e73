"""The stakeholder report: one self-contained HTML file (inline CSS and SVG,
no scripts, nothing fetched) that reads like the strategy document, with a
summary, the history of earlier runs, the engine x bucket grid of SCHD, the
timeline of each scenario's plans, every TCID's Status cell filled and
linked to the details, the details of each scenario and, when the run
recorded one, the monitor views.

The page is templates/report.html.j2 (Jinja2, autoescaped); this module
only prepares what it shows. The strategy's markdown is rendered in one
place, strategy_html(), by markdown-it (raw HTML off)."""
from __future__ import annotations

import re

import jinja2
from markdown_it import MarkdownIt
from markupsafe import Markup

from runner.report import history, timeline
from runner.report.markdown import fill_status
from runner.report.model import FAILING, LABELS, NOT_FOR_TARGET, VERDICTS, Run, tcid_verdict

_TEMPLATES = jinja2.Environment(loader=jinja2.PackageLoader("runner.report", "templates"), autoescape=True,
                                undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_TEMPLATES.filters["label"] = lambda status: LABELS.get(status, status)     # "not-for-target": "not for this target"
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")
_TCID = re.compile(r"\[(TCID-[A-Z0-9-]+)\]")
_MARKUP = re.compile(r"([\\`*_{}\[\]()#+\-.!<>~&])")     # markdown's punctuation ("|": fill_status escapes it)


def render(run: Run, strategy_text: str, past: history.History | None = None) -> str:
    by_tcid = run.by_tcid()
    verdicts = run.verdicts()
    title, strategy = strategy_html(strategy_text, lambda tcid: _cell(tcid_verdict(by_tcid.get(tcid))))
    severity = {status: i for i, status in enumerate(FAILING + ("skipped",))}
    not_for_target: dict[tuple[str, str], int] = {}
    for s in run.scenarios:
        if s.status == NOT_FOR_TARGET:
            not_for_target[(s.target, s.reason)] = not_for_target.get((s.target, s.reason), 0) + 1
    return _TEMPLATES.get_template("report.html.j2").render(
        run=run, title=f"{title}: run {run.run_id}", strategy=strategy, grid=schd_grid(run), history=past,
        counts=run.counts(), verdict_counts=_count(v.status for v in verdicts.values()),
        # what did not pass, failures first; the forms for other targets are no part of it
        failing=sorted((s for s in run.scenarios if s.status in severity), key=lambda s: severity[s.status]),
        not_for_target=not_for_target, conformance=run.conformance() if len(run.targets) > 1 else None,
        verdicts=verdicts, timelines=[s for s in run.scenarios if s.plans],
        monitor=monitor_views(run), drawing=timeline.drawing, sparkline=history.sparkline)


def _cell(verdict) -> tuple[str, str]:
    return verdict.status, verdict.text


def _count(verdicts) -> dict[str, int]:
    """How many TCIDs have each verdict, in VERDICTS' order, those of none left out."""
    verdicts = list(verdicts)
    return {v: verdicts.count(v) for v in VERDICTS if v in verdicts}


def strategy_html(text: str, status_cell) -> tuple[str, Markup]:
    """(title, HTML) of the strategy markdown: headings one level down (the page's
    <h1> is the report's), `### TCID-...` headings with id story-TCID-..., links
    to a TCID pointing at its details, and each TCID row's Status cell filled
    from status_cell(tcid) -> (status, text), coloured by its status."""
    title, text = _front_matter(text)
    statuses = {}

    def cell(tcid):
        statuses[tcid], label = status_cell(tcid)
        label = _MARKUP.sub(r"\\\1", label)
        return label if statuses[tcid] == "not-run" else f"[{label}](#{tcid})"

    tokens = _MARKDOWN.parse(fill_status(text, cell))
    row_tcid, last_cell = None, None
    for i, token in enumerate(tokens):
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + 1, 6)}"
            heading = tokens[i + 1].content.strip() if token.type == "heading_open" else ""
            if re.fullmatch(r"TCID-[A-Z0-9-]+", heading):
                token.attrSet("id", f"story-{heading}")
        elif token.type == "tr_open":
            row_tcid, last_cell = None, None
        elif token.type == "td_open":
            last_cell = i
            match = _TCID.search(tokens[i + 1].content)
            row_tcid = row_tcid or (match.group(1) if match and match.group(1) in statuses else None)
        elif token.type == "tr_close" and row_tcid:
            tokens[last_cell].attrSet("class", statuses[row_tcid])
            for child in tokens[last_cell + 1].children or []:
                if child.type == "link_open":
                    child.attrSet("class", "badge")
        elif token.type == "inline":
            for child in token.children or []:
                if child.type == "link_open" and str(child.attrGet("href")).startswith("TCID-"):
                    child.attrSet("href", f"#{child.attrGet('href')}")
    return title or "Test strategy", Markup(_MARKDOWN.renderer.render(tokens, _MARKDOWN.options, {}))


def _front_matter(text: str) -> tuple[str | None, str]:
    """(its title, the rest) of a document opening with `---` front matter."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---" or "---" not in (line.strip() for line in lines[1:]):
        return None, text
    end = next(i for i, line in enumerate(lines[1:], 1) if line.strip() == "---")
    title = next((line.split(":", 1)[1].strip() for line in lines[1:end] if line.startswith("title:")), None)
    return title, "\n".join(lines[end + 1:])


def schd_grid(run: Run) -> dict | None:
    """The SCHD engine x bucket grid, from the @engine-*/@bucket-* tags of the SCHD scenarios:
    {"engines": [...], "buckets": [...], "cells": {(engine, bucket): (verdict, text, tcid)}}, a cell
    holding the verdict of the TCID over the scenarios of that engine and bucket."""
    found: dict[tuple[str, str], list] = {}
    for s in run.scenarios:
        if "schd" in s.tags and "soak" not in s.tags:
            engine = next((t[7:] for t in s.tags if t.startswith("engine-")), None)
            bucket = next((t[7:] for t in s.tags if t.startswith("bucket-")), None)
            if engine and bucket:
                found.setdefault((engine, bucket), []).append(s)
    if not found:
        return None
    return {"engines": list(dict.fromkeys(e for e, _ in found)), "buckets": list(dict.fromkeys(b for _, b in found)),
            "cells": {key: (*_cell(tcid_verdict(scenarios)), scenarios[0].tcid) for key, scenarios in found.items()}}


def monitor_views(run: Run) -> list[tuple[str, list[str], list[list[str]]]]:
    """(view, columns, rows of text) of each monitor view the run recorded (monitor.json)."""
    views = []
    for view, rows in (run.monitor or {}).get("views", {}).items():
        rows = [r for r in rows if isinstance(r, dict)]
        columns = list(dict.fromkeys(str(k) for r in rows for k in r))
        views.append((view, columns, [["" if r.get(c) is None else str(r.get(c)) for c in columns] for r in rows]))
    return views
