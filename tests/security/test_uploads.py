"""Request bodies are bounded: refused with 413 before they are read, never cut and stored.

Every request but `POST /ingest` may send TSMETRICS_MAX_REQUEST_BYTES (64 KiB by
default); `/ingest` may send TSMETRICS_MAX_MESSAGE_BYTES. These tests call the
WSGI app with bodies that count how much of them the app reads, with a
Content-Length and without one (chunked: the server marks the input terminated).
"""

from __future__ import annotations

import io
import time

import orjson
import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from tests.security.helpers import PROBLEM, bearer
from tsmetrics.store import catalogue

HUGE = 200_000_000
FORM_LIMIT = 64 * 1024
BOUNDARY = "----tsmetrics-test-boundary"
NOW = int(time.time()) // 60 * 60 - 120


class CountingBody(io.RawIOBase):
    """`size` bytes (`head`, then spaces) made as they are read; `read` counts how many were."""

    def __init__(self, size: int, head: bytes = b"") -> None:
        self.size, self.head, self.read_bytes = size, head, 0

    def readable(self) -> bool:
        """A readable stream."""
        return True

    def readinto(self, buffer) -> int:
        """The next bytes of the body."""
        count = min(len(buffer), self.size - self.read_bytes)
        start = self.read_bytes
        chunk = self.head[start : start + count]
        chunk += b" " * (count - len(chunk))
        buffer[:count] = chunk
        self.read_bytes += count
        return count


def multipart_head() -> bytes:
    """The start of a multipart form whose one file field goes on and on."""
    return (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="upload"; filename="big.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()


def call(app, path: str, body: CountingBody, content_type: str, *, chunked: bool, **headers):
    """POST `body` to the app as a WSGI server would; (status, headers, body)."""
    environ = EnvironBuilder(path=path, method="POST", headers=headers).get_environ()
    environ.update({"wsgi.input": body, "CONTENT_TYPE": content_type})
    if chunked:
        # What gunicorn does for Transfer-Encoding: chunked: no length, input terminated.
        environ.pop("CONTENT_LENGTH", None)
        environ["wsgi.input_terminated"] = True
    else:
        environ["CONTENT_LENGTH"] = str(body.size)
    app_iter, status, response_headers = run_wsgi_app(app, environ, buffered=True)
    return int(status.split()[0]), response_headers, b"".join(app_iter)


@pytest.mark.parametrize("path", ["/login", "/logout"])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_anonymous_huge_form_posts_are_413_before_being_read(secure_app, path, chunked):
    body = CountingBody(HUGE, multipart_head())
    status, _, _ = call(
        secure_app, path, body, f"multipart/form-data; boundary={BOUNDARY}", chunked=chunked
    )
    assert status == 413
    # With a length the app reads nothing; without one it stops one read past the limit.
    assert body.read_bytes <= (2 * FORM_LIMIT if chunked else 0)


def test_forms_under_the_limit_are_read(secure_app):
    fields = b"username=alice&password=" + b"x" * 1000
    body = CountingBody(len(fields), fields)
    form = "application/x-www-form-urlencoded"
    status, _, _ = call(secure_app, "/login", body, form, chunked=False)
    assert status == 403  # read, then refused by the CSRF check
    assert body.read_bytes == len(fields)


def test_api_json_bodies_over_the_limit_are_413_problems(make_app, make_token):
    token = make_token("admin")
    body = CountingBody(FORM_LIMIT + 1, b'{"name": "x", "variants": ["a", "b"]}')
    status, headers, payload = call(
        make_app(), "/abtest", body, "application/json", chunked=True, **bearer(token)
    )
    assert status == 413
    assert headers["Content-Type"] == PROBLEM
    assert "65,536 bytes" in orjson.loads(payload)["detail"]


def test_the_request_limit_is_a_setting(make_app):
    app = make_app(MAX_REQUEST_BYTES=1000)
    body = CountingBody(2000, b"username=alice")
    status, _, _ = call(app, "/login", body, "application/x-www-form-urlencoded", chunked=False)
    assert status == 413 and body.read_bytes == 0


@pytest.fixture
def ingest_app(make_app, auth_db, make_token):
    """An app taking /ingest batches of at most 2,000 bytes, an ingest token, and feature_a."""
    auth_db.execute("TRUNCATE samples, rollups, series, abtests, metrics, ingested_batches CASCADE")
    catalogue.ensure_abtest(auth_db, "feature_a", variants=["control", "treatment"])
    catalogue.ensure_metric(auth_db, "response_time", unit="ms")
    return make_app(MAX_MESSAGE_BYTES=2000), bearer(make_token("ingest"))


def _batch_padded_to(size: int) -> bytes:
    sample = {"metric": "response_time", "value": 1.5, "time": NOW}
    doc = {"abTest": "feature_a", "variant": "control", "samples": [sample]}
    return orjson.dumps(doc).ljust(size)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_ingest_bodies_over_the_limit_are_413_and_store_nothing(ingest_app, auth_db, chunked):
    """Issue 14: a chunked body was cut at the limit, and stored when the cut was valid JSON."""
    app, token = ingest_app
    body = CountingBody(5000, _batch_padded_to(2000))  # valid JSON for its first 2,000 bytes
    status, headers, payload = call(
        app, "/ingest", body, "application/json", chunked=chunked, **token
    )
    assert status == 413, payload
    assert headers["Content-Type"] == PROBLEM
    problem = orjson.loads(payload)
    assert "2,000 bytes" in problem["errors"]["body"][0]
    assert auth_db.execute("SELECT count(*) FROM samples").fetchone()[0] == 0
    assert body.read_bytes <= 2001


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_ingest_bodies_of_exactly_the_limit_are_stored(ingest_app, auth_db, chunked):
    app, token = ingest_app
    body = CountingBody(2000, _batch_padded_to(2000))
    status, _, payload = call(app, "/ingest", body, "application/json", chunked=chunked, **token)
    assert status == 201, payload
    assert auth_db.execute("SELECT count(*) FROM samples").fetchone()[0] == 1
