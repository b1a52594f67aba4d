"""Waiting for a condition with a deadline: the one way tests wait for something to happen."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(condition: Callable[[], object], timeout: float, what: str, step: float = 0.05):
    """Poll `condition` until it is truthy and return its value; AssertionError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} never happened within {timeout:g} s")
        time.sleep(step)


def hold(seconds: float) -> None:
    """Let `seconds` pass on purpose: a pace or a fault's duration, never a readiness wait."""
    time.sleep(max(0.0, seconds))
