"""gunicorn's worker, with the errors gunicorn answers itself as application/problem+json.

A request gunicorn cannot parse (a bad request line: 400, a request line over
`limit_request_line`: 414, too many or too large headers: 431) never reaches
the app, and gunicorn answers it with a text/html page of its own. Every other
error of the API is problem+json (tsmetrics.problems), so these are too.

gunicorn writes those pages through one function, `gunicorn.util.write_error`,
called with the status, the reason and the message; `ProblemWorker` replaces it
in its own process only (after the fork, never in the arbiter), so everything
else gunicorn decides (which status, what it logs) stays gunicorn's.
"""

from __future__ import annotations

import socket
from typing import Any

import orjson
from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker

# What gunicorn.conf.py and `tsmetrics serve` name as gunicorn's worker_class.
WORKER_CLASS = "tsmetrics.security.server_worker.ProblemWorker"
PROBLEM_JSON = "application/problem+json"


def problem_response(status: int, reason: str, message: str) -> bytes:
    """The whole HTTP response gunicorn sends for a request it refused, as problem+json."""
    body = orjson.dumps(
        {"type": "about:blank", "title": reason, "status": status, "detail": message or reason}
    )
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        f"Content-Type: {PROBLEM_JSON}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "Cache-Control: no-store\r\n"
        "\r\n"
    )
    return head.encode("latin-1") + body


def write_problem(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn.util.write_error's replacement: the same call, a problem+json answer."""
    util.write_nonblock(sock, problem_response(status_int, reason, mesg))


class ProblemWorker(ThreadWorker):
    """gunicorn's gthread worker whose own error answers are problem+json."""

    def init_process(self) -> Any:
        """Swap the error writer in this worker process, then run as gthread does."""
        util.write_error = write_problem
        return super().init_process()
