"""Every wait of the driver and the DMaaS layer: one polling loop with
backoff, its limit from runner.driver.timeouts, its sleeps counted (for
bench/suite.py), and one-line descriptions of the errors it saw."""
from __future__ import annotations

import json
import time

import kubernetes

from runner.driver import timeouts


class WaitTimeout(AssertionError):
    """A wait ran out of time; the message says what it waited for."""


POLL_SLEEPS = {"count": 0, "seconds": 0.0}   # what the driver's waits slept (bench/suite.py prints it)


def poll_sleep(seconds):
    """Every wait of the driver sleeps here between polls, so the time spent
    waiting is counted in one place."""
    POLL_SLEEPS["count"] += 1
    POLL_SLEEPS["seconds"] += seconds
    time.sleep(seconds)


FIRST_POLL = 0.01     # seconds before the second look; doubled up to the wait's interval


def wait_until(what, predicate, timeout="cluster_wait", interval=0.2):
    """Poll `predicate` until it returns something truthy; WaitTimeout names
    `what` and the limit (a name in runner.driver.timeouts, or seconds).
    Polls back off from FIRST_POLL to `interval`: most waits end within a
    controller's reaction time, a few last long."""
    limit, timeout = timeout, timeouts.seconds(timeout)
    deadline = time.monotonic() + timeout
    last_error = None
    pause = min(FIRST_POLL, interval)
    while True:
        try:
            value = predicate()
            if value:
                return value
        except (kubernetes.client.exceptions.ApiException, OSError) as error:
            last_error = error
        if time.monotonic() >= deadline:
            detail = f" (last error: {describe(last_error)})" if last_error else ""
            raise WaitTimeout(f"timed out after {timeout:g} s waiting for {what}{detail}{timeouts.label(limit)}")
        poll_sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, interval)


def describe(error):
    """One line for an error from the kubernetes client or anything else:
    for API errors the status and the server's message, not the headers."""
    if error is None:
        return ""
    status, body = getattr(error, "status", None), getattr(error, "body", None)
    if status and body:
        try:
            message = json.loads(body).get("message") or body
        except (ValueError, AttributeError):
            message = body
        text = f"{status} {message}"
    else:
        text = f"{type(error).__name__}: {error}"
    return " ".join(str(text).split())[:400]
