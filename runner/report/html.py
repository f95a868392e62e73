"""The stakeholder report: one self-contained HTML file (inline CSS, no
scripts, no external resources) that reads like the strategy document, with
a summary, every TCID's Status cell filled and linked to the details, the
engine x bucket grid of SCHD, the details of each scenario and, when the
run recorded one, the monitor views."""
from __future__ import annotations

import re
from html import escape

from runner.report.model import Feature, Run, Scenario, tcid_cell

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:72rem;
padding:1rem 2rem;color:#1d232b;line-height:1.45}
h1{border-bottom:2px solid #1d232b;padding-bottom:.3rem}h2{margin-top:2.2rem;border-bottom:1px solid #ccd}
table{border-collapse:collapse;margin:.6rem 0 1rem}th,td{border:1px solid #c8ccd4;padding:.3rem .6rem;
text-align:left;vertical-align:top}th{background:#eef0f4}code,pre{font-family:ui-monospace,Consolas,monospace}
pre{background:#f6f7f9;padding:.5rem;white-space:pre-wrap;margin:.2rem 0}
.passed{background:#dff3e3}.failed,.error,.undefined{background:#fbe0e0}.skipped,.partial{background:#fff4d6}
.not-run{background:#f0f0f0;color:#666}.badge{font-weight:600}
.steps td{font-size:.9em}.scenario{border-left:4px solid #c8ccd4;padding-left:1rem;margin:1rem 0}
.scenario.passed{border-color:#3a9b50;background:none}.scenario.failed,.scenario.error,.scenario.undefined{
border-color:#c83737;background:none}.scenario.skipped{border-color:#d9a400;background:none}
.muted{color:#667}
"""


def _inline(text: str) -> str:
    """Markdown inline markup -> HTML (escaped first); TCID links point at the details."""
    out = escape(text, quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)
    out = re.sub(r"(?<![\w])_([^_]+)_(?![\w])", r"<em>\1</em>", out)
    out = re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", lambda m: f'<a href="{_href(m.group(2))}">{m.group(1)}</a>', out)
    return out


def _href(target: str) -> str:
    return "#" + target if target.startswith("TCID-") else escape(target)


class _Document:
    """A small markdown -> HTML converter for the strategy's subset:
    front matter, headings, rules, paragraphs, nested lists, tables."""

    def __init__(self, status_cell):
        self.status_cell = status_cell   # tcid -> HTML of its Status cell
        self.out: list[str] = []
        self.title = ""

    def convert(self, text: str) -> str:
        lines = text.splitlines()
        lines = self._front_matter(lines)
        i = 0
        while i < len(lines):
            line = lines[i]
            if not line.strip():
                i += 1
            elif re.fullmatch(r"\s*-{3,}\s*", line):
                self.out.append("<hr>")
                i += 1
            elif re.match(r"#{1,6}\s", line):
                self._heading(line)
                i += 1
            elif line.lstrip().startswith("|"):
                i = self._table(lines, i)
            elif re.match(r"\s*[-*]\s", line):
                i = self._list(lines, i)
            else:
                i = self._paragraph(lines, i)
        return "\n".join(self.out)

    def _front_matter(self, lines):
        if lines and lines[0].strip() == "---" and "---" in (l.strip() for l in lines[1:]):
            end = next(i for i, l in enumerate(lines[1:], 1) if l.strip() == "---")
            for l in lines[1:end]:
                if l.startswith("title:"):
                    self.title = l.split(":", 1)[1].strip()
            return lines[end + 1:]
        return lines

    def _heading(self, line):
        marks, text = line.split(None, 1)
        level = min(len(marks) + 1, 6)     # the page's own <h1> is the report title
        tcid = re.match(r"(TCID-[A-Z0-9-]+)$", text.strip())
        ident = f' id="story-{tcid.group(1)}"' if tcid else ""
        self.out.append(f"<h{level}{ident}>{_inline(text.strip())}</h{level}>")

    def _table(self, lines, i):
        rows = []
        while i < len(lines) and lines[i].lstrip().startswith("|"):
            rows.append([c.strip() for c in lines[i].strip().strip("|").split("|")])
            i += 1
        header, body = rows[0], [r for r in rows[1:] if not all(re.fullmatch(r":?-*:?", c) for c in r)]
        html = ["<table>", "<tr>" + "".join(f"<th>{_inline(c)}</th>" for c in header) + "</tr>"]
        for row in body:
            tcid = re.search(r"\[(TCID-[A-Z0-9-]+)\]", row[0]) if row else None
            cells = [f"<td>{_inline(c)}</td>" for c in row]
            if tcid and len(row) > 1 and header[-1].lower() == "status":
                cells[-1] = self.status_cell(tcid.group(1))
            html.append("<tr>" + "".join(cells) + "</tr>")
        self.out.append("\n".join(html + ["</table>"]))
        return i

    def _list(self, lines, i):
        stack: list[int] = []
        html = []
        while i < len(lines):
            match = re.match(r"(\s*)[-*]\s+(.*)", lines[i])
            if not match:
                break
            indent = len(match.group(1).expandtabs(4))
            if not stack or indent > stack[-1]:
                html.append("<ul>")
                stack.append(indent)
            else:
                while len(stack) > 1 and indent < stack[-1]:
                    html.append("</li></ul>")
                    stack.pop()
                html.append("</li>")
            html.append(f"<li>{_inline(match.group(2))}")
            i += 1
        html.append("</li></ul>" * len(stack))
        self.out.append("".join(html))
        return i

    def _paragraph(self, lines, i):
        text = []
        while (i < len(lines) and lines[i].strip() and not lines[i].lstrip().startswith("|")
               and not re.match(r"(#{1,6}\s|\s*[-*]\s|\s*-{3,}\s*$)", lines[i])):
            text.append(lines[i].strip())
            i += 1
        self.out.append(f"<p>{_inline(' '.join(text))}</p>")
        return i


def _status_cell(by_tcid: dict[str, list[Scenario]]):
    def cell(tcid: str) -> str:
        status, text = tcid_cell(by_tcid.get(tcid))
        if status == "not-run":
            return f'<td class="not-run">{escape(text)}</td>'
        return f'<td class="{status}"><a class="badge" href="#{tcid}">{escape(text)}</a></td>'
    return cell


def _summary(run: Run) -> str:
    counts = run.counts()
    rows = [("Run", run.run_id), ("Target", run.target), ("Tags", " ".join(run.tags) or "(all)"),
            ("Started", run.started), ("Finished", run.finished),
            ("Scenarios", str(len(run.scenarios))), ("Duration", f"{run.duration:.1f} s")]
    html = ["<h2 id=\"summary\">Summary</h2>", "<table>"]
    html += [f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows]
    html.append("</table><table><tr>" + "".join(f"<th>{k}</th>" for k in counts) + "</tr><tr>"
                + "".join(f'<td class="{k if n else ""}">{n}</td>' for k, n in counts.items()) + "</tr></table>")
    failing = [s for s in run.scenarios if s.status not in ("passed",)]
    if failing:
        html.append("<table><tr><th>TCID</th><th>Scenario</th><th>Status</th><th>Reason</th></tr>")
        html += [f'<tr><td><a href="#{escape(s.anchor)}">{escape(s.tcid or "")}</a></td><td>{escape(s.name)}</td>'
                 f'<td class="{s.status}">{s.status}</td><td>{escape(s.reason or "")}</td></tr>' for s in failing]
        html.append("</table>")
    return "\n".join(html)


def _grid(run: Run) -> str:
    """SCHD engine x bucket grid, from the @engine-*/@bucket-* tags of the SCHD scenarios."""
    cells: dict[tuple[str, str], list[Scenario]] = {}
    for s in run.scenarios:
        if "schd" in s.tags and "soak" not in s.tags:
            engine = next((t[7:] for t in s.tags if t.startswith("engine-")), None)
            bucket = next((t[7:] for t in s.tags if t.startswith("bucket-")), None)
            if engine and bucket:
                cells.setdefault((engine, bucket), []).append(s)
    if not cells:
        return ""
    engines = list(dict.fromkeys(e for e, _ in cells))
    buckets = list(dict.fromkeys(b for _, b in cells))
    html = ['<h2 id="schd-grid">SCHD: storage engine &times; bucket</h2>', "<table>",
            "<tr><th>engine \\ bucket</th>" + "".join(f"<th>{escape(b)}</th>" for b in buckets) + "</tr>"]
    for engine in engines:
        row = f"<tr><th>{escape(engine)}</th>"
        for bucket in buckets:
            scenarios = cells.get((engine, bucket))
            status, text = tcid_cell(scenarios)
            link = f'<a href="#{escape(scenarios[0].tcid or "")}">{escape(text)}</a>' if scenarios else escape(text)
            row += f'<td class="{status}">{link}</td>'
        html.append(row + "</tr>")
    return "\n".join(html + ["</table>"])


def _scenario(s: Scenario) -> str:
    html = [f'<div class="scenario {s.status}" id="{escape(s.anchor)}">',
            f"<h4>{escape(s.name)}</h4>",
            f'<p><span class="badge {s.status}">{s.status}</span> in {s.duration:.1f} s '
            f'<span class="muted">{escape(s.location)}</span></p>']
    if s.reason:
        html.append(f"<p><strong>Reason:</strong> {escape(s.reason)}</p>")
    if s.steps:
        html.append('<table class="steps"><tr><th>Status</th><th>Step</th><th>Duration</th></tr>')
        for step in s.steps:
            detail = f"<pre>{escape(step.error_message)}</pre>" if step.error_message else ""
            table = ""
            if step.table:
                table = ("<table><tr>" + "".join(f"<th>{escape(h)}</th>" for h in step.table["headings"]) + "</tr>"
                         + "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>"
                                   for row in step.table["rows"]) + "</table>")
            html.append(f'<tr><td class="{step.status}">{step.status}</td><td>{escape(step.keyword)} '
                        f'{escape(step.name)}{table}{detail}</td><td>{step.duration:.2f} s</td></tr>')
        html.append("</table>")
    return "\n".join(html + ["</div>"])


def _details(run: Run) -> str:
    html = ['<h2 id="details">Details</h2>']
    for feature in run.features:
        html.append(_feature(feature))
    return "\n".join(html)


def _feature(feature: Feature) -> str:
    ident = f' id="{escape(feature.tcid)}"' if feature.tcid else ""
    story = f' <a class="muted" href="#story-{escape(feature.tcid)}">(story)</a>' if feature.tcid else ""
    return "\n".join([f"<h3{ident}>{escape(feature.name)}{story}</h3>",
                      f'<p class="muted">{escape(feature.location)} &middot; {escape(" ".join("@" + t for t in feature.tags))}</p>']
                     + [_scenario(s) for s in feature.scenarios])


def _monitor(run: Run) -> str:
    if not run.monitor:
        return ""
    html = ['<h2 id="monitor">Monitor</h2>']
    for view, rows in run.monitor["views"].items():
        html.append(f"<h3>{escape(view)}</h3>")
        dict_rows = [r for r in rows if isinstance(r, dict)]
        if not dict_rows:
            html.append('<p class="muted">(empty)</p>')
            continue
        columns = list(dict.fromkeys(k for r in dict_rows for k in r))
        html.append("<table><tr>" + "".join(f"<th>{escape(str(c))}</th>" for c in columns) + "</tr>")
        html += ["<tr>" + "".join(f"<td>{escape(_text(r.get(c)))}</td>" for c in columns) + "</tr>" for r in dict_rows]
        html.append("</table>")
    return "\n".join(html)


def _text(value) -> str:
    return "" if value is None else str(value)


def render(run: Run, strategy_text: str) -> str:
    document = _Document(_status_cell(run.by_tcid()))
    strategy_html = document.convert(strategy_text)
    title = f"{document.title or 'Test strategy'}: run {run.run_id}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        '<p><a href="#summary">Summary</a> &middot; <a href="#strategy">Strategy</a> &middot; '
        '<a href="#details">Details</a>' + (' &middot; <a href="#monitor">Monitor</a>' if run.monitor else "") + "</p>",
        _summary(run),
        _grid(run),
        '<h2 id="strategy">Strategy</h2>',
        strategy_html,
        _details(run),
        _monitor(run),
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"
