"""Security under the real server: `gunicorn wsgi:app -c gunicorn.conf.py`, as production runs it.

Body limits, the addresses gunicorn really listens on with authentication off,
and which peers may say a request came over HTTPS. Binding to a public address
is tried only with authentication off, where the server must refuse to start:
no test sends traffic to any address but 127.0.0.1.
"""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

from tests.reliability.servers import ROOT, Gunicorn, free_port
from tests.security.helpers import PROBLEM, SECRET_KEY
from tests.security.raw_http import chunked, exchange
from tsmetrics.store import catalogue

pytestmark = pytest.mark.slow
PRODUCTION = {"AUTH": "on", "ENV": "production", "SECRET_KEY": SECRET_KEY}
BOUNDARY = "----tsmetrics-test-boundary"
NOW = int(time.time()) // 60 * 60 - 120


@pytest.fixture
def serve(tmp_path, database_url, auth_db) -> Iterator[Callable[..., Gunicorn]]:
    """Start gunicorn on the test database with these settings; stopped afterwards."""
    started: list[Gunicorn] = []

    def start(**settings: object) -> Gunicorn:
        server = Gunicorn(tmp_path / f"gunicorn-{len(started)}.log", **settings)
        server.env["TSMETRICS_DATABASE_URL"] = database_url
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


def _multipart_head() -> bytes:
    return (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="upload"; filename="big.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()


def _post_head(path: str, *, length: int | None, content_type: str, **headers: str) -> str:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Type: {content_type}"]
    framing = "Transfer-Encoding: chunked" if length is None else f"Content-Length: {length}"
    lines.append(framing)
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return "\r\n".join(lines) + "\r\n\r\n"


@pytest.mark.parametrize("path", ["/login", "/logout"])
def test_a_200_mb_anonymous_upload_is_413_before_it_is_read(serve, path):
    """Issue 14: 200 MB to /login or /logout was spooled to /tmp before the CSRF check."""
    server = serve(**PRODUCTION)
    head = _post_head(
        path, length=200_000_000, content_type=f"multipart/form-data; boundary={BOUNDARY}"
    )
    # 16 KiB of the announced 200 MB; more only while the server has not answered.
    parts = [_multipart_head() + b"x" * 16_384] + [b"x" * 65_536] * 3000
    response = exchange(server.port, head, parts)
    assert response.status == 413
    assert response.sent_body_bytes < 10_000_000


@pytest.mark.parametrize("path", ["/login", "/logout"])
def test_a_chunked_anonymous_upload_is_413_once_past_the_limit(serve, path):
    server = serve(**PRODUCTION)
    head = _post_head(path, length=None, content_type=f"multipart/form-data; boundary={BOUNDARY}")
    parts = chunked([_multipart_head(), *[b"x" * 16_384] * 12_000])  # up to ~200 MB, never ended
    response = exchange(server.port, head, parts)
    assert response.status == 413
    assert response.sent_body_bytes < 10_000_000


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_an_ingest_body_over_the_limit_is_413_and_stores_nothing(
    serve, auth_db, make_token, framing
):
    """Issue 14: a chunked /ingest body was cut at the limit and stored when the cut was JSON."""
    auth_db.execute("TRUNCATE samples, rollups, series, abtests, metrics, ingested_batches CASCADE")
    catalogue.ensure_abtest(auth_db, "feature_a", variants=["control", "treatment"])
    catalogue.ensure_metric(auth_db, "response_time", unit="ms")
    server = serve(**PRODUCTION, MAX_MESSAGE_BYTES=2000)
    sample = {"metric": "response_time", "value": 1.5, "time": NOW}
    doc = {"abTest": "feature_a", "variant": "control", "samples": [sample]}
    body = orjson.dumps(doc).ljust(2000) + b" " * 3000  # valid JSON for its first 2,000 bytes
    token = {"Authorization": f"Bearer {make_token('ingest')}"}
    if framing == "chunked":
        head = _post_head("/ingest", length=None, content_type="application/json", **token)
        parts = [*chunked([body[:1000], body[1000:]]), b"0\r\n\r\n"]
    else:
        head = _post_head("/ingest", length=len(body), content_type="application/json", **token)
        parts = [body]
    response = exchange(server.port, head, parts)
    assert response.status == 413, response.body
    assert response.headers["content-type"] == PROBLEM
    assert "2,000 bytes" in orjson.loads(response.body)["errors"]["body"][0]
    assert auth_db.execute("SELECT count(*) FROM samples").fetchone()[0] == 0


def _get(server: Gunicorn, path: str, **headers: str) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


@pytest.mark.parametrize(
    ("trusted", "believed"),
    [("", False), ("10.0.0.0/8", False), ("127.0.0.1", True), ("10.0.0.5, 127.0.0.0/8", True)],
    ids=["none", "elsewhere", "loopback", "list"],
)
def test_only_trusted_proxies_can_say_a_request_came_over_https(serve, trusted, believed):
    """Issue 14: gunicorn believed X-Forwarded-Proto from 127.0.0.1 whatever the setting said."""
    server = serve(**PRODUCTION, TRUSTED_PROXIES=trusted)
    forwarded = {"X-Forwarded-Proto": "https"}
    hsts = _get(server, "/openapi.json", **forwarded).getheader("Strict-Transport-Security")
    cookie = _get(server, "/login", **forwarded).getheader("Set-Cookie") or ""
    assert (hsts is not None) == believed
    assert ("Secure" in cookie) == believed
    assert _get(server, "/openapi.json").getheader("Strict-Transport-Security") is None


def _refused_start(tmp_path, database_url, args: list[str], **env: str) -> tuple[int, str]:
    """Start gunicorn with authentication off; it must exit by itself. (exit code, its log)."""
    log_path = tmp_path / "refused.log"
    environment = {
        **os.environ,
        "TSMETRICS_DATABASE_URL": database_url,
        "TSMETRICS_AUTH": "off",
        "TSMETRICS_ENV": "development",
        "TSMETRICS_BIND": f"127.0.0.1:{free_port()}",  # what the old check trusted
        "TSMETRICS_WORKERS": "1",
        **env,
    }
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [gunicorn, "wsgi:app", "-c", "gunicorn.conf.py", *args],
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            code = process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
    return code, log_path.read_text()


def _machine_address() -> str | None:
    """A non-loopback IPv4 address of this machine (never sent any traffic), if it has one."""
    try:
        output = subprocess.run(
            ["hostname", "-I"], capture_output=True, text=True, timeout=5, check=False
        ).stdout
    except OSError:
        return None
    for item in output.split():
        if "." in item and not item.startswith("127."):
            return item
    return None


def _binds(kind: str) -> list[str]:
    port = free_port()
    if kind == "machine":
        address = _machine_address()
        if address is None:
            pytest.skip("this machine has no non-loopback IPv4 address")
        return ["-b", f"{address}:{port}"]  # issue 14: gunicorn -b 192.0.2.2:5403
    if kind == "loopback-and-any":
        return ["-b", f"127.0.0.1:{port}", "-b", f"0.0.0.0:{free_port()}"]
    return ["-b", f"{kind}:{port}"]


@pytest.mark.parametrize("kind", ["0.0.0.0", "[::]", "machine", "loopback-and-any"])  # noqa: S104
def test_auth_off_refuses_to_serve_on_an_address_other_machines_reach(tmp_path, database_url, kind):
    """Issue 14: the guard read TSMETRICS_BIND, so `gunicorn -b` could serve unauthenticated."""
    code, log = _refused_start(tmp_path, database_url, _binds(kind))
    assert code != 0, log
    assert "TSMETRICS_AUTH=off is refused" in log
    assert "Booting worker" not in log


def test_auth_off_refuses_a_public_bind_from_gunicorn_cmd_args(tmp_path, database_url):
    code, log = _refused_start(
        tmp_path, database_url, [], GUNICORN_CMD_ARGS=f"--bind 0.0.0.0:{free_port()}"
    )
    assert code != 0 and "TSMETRICS_AUTH=off is refused" in log, log


def test_auth_off_refuses_public_sockets_each_worker_opens(tmp_path, database_url):
    """With reuse_port each worker opens its own sockets: the worker checks them too."""
    code, log = _refused_start(
        tmp_path, database_url, ["--reuse-port", "-b", f"0.0.0.0:{free_port()}"]
    )
    assert code != 0, log
    assert "TSMETRICS_AUTH=off is refused" in log


def test_auth_off_still_serves_on_loopback(serve):
    server = serve(AUTH="off", ENV="development")
    assert _get(server, "/healthz").status == 200


def test_tsmetrics_serve_believes_forwarded_https_only_from_trusted_proxies(tmp_path, database_url):
    """`tsmetrics serve` builds its gunicorn options in code: the same rules must hold there."""
    server = Gunicorn(tmp_path / "serve.log", **PRODUCTION, DATABASE_URL=database_url)
    command = [sys.executable, "-m", "tsmetrics.cli", "serve", "--bind", f"127.0.0.1:{server.port}"]
    with server.log_path.open("wb") as log:
        server.process = subprocess.Popen(
            command, cwd=ROOT, env=server.env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.process.poll() is None, server.log_path.read_text()
            try:
                if _get(server, "/healthz").status == 200:
                    break
            except OSError:
                assert time.monotonic() < deadline, server.log_path.read_text()
                time.sleep(0.1)
        forwarded = _get(server, "/openapi.json", **{"X-Forwarded-Proto": "https"})
        assert forwarded.getheader("Strict-Transport-Security") is None
    finally:
        server.stop()


def _raw(port: int, head: str) -> tuple[int, dict[str, str], dict]:
    answer = exchange(port, head, [])
    assert answer.headers["content-type"] == PROBLEM, answer
    return answer.status, answer.headers, orjson.loads(answer.body)


def test_gunicorns_own_refusals_are_problem_json(serve):
    # Refused by gunicorn's parser before the app sees them: a bad request line,
    # a request line over limit_request_line (4,094), a header over
    # limit_request_field_size (8,190) and more than limit_request_fields (100).
    port = serve(**PRODUCTION).port
    cases = [
        ("GET /healthz HTTP/1.1 extra\r\nHost: x\r\n\r\n", 400),
        (f"GET /healthz?{'a' * 5000} HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (f"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {'b' * 9000}\r\n\r\n", 431),
        ("GET /healthz HTTP/1.1\r\nHost: x\r\n" + "X-N: 1\r\n" * 120 + "\r\n", 431),
    ]
    for head, expected in cases:
        status, headers, body = _raw(port, head)
        assert status == expected == body["status"], (head[:60], body)
        assert body["title"] and body["detail"] and body["type"] == "about:blank"
        assert headers["x-content-type-options"] == "nosniff"
    # The app's own answers are untouched by the worker class.
    status, _, body = _raw(port, "GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == 404 == body["status"]
