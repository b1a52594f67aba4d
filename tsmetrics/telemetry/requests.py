"""Per request: an id (X-Request-ID, taken or made, and echoed), one log line, a latency sample.

A WSGI middleware rather than Flask hooks, so that it times and logs every
request, including those the security hooks refuse before any view runs.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from tsmetrics.telemetry.logs import REQUEST_ID
from tsmetrics.telemetry.metrics import REQUEST_SECONDS, observe_pool

log = logging.getLogger("tsmetrics.request")
HEADER = "X-Request-ID"
# A caller's id is logged as given, so only a plain token is taken: no spaces,
# quotes or control characters to forge log fields with.
_ACCEPTED_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
ROUTE_KEY = "tsmetrics.route"


def request_id(environ: dict[str, Any]) -> str:
    """The caller's X-Request-ID when it is a plain token, else a new random one."""
    given = environ.get("HTTP_X_REQUEST_ID", "")
    return given if _ACCEPTED_ID.fullmatch(given) else uuid.uuid4().hex


class RequestTelemetry:
    """WSGI middleware: request id, duration histogram by route, one JSON log line."""

    def __init__(self, wsgi_app: Callable, pool_stats: Callable[[], dict[str, int]] | None) -> None:
        self.wsgi_app = wsgi_app
        self.pool_stats = pool_stats

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        """Serve one request through the app, timing and logging it."""
        began = time.perf_counter()
        rid = request_id(environ)
        environ["tsmetrics.request_id"] = rid
        token = REQUEST_ID.set(rid)
        status: list[str] = []

        def start(status_line: str, headers: list, exc_info: Any = None) -> Callable:
            status.append(status_line)
            headers.append((HEADER, rid))
            return start_response(status_line, headers, exc_info)

        try:
            return self.wsgi_app(environ, start)
        finally:
            self._finish(environ, status[-1] if status else "500", time.perf_counter() - began)
            REQUEST_ID.reset(token)

    def _finish(self, environ: dict[str, Any], status_line: str, seconds: float) -> None:
        status = status_line.split(" ", 1)[0]
        # The route template (/abtest/<name>), never the raw path: bounded labels.
        route = environ.get(ROUTE_KEY) or "(unmatched)"
        method = environ.get("REQUEST_METHOD", "")
        REQUEST_SECONDS.labels(route, method, status).observe(seconds)
        if self.pool_stats is not None:
            observe_pool(self.pool_stats())
        log.info(
            "%s %s %s %.1f ms",
            method,
            environ.get("PATH_INFO", ""),
            status,
            seconds * 1000,
            extra={
                "method": method,
                "path": environ.get("PATH_INFO", ""),
                "route": route,
                "status": int(status) if status.isdigit() else 0,
                "duration_ms": round(seconds * 1000, 3),
                "remote_addr": environ.get("REMOTE_ADDR", ""),
            },
        )
