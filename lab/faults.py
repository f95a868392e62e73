"""Cut / slow switches for one lab server (an API server or an S3 endpoint).

A switch is either server-wide (key None) or for one key (an S3 bucket).
Servers ask `is_cut(key)` / `delay(key)` per request; socketserver-based
servers can mix in `RefuseWhenCut` so a cut server closes every new
connection without answering, which the clients see as a connection error.
"""
import threading
import time


class Faults:
    """Thread-safe fault state of one server."""

    def __init__(self):
        self._lock = threading.Lock()
        self._cut = set()       # keys that are cut; None = the whole server
        self._delays = {}       # key -> seconds each request waits

    def cut(self, key=None):
        with self._lock:
            self._cut.add(key)

    def slow(self, delay, key=None):
        if delay is None or delay < 0:
            raise ValueError("delay must be a number of seconds >= 0")
        with self._lock:
            self._delays[key] = float(delay)

    def restore(self, key=None):
        """Undo cut and slow for `key` (None: the server-wide switches)."""
        with self._lock:
            self._cut.discard(key)
            self._delays.pop(key, None)

    def is_cut(self, key=None):
        with self._lock:
            return None in self._cut or (key is not None and key in self._cut)

    def delay(self, key=None):
        with self._lock:
            return max(self._delays.get(None, 0.0),
                       self._delays.get(key, 0.0) if key is not None else 0.0)

    def wait(self, key=None):
        """Sleep the configured real delay (slow fault)."""
        seconds = self.delay(key)
        if seconds:
            time.sleep(seconds)

    def snapshot(self):
        with self._lock:
            return {"cut": sorted("*" if k is None else k for k in self._cut),
                    "slow": {("*" if k is None else k): v for k, v in self._delays.items()}}


class RefuseWhenCut:
    """socketserver mixin: while `self.faults` is cut server-wide, close each
    new connection before reading it (socketserver calls verify_request)."""

    faults = None

    def verify_request(self, request, client_address):
        return not (self.faults is not None and self.faults.is_cut())
