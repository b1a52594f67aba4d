"""HTTP/1.1 over a bare socket, for requests no client library sends: bodies that never end."""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass
class RawResponse:
    """What came back, and how much of the request body had been sent by then."""

    status: int
    headers: dict[str, str]
    body: bytes
    sent_body_bytes: int
    elapsed: float = field(default=0.0)


def chunked(parts: Iterable[bytes]) -> Iterable[bytes]:
    """Each part as one chunk of Transfer-Encoding: chunked (no final chunk)."""
    for part in parts:
        yield f"{len(part):x}\r\n".encode() + part + b"\r\n"


def exchange(
    port: int,
    head: str,
    body: Iterable[bytes],
    *,
    timeout: float = 20.0,
) -> RawResponse:
    """Send `head`, then body parts until the server answers; read the answer.

    The body is abandoned as soon as a response arrives (or the server stops
    reading), so a server that answers early is never fed the rest.
    """
    started = time.monotonic()
    deadline = started + timeout
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head.encode("latin-1"))
        for part in body:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(part)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(part)
        raw = _read_response(sock, deadline)
    status, headers, content = _parse(raw)
    return RawResponse(status, headers, content, sent, time.monotonic() - started)


def _read_response(sock: socket.socket, deadline: float) -> bytes:
    data = b""
    while time.monotonic() < deadline:
        if b"\r\n\r\n" in data:
            head, _, rest = data.partition(b"\r\n\r\n")
            length = _content_length(head)
            if length is not None and len(rest) >= length:
                return data
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            break
        if not chunk:
            break
        data += chunk
    return data


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return None


def _parse(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, content = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines or not lines[0].startswith("HTTP/"):
        raise AssertionError(f"no HTTP response: {raw[:200]!r}")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, content
