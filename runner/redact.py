"""Secrets never reach a report, a log or a diagnostics dump: the one
redactor. Values of keys named like a secret are replaced, in mappings, in
key/value tables and in free text; a Secret object's data entirely."""
from __future__ import annotations

import re

MASK = "***"
_SECRET_NAME = re.compile(r"(secret|passw|token|(^|[_\-\s.])key$|[a-z]Key$|apikey|credential)", re.IGNORECASE)
# name=value, name: value, "name": "value" inside messages; the name must end in the
# secret-like word (so a path such as features/exclude_secret.feature:5 is left alone)
_IN_TEXT = re.compile(
    r"""(?P<name>["']?(?<![A-Za-z0-9_\-])(?:(?:[A-Za-z0-9]+[_\-])*(?i:secret|passw(?:or)?d|token|credentials?|key)"""
    r"""|[A-Za-z0-9]*[a-z](?:Secret|Password|Token|Key))["']?)(?![A-Za-z0-9_.\-])"""
    r"""(?P<sep>\s*[:=]\s*)(?P<value>"[^"]*"|'[^']*'|[^\s,;})\]]+)""")


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(str(name).strip()))


def text(value: str | None) -> str | None:
    if not value:
        return value
    return _IN_TEXT.sub(lambda m: f"{m.group('name')}{m.group('sep')}{MASK}", value)


def mapping(value):
    """Deep copy of a JSON-like value with secret-named keys masked and strings redacted."""
    if isinstance(value, dict):
        return {k: (MASK if is_secret_name(k) and v not in (None, "") else mapping(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [mapping(v) for v in value]
    if isinstance(value, str):
        return text(value)
    return value


def api_object(obj):
    """A copy of a Kubernetes object safe to write into diagnostics: a
    Secret's data (and the last-applied annotation that repeats it) masked,
    then secret-named fields and secret-looking text anywhere masked."""
    if not isinstance(obj, dict):
        return obj
    obj = dict(obj)
    if obj.get("kind") == "Secret":
        for field in ("data", "stringData"):
            if isinstance(obj.get(field), dict):
                obj[field] = {key: MASK for key in obj[field]}
        metadata = dict(obj.get("metadata") or {})
        annotations = dict(metadata.get("annotations") or {})
        if "kubectl.kubernetes.io/last-applied-configuration" in annotations:
            annotations["kubectl.kubernetes.io/last-applied-configuration"] = MASK
            metadata["annotations"] = annotations
            obj["metadata"] = metadata
    return mapping(obj)


def table_rows(headings: list[str], rows: list[list[str]]) -> list[list[str]]:
    """Masks secret columns, and the value cell of key/value rows whose first cell names a secret."""
    secret_columns = {i for i, h in enumerate(headings) if is_secret_name(h)}
    out = []
    for row in rows:
        cells = [MASK if i in secret_columns else text(c) for i, c in enumerate(row)]
        if len(cells) >= 2 and is_secret_name(cells[0]):
            cells = [cells[0]] + [MASK] * (len(cells) - 1)
        out.append(cells)
    return out
