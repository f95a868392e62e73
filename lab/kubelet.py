"""A kubelet's exec endpoint for a real API server: the real stack's pods/exec.

    python -m lab.kubelet --kubeconfig K --node-dir D --port P --cert C --key K

kube-apiserver answers `pods/exec` by forwarding the client's upgrade to the
kubelet of the pod's node, https://<InternalIP>:<kubeletEndpoint port>
/exec/<namespace>/<pod>/<container>?command=...&stdout=1&stderr=1. The real
stack runs kube-apiserver with TranslateStreamCloseWebsocketRequests off, so
the client's WebSocket reaches the kubelet as it did before Kubernetes 1.30
(with it on, the API server would speak SPDY to the kubelet instead); this
process answers it as a kubelet does, with the lab's pod runtime
(lab/runtime.py): no container runs, the command runs on this machine with
the pod's volume mounts mapped onto the node's volume directories
(D/volumes/<pv>, where the real stack's node provisions them), exactly as
pods/exec does on a lab cluster. Pods, claims, config maps and secrets are
read from the real API server with the node's kubeconfig.

It does not authenticate the API server (a kubelet would check its client
certificate) and serves nothing but exec and /healthz: logs, attach and
port-forward answer 404.
"""
import argparse
import json
import logging
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from lab.apiserver import websocket
from lab.apiserver.errors import ApiError
from lab.runtime import PodRuntime

log = logging.getLogger("lab.kubelet")
_READERS = {          # (group, plural) the runtime reads -> CoreV1Api method
    ("", "pods"): "read_namespaced_pod",
    ("", "persistentvolumeclaims"): "read_namespaced_persistent_volume_claim",
    ("", "configmaps"): "read_namespaced_config_map",
    ("", "secrets"): "read_namespaced_secret",
}


class ApiObjects:
    """The part of a lab store the pod runtime uses, over a real API server."""

    def __init__(self, kubeconfig):
        from kubernetes import client, config
        self.core = client.CoreV1Api(config.new_client_from_config(str(kubeconfig)))

    def get(self, group, plural, namespace, name):
        from kubernetes.client.rest import ApiException
        try:
            reply = getattr(self.core, _READERS[(group, plural)])(name, namespace, _preload_content=False)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        obj = json.loads(reply.data)
        obj.setdefault("kind", {"secrets": "Secret", "configmaps": "ConfigMap"}.get(plural, ""))
        return obj

    def add_listener(self, _listener):
        """The runtime's cleanup of deleted pods' scratch dirs: the node's
        directory goes with the stack instead."""


class Node:
    """What PodRuntime needs of a cluster: its objects and the node directory."""

    def __init__(self, kubeconfig, node_dir):
        self.store = ApiObjects(kubeconfig)
        self.node_dir = Path(node_dir)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    runtime = None          # set by serve()

    def log_message(self, fmt, *args):
        log.info("%s %s", self.address_string(), fmt % args)

    def do_GET(self):
        self._route()

    def do_POST(self):
        self._route()

    def _route(self):
        url = urlsplit(self.path)
        parts = [p for p in url.path.split("/") if p]
        if parts == ["healthz"]:
            body = b"ok"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if len(parts) != 4 or parts[0] != "exec":
            return self._status(404, "NotFound", f"{url.path}: this kubelet serves exec only")
        _, namespace, pod, container = parts
        query = parse_qs(url.query)
        argv = query.get("command", [])
        if not argv:
            return self._status(400, "BadRequest", "you must specify at least 1 command")
        if self.headers.get("Upgrade", "").lower() != "websocket" or not self.headers.get("Sec-WebSocket-Key"):
            return self._status(400, "BadRequest", "Upgrade request required (WebSocket; this kubelet "
                                                   "speaks no SPDY)")
        protocol = websocket.choose_protocol(self.headers.get("Sec-WebSocket-Protocol"))
        if protocol is None:
            return self._status(400, "BadRequest", "none of the offered channel protocols is supported "
                                                   f"({', '.join(websocket.PROTOCOLS)})")
        try:
            code, out, err = self.runtime(namespace, pod, container, list(argv))
            status = websocket.exit_status(code, argv)
        except ApiError as error:
            return self._status(error.code, error.reason, error.message)
        except Exception as error:  # noqa: BLE001 -- reported on the status channel, as kubelet does
            log.exception("exec in pod %s/%s failed", namespace, pod)
            status, out, err = {"metadata": {}, "status": "Failure", "message": str(error),
                                "reason": "InternalError"}, b"", b""
        # the API server passes stdout/stderr on as the kubelet's output/error
        websocket.answer(self, protocol, status, out, err,
                         websocket.flag(query, "output") or websocket.flag(query, "stdout"),
                         websocket.flag(query, "error") or websocket.flag(query, "stderr"))

    def _status(self, code, reason, message):
        body = json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                           "message": message, "reason": reason, "code": code}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve(kubeconfig, node_dir, port, cert, key):
    Handler.runtime = PodRuntime(Node(kubeconfig, node_dir))
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    log.info("kubelet exec endpoint on https://127.0.0.1:%d", port)
    server.serve_forever()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m lab.kubelet")
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--node-dir", required=True)
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        stream=sys.stderr)
    serve(args.kubeconfig, args.node_dir, args.port, args.cert, args.key)


if __name__ == "__main__":
    main()
