"""A webhook receiver on 127.0.0.1 for the alert tests: records every POST, can fail or be down."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest


def wait_until(check: Callable[[], bool], timeout: float, what: str, step: float = 0.02) -> None:
    """Poll `check` until true; fail saying `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Received:
    """One POST as it arrived, and the status it was answered with."""

    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    status: int

    def header(self, name: str) -> str | None:
        """A header's value, whatever the case of its name."""
        return self.headers.get(name.lower())

    @property
    def json(self) -> dict:
        """The body, parsed."""
        return orjson.loads(self.body)


class Receiver:
    """An HTTP server in a thread answering `status`; stopped, it refuses connections."""

    def __init__(self) -> None:
        self.port = free_port()
        self.status = 200
        self.delay = 0.0  # seconds each answer takes: a slow receiver
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        """Where to POST (a path with a token in it, as chat webhooks have)."""
        return f"http://127.0.0.1:{self.port}/hooks/T0KEN-in-path"

    def start(self) -> None:
        """Listen (again, on the same port)."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                time.sleep(receiver.delay)
                status = receiver.status
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver.lock:
                    receiver.received.append(Received(self.path, headers, body, status))
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Stop listening: connections are refused until start()."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def all(self) -> list[Received]:
        """Every POST so far, in arrival order."""
        with self.lock:
            return list(self.received)

    def accepted(self) -> list[Received]:
        """The POSTs answered 2xx: the alerts delivered."""
        return [r for r in self.all() if 200 <= r.status < 300]
