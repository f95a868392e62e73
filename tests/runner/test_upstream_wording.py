"""No check of steps/, runner/dmaas or runner/driver passes on text only the
lab writes: every phrase or regular expression they look for in a text is
held against every string the lab's code writes (log lines, errors,
statuses, events: the string literals of lab/, f-strings with their
placeholders filled), and one that matches such a string must be a text of
Velero or a plugin, listed with its upstream source in
runner/dmaas/wording.py (the lab writes those same words; a test below
checks it), or be listed here with the reason it does not read the lab's
wording.

Issue 21 found three such checks: the cStor kind read from ", parent <id>"
in the backup log, "does not serve" in a restore's errors, both written
only by the lab."""
import ast
import datetime
import re
import types
from pathlib import Path

import pytest

from runner.dmaas import wording

ROOT = Path(__file__).resolve().parents[2]
RUNNER_DIRS = ("steps", "runner/dmaas", "runner/driver")
RE_FUNCTIONS = {"compile", "search", "match", "fullmatch", "findall", "finditer", "sub", "split"}

# (file, text): a phrase the runner looks for that some lab string holds too, and why that is no
# check on the lab's wording
NOT_WORDING = {
    ("runner/driver/reachability.py", "timed out"):
        "classifies the exception the Python client raised (socket, urllib3, ssl) when it could not reach "
        "an endpoint; a server's words never get there",
}


def _string(node):
    """A str constant, or an f-string with each placeholder as `X` (None otherwise)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(part.value if isinstance(part, ast.Constant) else "X" for part in node.values)
    return None


def runner_patterns():
    """[(file, line, compiled pattern, text)] of every literal the runner's
    steps, DMaaS layer and driver search texts for: re.* patterns with words
    in them (four letters outside character classes: `[^a-z0-9]+` or
    `"([^"]+)"` parse names and quotes, they read no wording), and the
    phrases (words with a space between) of `"x" in y` and of
    startswith/endswith; a single word there is a key, a list item or a
    separator ("list" in verbs, "/" in a name), no reading of prose."""
    found = []
    for directory in RUNNER_DIRS:
        for path in sorted((ROOT / directory).glob("*.py")):
            where = str(path.relative_to(ROOT))
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
                    text = _string(node.args[0])
                    func = node.func
                    if text is None:
                        continue
                    if isinstance(func.value, ast.Name) and func.value.id == "re" and func.attr in RE_FUNCTIONS:
                        if re.search(r"[A-Za-z]{4}", re.sub(r"\[[^]]*\]|\\.", " ", text)):
                            found.append((where, node.lineno, re.compile(text), text))
                    elif func.attr in ("startswith", "endswith") and _wordy(text):
                        found.append((where, node.lineno, re.compile(re.escape(text)), text))
                elif isinstance(node, ast.Compare) and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops):
                    text = _string(node.left)
                    if text is not None and _wordy(text):
                        found.append((where, node.lineno, re.compile(re.escape(text), re.IGNORECASE), text))
    for entry in wording.ALL:
        found.append(("runner/dmaas/wording.py", 0, entry.pattern, entry.pattern.pattern))
    return found


def _wordy(text):
    return bool(re.search(r"[A-Za-z]{2,} +[A-Za-z]", text))


def lab_strings():
    """{text: "file:line"} of every string the lab's code holds but its docstrings."""
    found = {}
    for path in sorted((ROOT / "lab").rglob("*.py")):
        tree = ast.parse(path.read_text())
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                      and n.body and isinstance(n.body[0], ast.Expr)}
        inside_fstrings = {id(part) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for part in n.values}
        for node in ast.walk(tree):
            if id(node) in docstrings or id(node) in inside_fstrings:
                continue
            text = _string(node)
            if text and re.search(r"[A-Za-z]{3}", text):
                found.setdefault(text, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def lab_only_matches(patterns, strings, upstream=(), allowed=()):
    """The (runner place, lab place, text) of every runner pattern that some
    lab string satisfies and that is neither upstream wording nor allowed."""
    upstream = {entry.pattern.pattern for entry in upstream}
    problems = []
    for where, line, pattern, text in patterns:
        if text in upstream or (where, text) in allowed:
            continue
        for lab_text, lab_where in strings.items():
            if pattern.search(lab_text):
                problems.append((f"{where}:{line} looks for {text!r}", lab_where, lab_text))
    return problems


def test_no_runner_check_matches_text_only_the_lab_writes():
    problems = lab_only_matches(runner_patterns(), lab_strings(), wording.ALL, NOT_WORDING)
    assert not problems, "\n".join(f"{runner} -> lab's own words at {lab}: {text!r}" for runner, lab, text in problems)


def test_the_check_catches_the_checks_issue_21_found():
    """Fed the checks the runner had and the lab's words of then, the check fails on each."""
    patterns = [("runner/dmaas/discovery.py", 24, re.compile(r", parent [0-9A-Za-z]"), r", parent [0-9A-Za-z]"),
                ("steps/restore_steps.py", 10, re.compile(r"not served|does not serve|cannot be resolved"),
                 r"not served|does not serve|cannot be resolved")]
    strings = {"Snapshot X of volume X taken (X, X bytes, parent pvc-1-velero-bkp-b1)": "lab/velero/backups.py:1",
               "X: the server does not serve this resource (Kubernetes X); could not restore X":
                   "lab/velero/restores.py:1"}
    found = lab_only_matches(patterns, strings, wording.ALL)
    assert [lab for _, lab, _ in found] == ["lab/velero/backups.py:1", "lab/velero/restores.py:1"]


def test_every_allowance_is_still_needed():
    """An allowance whose phrase the runner no longer looks for, or no lab string satisfies, goes."""
    patterns = {(where, text) for where, _, _, text in runner_patterns()}
    strings = lab_strings()
    for where, text in NOT_WORDING:
        assert (where, text) in patterns, f"{where} no longer looks for {text!r}: remove it from NOT_WORDING"
        assert any(text.lower() in s.lower() for s in strings), f"no lab string holds {text!r}: remove it"


@pytest.mark.parametrize("entry", wording.ALL, ids=lambda e: e.pattern.pattern[:40])
def test_upstream_wording_names_its_source_and_matches_its_example(entry):
    assert re.match(r"[\w.-]+/[\w.-]+ v\d+\.\d+\.\d+", entry.source), entry.source
    assert entry.pattern.search(entry.example), entry.example


@pytest.mark.parametrize("velero_version", ["1.12.4", "1.16.2"])
def test_the_lab_logs_an_unresolved_resource_in_the_words_the_runner_reads(velero_version):
    """The lab's restore log line for a resource the target does not serve
    (each release's words) is what wording.unresolved_resources reads."""
    from lab.velero import restores
    from lab.velero.logs import OperationLog
    clock = types.SimpleNamespace(now=lambda: datetime.datetime(2026, 1, 5, tzinfo=datetime.timezone.utc))
    log = OperationLog(types.SimpleNamespace(clock=clock), "restore=velero/r1")
    skips = velero_version < "1.14"
    log.info(restores.UNRESOLVED_SKIPPED if skips else restores.UNRESOLVED, resource="podsecuritypolicies.policy")
    log.info("Restored configmaps ns/x as v1")
    text = "\n".join(log.lines)
    assert wording.unresolved_resources(text) == ["podsecuritypolicies.policy"]
