"""The circuit breaker on its own: open on a failed attempt, one prober, closed by a success."""

from __future__ import annotations

import threading
import time

import pytest

from tsmetrics.breaker import Breaker, DatabaseUnavailable


class Database:
    """A stand-in for the database's reachability, counting the probes."""

    def __init__(self) -> None:
        self.up = False
        self.probes = 0

    def probe(self) -> None:
        self.probes += 1
        if not self.up:
            raise ConnectionRefusedError("refused")


def _wait(condition, limit: float = 2.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "not within the deadline"
        time.sleep(0.005)


def _probers() -> int:
    return sum(thread.name == "breaker-test" for thread in threading.enumerate())


def test_a_failed_attempt_opens_until_a_probe_gets_through():
    database = Database()
    recovered = threading.Event()
    breaker = Breaker("test", database.probe, interval=0.01, on_recovery=recovered.set)
    breaker.check()  # closed: nothing raised
    breaker.attempt_failed(time.monotonic(), ConnectionRefusedError())
    with pytest.raises(DatabaseUnavailable, match="refused connections"):
        breaker.check()
    _wait(lambda: database.probes >= 3)
    assert breaker.is_open and _probers() == 1
    database.up = True
    assert recovered.wait(2.0)
    breaker.check()
    _wait(lambda: _probers() == 0)


def test_many_failures_start_one_prober():
    database = Database()
    breaker = Breaker("test", database.probe, interval=0.01)
    try:
        for _ in range(50):
            breaker.attempt_failed(time.monotonic(), ConnectionRefusedError())
        assert _probers() == 1
    finally:
        breaker.close()
    _wait(lambda: _probers() == 0)


def test_an_attempt_begun_before_the_recovery_does_not_reopen_it():
    database = Database()
    breaker = Breaker("test", database.probe, interval=0.01)
    began = time.monotonic()
    breaker.attempt_failed(began, ConnectionRefusedError())
    breaker.attempt_succeeded()  # e.g. the pool connected meanwhile
    breaker.attempt_failed(began, ConnectionRefusedError())  # a slow, older attempt
    assert not breaker.is_open
    breaker.attempt_failed(time.monotonic(), ConnectionRefusedError())
    assert breaker.is_open
    breaker.close()
