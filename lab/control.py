"""The lab's control API (JSON over HTTP): state, clock, clusters, faults,
quotas, shutdown. See HACKING.md "Control API". Errors are
`{"error": "one line"}` with a 4xx status."""
import http.server
import json
import logging
import re
import threading

from lab.clock import format_time
from lab.lab import LabError
from lab.metrics import METRICS
from lab.s3 import S3Error

log = logging.getLogger("lab.control")

_ROUTES = []


def route(method, pattern):
    def register(handler):
        _ROUTES.append((method, re.compile(f"^{pattern}$"), handler))
        return handler
    return register


class ControlServer:
    """Serves the control API for one Lab; `on_shutdown` is called (in a
    thread of its own) after POST /shutdown has been answered."""

    def __init__(self, lab, on_shutdown, host="127.0.0.1", port=0):
        self.lab = lab
        self.on_shutdown = on_shutdown
        self._server = http.server.ThreadingHTTPServer((host, port), _Handler)
        self._server.daemon_threads = True
        self._server.control = self
        self._thread = None

    @property
    def url(self):
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self):
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name="lab-control", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True     # headers and body are two writes: no 40 ms ACK wait

    def log_message(self, *args):
        pass

    def do_GET(self):
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_GET

    def _dispatch(self):
        control = self.server.control
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        matched_path = False
        try:
            body = self._body()
            for method, pattern, handler in _ROUTES:
                match = pattern.match(path)
                if not match:
                    continue
                matched_path = True
                if method == self.command:
                    status, result = handler(control, body, *match.groups())
                    self._send(status, result)
                    if handler is _shutdown:    # answered first, then the lab goes
                        threading.Thread(target=control.on_shutdown, name="lab-shutdown").start()
                    return
            if matched_path:
                raise LabError(405, f"{self.command} {path} is not allowed")
            raise LabError(404, f"no such control endpoint: {self.command} {path}")
        except LabError as error:
            self._send(error.code, {"error": str(error)})
        except (ValueError, S3Error) as error:
            self._send(400, {"error": str(error).splitlines()[0] if str(error) else type(error).__name__})
        except Exception as error:      # a bug: one line to the client, the traceback to the log
            log.exception("control %s %s failed", self.command, path)
            self._send(500, {"error": f"internal error: {type(error).__name__}: {error}".splitlines()[0]})

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except json.JSONDecodeError as error:
            raise LabError(400, f"request body is not JSON: {error.msg} at char {error.pos}")
        if not isinstance(body, dict):
            raise LabError(400, "request body must be a JSON object")
        return body

    def _send(self, status, result):
        data = json.dumps(result).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _field(body, name, kinds, required=True):
    value = body.get(name)
    if value is None:
        if required:
            raise LabError(400, f"{name}: required")
        return None
    if not isinstance(value, kinds) or isinstance(value, bool):
        raise LabError(400, f"{name}: wrong type {type(value).__name__}")
    return value


@route("GET", "/state")
def _state(control, body):
    return 200, control.lab.state()


@route("GET", "/metrics")
def _metrics(control, body):
    return 200, METRICS.snapshot()


@route("GET", "/clock")
def _clock(control, body):
    return 200, {"now": format_time(control.lab.clock.now())}


@route("POST", "/clock/advance")
def _advance(control, body):
    seconds = _field(body, "seconds", (int, float))
    return 200, {"now": control.lab.advance(seconds)}


@route("POST", "/clusters")
def _create_cluster(control, body):
    cluster = control.lab.create_cluster(_field(body, "name", str), body.get("version"),
                                         body.get("velero_version"))
    return 201, cluster.state()


@route("DELETE", "/clusters/([^/]+)")
def _delete_cluster(control, body, name):
    control.lab.delete_cluster(name)
    return 200, {"deleted": name}


def _apply_fault(faults, body, key=None):
    action = _field(body, "action", str)
    if action == "cut":
        faults.cut(key)
    elif action == "restore":
        faults.restore(key)
    elif action == "slow":
        faults.slow(_field(body, "delay", (int, float)), key)
    else:
        raise LabError(400, f"action: {action!r} is not one of cut, restore, slow")
    return faults.snapshot()


@route("POST", "/faults/clusters/([^/]+)")
def _cluster_fault(control, body, name):
    cluster = control.lab.cluster(name)
    return 200, {"cluster": name, "faults": _apply_fault(cluster.faults, body)}


@route("POST", "/faults/s3/([^/]+)")
def _s3_fault(control, body, profile):
    endpoint = control.lab.endpoint(profile)
    bucket = _field(body, "bucket", str, required=False)
    if body.get("action") == "cut":
        endpoint.damaged(bucket)       # what keeps its repositories open opens them again, afterwards
    return 200, {"s3": profile, "faults": _apply_fault(endpoint.faults, body, bucket)}


@route("POST", "/faults/s3/([^/]+)/corrupt")
def _corrupt(control, body, profile):
    endpoint = control.lab.endpoint(profile)
    return 200, endpoint.corrupt(_field(body, "bucket", str), _field(body, "key", str))


@route("PUT", "/s3/([^/]+)/quota")
def _quota(control, body, profile):
    endpoint = control.lab.endpoint(profile)
    bucket = _field(body, "bucket", str)
    if "bytes" not in body:
        raise LabError(400, "bytes: required (a number of bytes, or null to remove the quota)")
    endpoint.set_quota(bucket, body["bytes"])
    return 200, {"s3": profile, "bucket": bucket, "bytes": endpoint.quota(bucket)}


@route("POST", "/shutdown")
def _shutdown(control, body):
    return 200, {"status": "shutting down"}
