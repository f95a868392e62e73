"""The server side of the exec websocket (RFC 6455) as the kubelet speaks
it through kube-apiserver: channel-prefixed binary frames, one connection
per command, closed by the server after the status frame."""
import base64
import hashlib
import json
import struct

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# Channel protocols we answer, in our order of preference. v4 and v5 frame
# stdout/stderr/status the same way; v5 only adds a close-channel signal.
PROTOCOLS = ("v4.channel.k8s.io", "v5.channel.k8s.io")
STDOUT, STDERR, STATUS = 1, 2, 3
OPCODE_BINARY, OPCODE_CLOSE = 0x2, 0x8


def accept_key(key):
    return base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()


def choose_protocol(offered_header):
    """The channel protocol to answer with, or None if none is acceptable."""
    offered = [p.strip() for p in (offered_header or "").split(",")]
    return next((p for p in PROTOCOLS if p in offered), None)


def frame(payload, opcode=OPCODE_BINARY):
    """One final, unmasked frame (servers never mask)."""
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, length)
    return header + payload


def channel_frames(channel, data, chunk=1 << 20):
    """Frames carrying `data` on a channel, in chunks as a stream would arrive."""
    return [frame(bytes([channel]) + data[i:i + chunk]) for i in range(0, len(data), chunk)]


def exit_status(exit_code, argv):
    """The channel-3 status the kubelet sends when the command ends."""
    if exit_code == 0:
        return {"metadata": {}, "status": "Success"}
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: error executing command "
                       f"[{' '.join(argv)}], exit code {exit_code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(exit_code)}]}}


def status_frame(status):
    return frame(bytes([STATUS]) + json.dumps(status).encode())


def close_frame(code=1000):
    return frame(struct.pack("!H", code), OPCODE_CLOSE)


def read_frame(stream):
    """(opcode, payload) of the next client frame, or None at end of stream."""
    head = stream.read(2)
    if len(head) < 2:
        return None
    opcode, length = head[0] & 0x0F, head[1] & 0x7F
    if length == 126:
        length = struct.unpack("!H", stream.read(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", stream.read(8))[0]
    mask = stream.read(4) if head[1] & 0x80 else b""
    payload = stream.read(length)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return opcode, payload


def flag(query, key):
    """A boolean exec query parameter (`stdout=1`, `output=true`) of a parse_qs dict."""
    values = query.get(key)
    return str(values[0] if values else "").lower() in ("1", "true", "yes")


def answer(handler, protocol, status, out, err, stdout=True, stderr=True):
    """Answer an exec upgrade on a BaseHTTPRequestHandler as kubelet does:
    101, the output on its channels, the status, close; then read the
    client's frames until its close answer (bounded wait), so the client
    never writes into a reset connection."""
    handler.send_response(101)
    handler.send_header("Upgrade", "websocket")
    handler.send_header("Connection", "Upgrade")
    handler.send_header("Sec-WebSocket-Accept", accept_key(handler.headers["Sec-WebSocket-Key"]))
    handler.send_header("Sec-WebSocket-Protocol", protocol)
    handler.end_headers()
    handler.close_connection = True
    frames = (channel_frames(STDOUT, out or b"") if stdout else []) + \
        (channel_frames(STDERR, err or b"") if stderr else [])
    handler.wfile.write(b"".join(frames) + status_frame(status) + close_frame())
    handler.wfile.flush()
    handler.connection.settimeout(5)
    try:
        while (received := read_frame(handler.rfile)) is not None and received[0] != OPCODE_CLOSE:
            pass
    except OSError:
        pass
