"""Run a command in a network namespace of its own, with chosen host ports
forwarded into it.

    python -m runner.realstack.netns --forward PORT [--forward PORT...] -- CMD...

Why: velero server and node-agent each start a controller-runtime metrics
listener on the fixed address :8080 (Velero 1.16 has no flag for it), so two
clusters' worth of them cannot share one network. In its own namespace each
has a private :8080; what it must reach on the host (the API server, the S3
endpoints on 127.0.0.1) is forwarded: this process binds 127.0.0.1:PORT
inside the namespace, then returns to the host namespace, so every connection
it accepts inside is relayed to 127.0.0.1:PORT outside.

The command runs as our child and is killed if we die (PR_SET_PDEATHSIG), so
stopping this process (its pid is the one recorded) stops both. Needs root
(CAP_SYS_ADMIN), as the node-agent's mount namespace does.
"""
from __future__ import annotations

import argparse
import ctypes
import fcntl
import os
import signal
import socket
import struct
import subprocess
import sys
import threading

CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def _check(result):
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))


def _loopback_up():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        flags = struct.unpack("16sH", fcntl.ioctl(s, SIOCGIFFLAGS, struct.pack("16sH", b"lo", 0))[:18])[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH", b"lo", flags | IFF_UP))


def _pump(source, sink):
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _relay(inside, port):
    try:
        outside = socket.create_connection(("127.0.0.1", port))   # created in the host namespace
    except OSError:
        inside.close()
        return
    threading.Thread(target=_pump, args=(inside, outside), daemon=True).start()
    threading.Thread(target=_pump, args=(outside, inside), daemon=True).start()


def _serve(listener, port):
    while True:
        inside, _ = listener.accept()
        _relay(inside, port)


def _die_with_parent():
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m runner.realstack.netns")
    parser.add_argument("--forward", type=int, action="append", default=[], metavar="PORT")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    host = os.open("/proc/self/ns/net", os.O_RDONLY)
    _check(_libc.unshare(CLONE_NEWNET))     # single-threaded still: the whole process moves
    _loopback_up()
    listeners = []
    for port in args.forward:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(64)
        listeners.append((listener, port))
    child = subprocess.Popen(command, preexec_fn=_die_with_parent)     # inherits the new namespace
    _check(_libc.setns(host, CLONE_NEWNET))     # back home: sockets made from now on are the host's
    os.close(host)
    for listener, port in listeners:
        threading.Thread(target=_serve, args=(listener, port), daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: child.terminate())
    signal.signal(signal.SIGINT, lambda *_: child.terminate())
    sys.exit(child.wait())


if __name__ == "__main__":
    main()
