"""Security under the real server: `gunicorn wsgi:app -c gunicorn.conf.py`, as production runs it.

Body limits, the addresses gunicorn really listens on with authentication off,
and which peers may say a request came over HTTPS.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import orjson
import pytest

from tests.reliability.servers import Gunicorn
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
