"""A connection failure said in one line: which endpoint, and what went
wrong (connection refused, no answer, name not resolved, TLS), from the
exceptions urllib3 (kubernetes client), botocore (boto3) and the standard
library raise, never their own text. Preflight uses it before a run, the
step decorators (steps/steplib.py) when a target stops answering mid-run."""
from __future__ import annotations

CONNECT_TIMEOUT = 5       # seconds an endpoint gets to answer in a preflight check


class TargetUnreachable(Exception):
    """A cluster or bucket endpoint stopped answering (one line: endpoint and reason)."""


def unreachable(error: BaseException) -> str | None:
    """'<endpoint>: <reason>' when `error` is (or wraps) a connection
    failure, else None."""
    chain = list(_chain(error))
    if not any(_is_connection_error(e) for e in chain):
        return None
    endpoint = next((found for e in chain if (found := _endpoint(e))), None)
    return f"{endpoint}: {reason(error)}" if endpoint else reason(error)


def reason(error: BaseException) -> str:
    """A connection failure in words, from the exception chain's text."""
    lowered = " ".join(repr(e) for e in _chain(error)).lower()
    if "refused" in lowered:
        return "connection refused"
    if "timed out" in lowered or "timeout" in lowered:
        return f"no answer within {CONNECT_TIMEOUT} s"
    if "name or service not known" in lowered or "nodename nor servname" in lowered \
            or "temporary failure in name resolution" in lowered or "getaddrinfo" in lowered:
        return "the host name does not resolve"
    if "certificate" in lowered or "ssl" in lowered:
        return "TLS handshake failed (certificate not trusted?)"
    if "reset" in lowered or "remotedisconnected" in lowered or "connection aborted" in lowered:
        return "the connection was closed without an answer"
    return f"not reachable ({type(error).__name__})"


def _is_connection_error(error: BaseException) -> bool:
    name = type(error).__name__
    return isinstance(error, (ConnectionError, TimeoutError)) or name in (
        "MaxRetryError", "NewConnectionError", "ProtocolError", "EndpointConnectionError",
        "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError", "SSLError")


def _endpoint(error: BaseException) -> str | None:
    kwargs = getattr(error, "kwargs", None) or {}
    if kwargs.get("endpoint_url"):                  # botocore
        return kwargs["endpoint_url"]
    pool = getattr(error, "pool", None)             # urllib3
    if pool is not None and getattr(pool, "host", None):
        return f"{pool.scheme}://{pool.host}:{pool.port}"
    return None


def _chain(error: BaseException):
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        nested = getattr(error, "reason", None)
        error = error.__cause__ or error.__context__ or (nested if isinstance(nested, BaseException) else None)
