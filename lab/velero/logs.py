"""The log and results files Velero uploads beside a backup or restore:
logrus text lines (gzip) and the results JSON (errors/warnings split into
velero, cluster and per-namespace lists)."""
import gzip
import json


def _quote(text):
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _field(value):
    """logrus quotes a field value only when it holds characters beyond these."""
    text = str(value)
    plain = text and all(c.isalnum() or c in "-._/@^+" for c in text)
    return text if plain else _quote(text)


class OperationLog:
    """With `log_hook`, results are what Velero's LogHook records of a
    backup's log (pkg/util/logging/log_counter_hook.go): " resource: /R name:
    /N message: /M error: /E", with the parts whose fields the line has;
    a restore's results hold the messages as they are."""

    def __init__(self, cluster, subject, log_hook=False):
        self.cluster = cluster
        self.subject = subject          # e.g. "backup=velero/nightly"
        self.log_hook = log_hook
        self.lines = []
        self.errors = {"velero": [], "cluster": [], "namespaces": {}}
        self.warnings = {"velero": [], "cluster": [], "namespaces": {}}

    def _line(self, level, message, fields=None):
        """A logrus text line: time, level, msg, then the fields sorted by name
        (the subject, e.g. backup=velero/x, among them)."""
        stamp = self.cluster.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
        key, _, value = self.subject.partition("=")
        pairs = sorted({**(fields or {}), key: value}.items())
        tail = " ".join(f"{k}={_field(v)}" for k, v in pairs)
        self.lines.append(f"time={_quote(stamp)} level={level} msg={_quote(message)} {tail}")

    def info(self, message, **fields):
        self._line("info", message, fields)

    def _record(self, results, message, namespace, scope):
        if namespace:
            results["namespaces"].setdefault(namespace, []).append(message)
        else:
            results[scope].append(message)

    def _entry(self, message, fields):
        if not self.log_hook:
            return message
        parts = [f" {key}: /{fields[key]}" for key in ("resource", "name") if key in fields]
        parts.append(f" message: /{message}")
        if "error" in fields:
            parts.append(f" error: /{fields['error']}")
        return "".join(parts)

    def warning(self, message, namespace=None, scope="velero", **fields):
        self._line("warning", message, dict(fields, **({"namespace": namespace} if namespace else {})))
        self._record(self.warnings, self._entry(message, fields), namespace, scope)

    def error(self, message, namespace=None, scope="velero", **fields):
        self._line("error", message, dict(fields, **({"namespace": namespace} if namespace else {})))
        self._record(self.errors, self._entry(message, fields), namespace, scope)

    @staticmethod
    def _count(results):
        return len(results["velero"]) + len(results["cluster"]) + sum(map(len, results["namespaces"].values()))

    def error_count(self):
        return self._count(self.errors)

    def warning_count(self):
        return self._count(self.warnings)

    def log_gz(self):
        return gzip.compress(("\n".join(self.lines) + "\n").encode(), mtime=0)

    def results_gz(self):
        def clean(results):
            return {k: v for k, v in results.items() if v}
        return gzip_json({"errors": clean(self.errors), "warnings": clean(self.warnings)})


def gzip_json(value):
    return gzip.compress(json.dumps(value, sort_keys=True).encode(), mtime=0)


def gunzip_json(data):
    return json.loads(gzip.decompress(data))
