"""The read path's round trips: every message the app sends PostgreSQL per request, counted exactly.

libpq traces each connection the app's pool hands out (PQtrace, the protocol
as sent), so nothing the code does can escape the count: a statement is an
Execute message, named by the text it was parsed from; transaction control is
a simple-protocol Query message. The pool's own liveness check (an empty query
before it hands a connection out) is left out: it is the pool's, not the request's.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import psycopg
import pytest
from psycopg import pq

from tests.support.helpers import at, small_app, store

BASE = "/metrics?abTestName=feature_a&metricName=response_time"
PAST = "&start=2025-11-09T00:00:00Z&end=2025-11-10T00:00:00Z&granularity=1h"
CHART = "/dashboard/abtests/feature_a/charts/response_time"
CHART_VIEW = "?range=custom&start=2025-11-09T00:00:00Z&end=2025-11-10T00:00:00Z&granularity=1h"
# What each statement is, from its text.
KINDS = {
    "LEFT JOIN abtests a ON a.name": "catalogue",
    "FROM abtests WHERE name": "abtest",
    "FROM metrics WHERE name": "metric",
    "FROM metrics WHERE": "metrics",
    "FROM series s JOIN metrics": "overview",
    "FROM cache_versions": "stamps",
    "FROM rollups": "buckets",
    "FROM guardrail_states": "guardrails",
    "FROM data_horizons": "horizons",  # on its own; the catalogue statement carries them too
}
# One message per line, except that a statement's newlines are written as they are.
_NEXT_MESSAGE = re.compile(r"\n(?=[FB]\t\d+\t)")
_MESSAGE = re.compile(r"^F\t\d+\t(?P<type>\w+)\t (?P<args>.*)$", re.S)
_PARSE = re.compile(r'^"(?P<name>[^"]*)" "(?P<text>.*)" \d+', re.S)
_BIND = re.compile(r'^"[^"]*" "(?P<name>[^"]*)"')
_QUERY = re.compile(r'^"(?P<text>.*)"$')


class Sent:
    """What the app's connections sent PostgreSQL, from libpq's trace of each of them."""

    def __init__(self, pool, folder: Path, monkeypatch) -> None:
        self.folder, self.traced, self.read_to = folder, {}, {}
        # Per connection, statement name -> text ("" is the unnamed statement).
        self.statements: dict[int, dict[str, str]] = {}
        handed_out = pool.getconn

        def getconn(timeout=None):
            conn = handed_out(timeout)
            if id(conn) not in self.traced:
                self._trace(conn)
            return conn

        monkeypatch.setattr(pool, "getconn", getconn)

    def _trace(self, conn: psycopg.Connection) -> None:
        path = self.folder / f"conn-{len(self.traced)}.trace"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        self.traced[id(conn)] = (conn, path, fd)
        self.read_to[id(conn)] = 0
        self.statements[id(conn)] = {}
        conn.pgconn.trace(fd)
        conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)

    def since_last(self) -> list[str]:
        """Every statement and command sent since the last call, by kind, in order."""
        sent = []
        for key, (conn, path, fd) in self.traced.items():
            conn.pgconn.untrace()  # flushes libpq's buffer; tracing resumes below
            data = path.read_bytes()
            new, self.read_to[key] = data[self.read_to[key] :], len(data)
            conn.pgconn.trace(fd)
            conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
            sent += self._kinds(_NEXT_MESSAGE.split(new.decode()), self.statements[key])
        return sent

    @staticmethod
    def _kinds(messages: list[str], statements: dict[str, str]) -> list[str]:
        kinds, bound = [], ""
        for text in messages:
            message = _MESSAGE.match(text.rstrip("\n"))
            if message is None:
                continue  # a message from the server
            kind, args = message["type"], message["args"]
            if kind == "Parse":
                parsed = _PARSE.match(args)
                statements[parsed["name"]] = parsed["text"]
            elif kind == "Bind":
                bound = statements[_BIND.match(args)["name"]]
            elif kind == "Execute":
                kinds.append(_kind(bound))
            elif kind == "Query" and _QUERY.match(args)["text"]:
                kinds.append(_kind(_QUERY.match(args)["text"]))
        return kinds

    def close(self) -> None:
        """Stop tracing."""
        for conn, _path, fd in self.traced.values():
            if not conn.closed:
                conn.pgconn.untrace()
            os.close(fd)


def _kind(text: str) -> str:
    return next((kind for marker, kind in KINDS.items() if marker in text), text)


def _sent(app, tmp_path, monkeypatch):
    sent = Sent(app.extensions["tsmetrics.pool"], tmp_path, monkeypatch)
    return app.test_client(), sent


@pytest.fixture
def traced(app, tmp_path, monkeypatch, known):
    """A test client, and what its requests send PostgreSQL."""
    client, sent = _sent(app, tmp_path, monkeypatch)
    yield client, sent
    sent.close()


@pytest.fixture
def known(db, feature_a):
    """Samples of both variants over a past day."""
    test, metric = feature_a
    store(
        db,
        [
            (at(f"2025-11-09 {hour:02}:10:00"), float(hour + variant), test.id, metric.id, variant)
            for hour in range(24)
            for variant in (0, 1)
        ],
    )
    return test, metric


# A request's work is one transaction (BEGIN ... COMMIT) around the statements that count.
def test_uncached_metrics_is_three_statements(traced):
    client, sent = traced
    body = client.get(BASE + PAST).get_json()
    assert body["count"] == 24
    assert sent.since_last() == ["BEGIN", "catalogue", "stamps", "buckets", "COMMIT"]


def test_a_kept_body_is_two_statements(traced):
    client, sent = traced
    first = client.get(BASE + PAST)
    sent.since_last()
    again = client.get(BASE + PAST)
    assert again.data == first.data
    assert sent.since_last() == ["BEGIN", "catalogue", "stamps", "COMMIT"]
    # Another page of the same days: its body is new, its buckets are all cached.
    assert client.get(BASE + PAST + "&skip=1").get_json()["count"] == 23
    assert sent.since_last() == ["BEGIN", "catalogue", "stamps", "COMMIT"]


def test_unknown_names_stop_after_the_catalogue(traced):
    client, sent = traced
    assert client.get(BASE + PAST + "&variant=nope").status_code == 404
    assert sent.since_last() == ["BEGIN", "catalogue", "ROLLBACK"]


def test_a_chart_reads_the_stamps_once_for_all_its_lines(traced):
    client, sent = traced
    fragment = client.get(CHART + CHART_VIEW, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert fragment.get_data(as_text=True).count('"t":') == 48  # 24 buckets, 2 lines
    # Both names in one statement, the stamps once, then one bucket read per variant.
    expected = ["BEGIN", "catalogue", "stamps", "buckets", "buckets", "COMMIT"]
    assert sent.since_last() == expected
    # A line's JSON link is the same query: its body was kept by the chart.
    assert client.get(BASE + PAST + "&variant=control").get_json()["count"] == 24
    assert sent.since_last() == ["BEGIN", "catalogue", "stamps", "COMMIT"]


def test_a_page_looks_its_metrics_up_once(traced):
    client, sent = traced
    page = client.get("/dashboard/abtests/feature_a" + CHART_VIEW, headers={"HX-Request": "true"})
    assert page.status_code == 200
    expected = ["BEGIN", "abtest", "overview", "metrics", "horizons"]
    # The page also shows its raised guardrails (one statement for every metric).
    charts = ["stamps", "buckets", "buckets"]
    assert sent.since_last() == [*expected, *charts, "guardrails", "COMMIT"]


def test_without_the_cache_there_are_no_stamps(database_url, known, tmp_path, monkeypatch):
    app = small_app(database_url, CACHE="off", AUTH="off")
    client, sent = _sent(app, tmp_path, monkeypatch)
    try:
        for _ in range(2):
            assert client.get(BASE + PAST).get_json()["count"] == 24
            assert sent.since_last() == ["BEGIN", "catalogue", "buckets", "COMMIT"]
    finally:
        sent.close()
        app.extensions["tsmetrics.pool"].close()
