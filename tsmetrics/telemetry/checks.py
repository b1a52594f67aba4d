"""Dependency checks for readiness, each in its own thread, answered within a deadline.

A dependency that hangs (accepts a connection, then says nothing) must not
hang the probe: every check runs in a daemon thread and the caller waits at
most `timeout` for all of them together. A check still running from an
earlier probe is reported as timed out instead of being started again, so a
hung dependency holds one thread, not one per probe.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pika
import redis
from psycopg_pool import ConnectionPool

if TYPE_CHECKING:
    from tsmetrics.db import GuardedPool

log = logging.getLogger(__name__)
Probe = Callable[[float], None]  # raises when the dependency is not usable


@dataclass
class _Run:
    began: float
    thread: threading.Thread | None = None
    error: BaseException | None = None
    ended: float | None = None


class Check:
    """One named dependency probe, never more than one run of it at a time."""

    def __init__(self, name: str, probe: Probe) -> None:
        self.name, self.probe = name, probe
        self._run: _Run | None = None
        self._lock = threading.Lock()

    def start(self, timeout: float) -> _Run:
        """The run in flight, or a new one."""
        with self._lock:
            if self._run is None or self._run.ended is not None:
                run = _Run(time.monotonic())
                run.thread = threading.Thread(
                    target=self._probe, args=(run, timeout), daemon=True, name=f"check-{self.name}"
                )
                run.thread.start()
                self._run = run
            return self._run

    def _probe(self, run: _Run, timeout: float) -> None:
        try:
            self.probe(timeout)
        except BaseException as error:  # reported to the caller, whatever it is
            run.error = error
        finally:
            run.ended = time.monotonic()


def run_checks(checks: Mapping[str, Check], timeout: float) -> dict[str, dict[str, Any]]:
    """Run every check at once; results by name, all within about `timeout` seconds."""
    runs = {name: check.start(timeout) for name, check in checks.items()}
    deadline = time.monotonic() + timeout
    for run in runs.values():
        if run.thread is not None:
            run.thread.join(max(0.0, deadline - time.monotonic()))
    return {name: _result(name, run) for name, run in runs.items()}


def _result(name: str, run: _Run) -> dict[str, Any]:
    if run.ended is None:
        return {"status": "timeout", "ms": round((time.monotonic() - run.began) * 1000, 1)}
    ms = round((run.ended - run.began) * 1000, 1)
    if run.error is None:
        return {"status": "ok", "ms": ms}
    # The body is public: the kind of error only; the details go to the log.
    log.warning("readiness: %s failed: %s", name, run.error)
    return {"status": "failed", "ms": ms, "error": type(run.error).__name__}


def database_probe(pool: ConnectionPool | GuardedPool) -> Probe:
    """A pooled connection answers SELECT 1 (at once a failure while the pool's breaker is open)."""

    def probe(timeout: float) -> None:
        with pool.connection(timeout=timeout) as conn:
            conn.execute("SELECT 1")

    return probe


def redis_probe(url: str) -> Probe:
    """Redis answers PING."""
    clients: dict[float, redis.Redis] = {}

    def probe(timeout: float) -> None:
        client = clients.get(timeout) or clients.setdefault(
            timeout,
            redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout),
        )
        client.ping()

    return probe


def broker_probe(url: str) -> Probe:
    """An AMQP connection to the broker opens (and is closed again)."""

    def probe(timeout: float) -> None:
        parameters = pika.URLParameters(url)
        parameters.socket_timeout = parameters.stack_timeout = timeout
        parameters.blocked_connection_timeout = timeout
        parameters.connection_attempts = 1
        pika.BlockingConnection(parameters).close()

    return probe
