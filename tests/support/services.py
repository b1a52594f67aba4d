"""Skip-or-fail for tests that need an outside service (RabbitMQ, Redis, a browser).

On a bare machine those tests skip with the reason; with
TSMETRICS_REQUIRE_SERVICES=1 (set by .ci/run) a missing service fails them,
so CI can never pass by skipping.
"""

from __future__ import annotations

import os
import socket

import pytest

REQUIRE_ENV = "TSMETRICS_REQUIRE_SERVICES"


def services_required() -> bool:
    """True when missing services must fail tests instead of skipping them."""
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0", "false", "no")


def require_service(available: bool, reason: str) -> None:
    """Skip (or fail, under TSMETRICS_REQUIRE_SERVICES=1) when a service is missing."""
    if available:
        return
    if services_required():
        pytest.fail(f"{reason} ({REQUIRE_ENV} is set, so this is a failure, not a skip)")
    pytest.skip(reason)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
