"""The step vocabulary as people read it: `dmaas steps` (plain text) and
docs/steps.md (markdown, generated: `dmaas steps --markdown`), from the step
definitions themselves (runner.step_coverage.step_vocabulary), grouped by
area (the steps/<area>_steps.py module), each with its parameters and one
line from a real feature that uses it."""
from __future__ import annotations

import itertools

DOCS = "docs/steps.md"
TYPES = ("Name: the inside of \"...\"; Names: \"a\", \"a\" and \"b\", \"a\", \"b\" and \"c\"; "
         "Own, Owns: a Name, Names of something the scenario makes (a namespace, plan, backup, location), "
         "which a shared target prefixes with the scenario's id; "
         "Which: oldest, latest, latest-but-one day's; Duration: 80 hours, 3 days, 1h, 15 minutes, an hour; "
         "Size: 64 KiB, 2 MiB, 1 GB; integer: 5; text: any words (see steps/steplib.py)")


def _groups(vocabulary):
    return itertools.groupby(vocabulary, key=lambda e: (e["area"], e["file"]))


def _parameters(entry) -> str:
    return ", ".join(f"{name} ({ {'d': 'integer'}.get(kind, kind)})" for name, kind in entry["parameters"]) or "none"


def render_markdown(vocabulary: list[dict]) -> str:
    out = ["# Step vocabulary", "",
           "Generated from the step definitions by `dmaas steps --markdown > docs/steps.md`; a test fails "
           "when it is stale. Parameter types: " + TYPES + ".", ""]
    for (area, file), entries in _groups(vocabulary):
        out += [f"## {area} (`{file}`)", ""]
        for entry in entries:
            out.append(f"- **{entry['keyword']}** `{entry['text']}`")
            if entry["doc"]:
                out.append(f"  {entry['doc']}")
            out.append(f"  Parameters: {_parameters(entry)}.")
            out.append(f"  Example: `{entry['example']}`" if entry["example"]
                       else "  Example: none yet (no feature uses it; the oracle tests do)")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def render_text(vocabulary: list[dict]) -> str:
    out = []
    for (area, file), entries in _groups(vocabulary):
        out.append(f"{area} ({file})")
        for entry in entries:
            out.append(f"  {entry['keyword']:<5} {entry['text']}")
            out.append(f"        e.g. {entry['example'] or '(no feature uses it yet)'}")
    return "\n".join(out) + "\n"
