"""ApiServer: one lab cluster's Kubernetes API over HTTP.

Plain HTTP/1.1 on 127.0.0.1 (ThreadingHTTPServer, keep-alive), JSON only.
Serves discovery, the resources of its ResourceRegistry through
rest.ResourceApi, and pods/exec over a websocket. `faults` (a
lab.faults.Faults) is asked before each request: while it is cut, new
connections are closed unread and a request on an open keep-alive
connection is dropped without an answer; `faults.wait()` is the slow delay.
"""
import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from . import discovery, tables, websocket
from ..faults import RefuseWhenCut
from ..metrics import METRICS
from .errors import ApiError, BadRequest, MethodNotAllowed, NotFound, NotServed
from .rest import ResourceApi, route

log = logging.getLogger(__name__)



class ApiServer:
    """The API server of one lab cluster; `start()` returns its URL."""

    def __init__(self, name, store, registry, exec_handler=None, faults=None, host="127.0.0.1", port=0):
        self.name = name
        self.store = store
        self.registry = registry
        self.exec_handler = exec_handler
        self.faults = faults
        self.resources = ResourceApi(store, registry)
        self._address = (host, port)
        self._httpd = None
        self._thread = None
        self.url = None         # "http://127.0.0.1:PORT" once started
        registry.watch(store)

    def start(self):
        self._httpd = _HttpServer(self._address, _Handler, self)
        host, port = self._httpd.server_address[:2]
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"apiserver-{self.name}", daemon=True)
        self._thread.start()
        return self.url

    def stop(self):
        """Stop serving: close the listening socket and every open connection."""
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._thread.join(timeout=10)
        self._httpd.server_close()
        self._httpd.close_connections()
        self._httpd = None

    def is_cut(self):
        return self.faults is not None and self.faults.is_cut()

    def wait_if_slow(self):
        if self.faults is not None:
            self.faults.wait()

    # -- routing ----------------------------------------------------------

    def discovery(self, parts):
        """The discovery document at `parts`, or None if the path is not discovery."""
        registry = self.registry
        if parts == ["version"]:
            return discovery.version_info(registry)
        if parts == ["openapi", "v2"]:
            return discovery.openapi_v2(registry)
        if parts == ["api"]:
            return discovery.api_versions(self.url.removeprefix("http://"))
        if parts == ["apis"]:
            return discovery.group_list(registry)
        if parts == ["api", "v1"]:
            return discovery.resource_list(registry, "", "v1")
        if len(parts) == 2 and parts[0] == "apis":
            document = discovery.api_group(registry, parts[1])
        elif len(parts) == 3 and parts[0] == "apis":
            document = discovery.resource_list(registry, parts[1], parts[2])
        else:
            return None
        if document is None:
            raise NotServed()
        return document

    def resource_request(self, parts, query):
        """Route a resource path to a rest.Request (NotServed if it names none)."""
        if len(parts) > 2 and parts[:2] == ["api", "v1"]:
            return route(self.registry, "", "v1", parts[2:], query)
        if len(parts) > 3 and parts[0] == "apis":
            return route(self.registry, parts[1], parts[2], parts[3:], query)
        raise NotServed()

    def exec_target(self, request, query):
        """Check an exec request as kube-apiserver does before upgrading;
        returns (container, argv)."""
        pod = self.store.get("", "pods", request.namespace, request.name)
        if pod is None:
            raise NotFound.object("", "pods", request.name)
        argv = query.get("command", [])
        if not argv:
            raise BadRequest("you must specify at least 1 command")
        if not any(websocket.flag(query, s) for s in ("stdin", "stdout", "stderr")):
            raise BadRequest("you must specify at least 1 of stdin, stdout, stderr")
        spec = pod.get("spec") or {}
        containers = [c["name"] for c in spec.get("containers") or []]
        container = _first(query, "container") or (containers[0] if len(containers) == 1 else None)
        if container is None:
            raise BadRequest(f"a container name must be specified for pod {request.name}, "
                             f"choose one of: [{' '.join(containers)}]")
        if container not in containers + [c["name"] for c in spec.get("initContainers") or []]:
            raise BadRequest(f"container {container} is not valid for pod {request.name}")
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            raise BadRequest(f"cannot exec into a container in a completed pod; current phase is {phase}")
        if phase != "Running":
            raise BadRequest(f'unable to upgrade connection: container not found ("{container}")')
        if self.exec_handler is None:
            raise ApiError(500, "InternalError", f"cluster {self.name} has no container runtime for exec")
        return container, argv

    def run_exec(self, request, container, argv):
        """Run the command (stdin is not read: None); the channel-3 status plus
        stdout and stderr bytes. An ApiError from the handler propagates and is
        answered before the upgrade, as kube-apiserver answers a missing container."""
        try:
            code, out, err = self.exec_handler(request.namespace, request.name, container, list(argv), None)
        except ApiError:
            raise
        except Exception as error:  # a runtime failure is reported on the status channel, as kubelet does
            log.exception("exec in pod %s/%s failed", request.namespace, request.name)
            return {"metadata": {}, "status": "Failure", "message": str(error), "reason": "InternalError"}, b"", b""
        return websocket.exit_status(code, argv), out or b"", err or b""


def _first(query, key, default=None):
    values = query.get(key)
    return values[0] if values else default


class _HttpServer(RefuseWhenCut, ThreadingHTTPServer):
    """ThreadingHTTPServer that remembers its connections so stop() can end
    keep-alive connections too and join their threads."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, handler, api):
        self.api = api
        self.faults = api.faults
        self._connections = {}  # socket -> thread
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        thread = threading.Thread(target=self._serve_connection, args=(request, client_address), daemon=True)
        with self._connections_lock:
            self._connections[request] = thread
        thread.start()

    def _serve_connection(self, request, client_address):
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.pop(request, None)

    def close_connections(self):
        with self._connections_lock:
            open_connections = list(self._connections.items())
        for sock, _ in open_connections:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the client
        for _, thread in open_connections:
            thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 300           # an idle keep-alive connection is closed after this
    server_version = "lab-apiserver"
    disable_nagle_algorithm = True  # headers and body are separate writes; no 40 ms delayed-ACK stalls

    def log_message(self, format, *args):  # noqa: A002 (BaseHTTPRequestHandler's signature)
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self):
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _serve(self):
        started = time.perf_counter()
        try:
            self._serve_request()
        finally:
            METRICS.add("api", self.command, time.perf_counter() - started)

    def _serve_request(self):
        api = self.server.api
        if api.is_cut():
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        api.wait_if_slow()
        url = urlsplit(self.path)
        parts = [unquote(p) for p in url.path.split("/") if p]
        query = parse_qs(url.query, keep_blank_values=True)
        try:
            body = self._read_body()
            if len(parts) == 1 and parts[0] in ("healthz", "livez", "readyz"):
                return self._send(200, b"ok", "text/plain; charset=utf-8")
            if parts == ["openapi", "v2"] and "protobuf" in self.headers.get("Accept", ""):
                payload = discovery.openapi_v2_protobuf(api.registry)
                return self._send(200, payload, discovery.OPENAPI_V2_PROTOBUF)
            document = api.discovery(parts)
            if document is not None:
                if self.command != "GET":
                    raise MethodNotAllowed("the server does not allow this method on the requested resource")
                return self._send_json(200, document)
            request = api.resource_request(parts, {k: v[0] for k, v in query.items()})
            if request.subresource == "exec" and self.command in ("GET", "POST"):
                return self._exec(api, request, query)
            code, document = api.resources.handle(self.command, request, body, self.headers.get("Content-Type"))
            if self.command == "GET" and tables.wants_table(self.headers.get("Accept")):
                objects = document["items"] if request.name is None else [document]
                document = tables.table(api.store, request.rtype, objects,
                                        _first(query, "includeObject", "Metadata"))
            self._send_json(code, document)
        except ApiError as error:
            self._send_json(error.code, error.status())
        except Exception as error:  # any bug becomes a 500 Status, as a Go panic handler would answer
            log.exception("%s %s failed", self.command, self.path)
            self._send_json(500, ApiError(500, "InternalError", f"internal error: {error}").status())

    def _read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send_json(self, code, document):
        self._send(code, json.dumps(document).encode(), "application/json")

    def _send(self, code, payload, content_type):
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _exec(self, api, request, query):
        container, argv = api.exec_target(request, query)
        if self.headers.get("Upgrade", "").lower() != "websocket" or not self.headers.get("Sec-WebSocket-Key"):
            raise BadRequest("Upgrade request required")
        protocol = websocket.choose_protocol(self.headers.get("Sec-WebSocket-Protocol"))
        if protocol is None:
            raise BadRequest(f"unable to upgrade connection: none of the offered channel protocols is "
                             f"supported ({', '.join(websocket.PROTOCOLS)})")
        status, out, err = api.run_exec(request, container, argv)
        websocket.answer(self, protocol, status, out, err, websocket.flag(query, "stdout"),
                         websocket.flag(query, "stderr"))
