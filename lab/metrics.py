"""What the lab spent its time on, for `bench/suite.py` (never for tests or
the driver): counts and seconds per area (s3, api, uploader, controllers,
clock) and name, served at the control API's GET /metrics.

One process-wide instance: the lab is one process, its S3 proxies and API
servers are threads of it (versitygw runs in child processes; the proxy in
front of it sees every request)."""
import contextlib
import resource
import threading
import time


class Metrics:
    def __init__(self):
        self._lock = threading.Lock()
        self._data = {}      # (area, name) -> [count, seconds]

    def add(self, area, name, seconds=0.0, count=1):
        with self._lock:
            entry = self._data.setdefault((area, name), [0, 0.0])
            entry[0] += count
            entry[1] += seconds

    @contextlib.contextmanager
    def timed(self, area, name):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(area, name, time.perf_counter() - started)

    def snapshot(self):
        """{"areas": {area: {name: [count, seconds]}}, "peak_rss_kib": N}."""
        with self._lock:
            areas = {}
            for (area, name), (count, seconds) in self._data.items():
                areas.setdefault(area, {})[name] = [count, round(seconds, 6)]
        return {"areas": areas, "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}


METRICS = Metrics()


def s3_operation(method, bucket, key, query):
    """The S3 API operation of a path-style request (the names AWS gives them)."""
    if not bucket:
        return "ListBuckets"
    if key is None:
        if method == "GET":
            return "ListObjects" if "list-type=2" not in query else "ListObjectsV2"
        return {"HEAD": "HeadBucket", "PUT": "CreateBucket", "DELETE": "DeleteBucket",
                "POST": "DeleteObjects" if "delete" in query else "PostBucket"}.get(method, method)
    if "uploadId" in query or "uploads" in query:
        return "MultipartUpload"
    return {"GET": "GetObject", "HEAD": "HeadObject", "PUT": "PutObject",
            "DELETE": "DeleteObject"}.get(method, method)
