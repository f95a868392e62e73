"""The strategy document (markdown) with every TCID's Status cell filled."""
from __future__ import annotations

import re

from runner.report.model import LABELS, Run, tcid_verdict

_TCID_ROW = re.compile(r"^\s*\|.*\[(TCID-[A-Z0-9-]+)\]")


def fill_status(strategy_text: str, cell_text) -> str:
    """Rewrites the last cell of each TCID table row with cell_text(tcid)."""
    out = []
    for line in strategy_text.splitlines():
        match = _TCID_ROW.match(line)
        if match:
            cells = line.strip().strip("|").split("|")
            cells[-1] = " " + cell_text(match.group(1)).replace("|", "\\|").replace("\n", " ") + " "
            line = "|" + "|".join(cells) + "|"
        out.append(line)
    return "\n".join(out) + "\n"


def render(run: Run, strategy_text: str) -> str:
    by_tcid = run.by_tcid()
    body = fill_status(strategy_text, lambda tcid: tcid_verdict(by_tcid.get(tcid)).text)
    counts = ", ".join(f"{n} {LABELS.get(k, k)}" for k, n in run.counts().items())
    text = body + (f"\n## Run {run.run_id}\n\n"
                   f"Target `{' + '.join(run.targets)}`, tags `{' '.join(run.tags) or '(all)'}`, "
                   f"from {run.started} to {run.finished}: {len(run.scenarios)} scenarios, {counts}.\n")
    if len(run.targets) > 1:
        text += "\n### TCID × target\n\n" + conformance_table(run) + "\n"
    return text


def conformance_table(run: Run) -> str:
    """The TCID x target table (markdown): each TCID's verdict and seconds on each target of the run."""
    lines = ["| TCID | " + " | ".join(run.targets) + " |", "|---|" + "---|" * len(run.targets)]
    for tcid, by_target in run.conformance().items():
        cells = [v.text.replace("|", "\\|") for v in by_target.values()]
        lines.append(f"| {tcid} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
