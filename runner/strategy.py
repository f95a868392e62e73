"""Reads the test strategy document (the vendored markdown) by TCID section."""
from __future__ import annotations

import re
from pathlib import Path

from runner.errors import UserError

STRATEGY_DOC = "docs/dmaas-test-strategy.md"

_SECTION = re.compile(r"^###\s+(TCID-[A-Z0-9-]+)\s*$")


def read(root: Path) -> str:
    path = Path(root) / STRATEGY_DOC
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{STRATEGY_DOC}: cannot read the test strategy: {exc.strerror}") from None


def stories(text: str) -> dict[str, str]:
    """TCID -> its user story: the text under "### TCID" up to the first table or sub-heading."""
    found: dict[str, str] = {}
    current: str | None = None
    lines: list[str] = []
    for line in text.splitlines():
        heading = _SECTION.match(line)
        if heading:
            if current:
                found[current] = "\n".join(lines).strip()
            current, lines = heading.group(1), []
            continue
        if current is None:
            continue
        if line.lstrip().startswith("|") or line.startswith("#"):
            found[current] = "\n".join(lines).strip()
            current, lines = None, []
            continue
        lines.append(line)
    if current:
        found[current] = "\n".join(lines).strip()
    return found


def tcids(text: str) -> list[str]:
    """Every TCID named in a table row of the strategy, in document order."""
    seen: list[str] = []
    for match in re.finditer(r"\[(TCID-[A-Z0-9-]+)\]", text):
        if match.group(1) not in seen:
            seen.append(match.group(1))
    return seen
