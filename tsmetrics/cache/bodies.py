"""HTTP caching for GET /metrics: bodies by version stamp, ETags, 304s, max-age by freshness.

A body is kept under a key made of everything it shows (names, unit, variant,
granularity, range, page) and the version stamps of the days it covers, read
before it is rendered: a repeated request is answered without reading a bucket,
serialising or hashing, and any write to those days changes the key (cache.py).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
from flask import Response, current_app, request

from tsmetrics import cache
from tsmetrics import granularity as gran
from tsmetrics.series import MetricPage, resolve_names
from tsmetrics.store import catalogue
from tsmetrics.store.cache_versions import read_stamps

# Bodies count against the local cache's budget of buckets at about this size each.
_BYTES_PER_POINT = 250


@dataclass(frozen=True)
class Answer:
    """A rendered body, its ETag, and whether its range reaches now."""

    body: bytes
    etag: str
    live: bool

    @property
    def weight(self) -> int:
        """Its share of the local cache's budget."""
        return len(self.body) // _BYTES_PER_POINT


def render(page: MetricPage) -> Answer:
    """The /metrics body of a page (orjson writes the datapoint dataclasses directly)."""
    body = orjson.dumps(page.as_contract())
    live = cache.is_live(page.end.timestamp(), page.granularity)
    return Answer(body, hashlib.sha1(body, usedforsecurity=False).hexdigest(), live)


def _key(
    conn: psycopg.Connection,
    args: dict[str, Any],
    resolved: str,
    abtest: catalogue.ABTest,
    metric: catalogue.Metric,
) -> str:
    """Everything the body shows, and the version stamps of its days, hashed."""
    seconds = gran.GRANULARITIES[resolved]
    start = int(gran.floor_to(args["start"], seconds).timestamp())
    end = max(start, math.ceil(args["end"].timestamp()))
    stamps = read_stamps(conn, abtest_id=abtest.id, metric_ids=[metric.id], start=start, end=end)
    shown = [abtest.id, abtest.name, metric.id, metric.name, metric.unit, args.get("variant")]
    shown += [resolved, start, end, args["skip"], args["limit"]]
    shown += [stamps.epoch, stamps.of(start, end)]
    return "m:" + hashlib.sha1(orjson.dumps(shown), usedforsecurity=False).hexdigest()


def metrics_answer(
    conn: psycopg.Connection,
    args: dict[str, Any],
    auto_max_buckets: int,
    fetch: Callable[[catalogue.ABTest, catalogue.Metric], MetricPage],
) -> Answer:
    """The body for these /metrics arguments: cached while its days are unchanged, else fetched.

    The names are looked up once here, for the key and for `fetch(abtest, metric)`.
    """
    abtest, metric, _ = resolve_names(
        conn, args["abTestName"], args["metricName"], args.get("variant")
    )
    query_cache = cache.current()
    resolved = gran.resolve(args["granularity"], args["start"], args["end"], auto_max_buckets)
    # A range reaching now ends at a new second with each request and changes
    # with each write: its body is not worth keeping (its chunks still are).
    if query_cache is None or cache.is_live(args["end"].timestamp(), resolved):
        return render(fetch(abtest, metric))
    key = _key(conn, args, resolved, abtest, metric)
    (found,) = query_cache.lookup("bodies", [key], [False], _decode)
    if found is not None:
        return found
    answer = render(fetch(abtest, metric))
    query_cache.store([(key, answer, False)], _encode)
    return answer


def _encode(answer: Answer) -> bytes:
    return f"{answer.etag} {int(answer.live)}\n".encode() + answer.body


def _decode(data: bytes) -> Answer:
    head, body = data.split(b"\n", 1)
    etag, live = head.decode().split(" ")
    return Answer(body, etag, live == "1")


def conditional_json(answer: Answer) -> Response:
    """The answer as JSON with its strong ETag, or 304 when the client has that ETag.

    Cache-Control is `private` (answers depend on the caller's token) with a
    max-age of HTTP_MAX_AGE_LIVE for ranges reaching now, else HTTP_MAX_AGE_PAST.
    """
    settings = current_app.config["TSMETRICS"]
    response = Response(answer.body, mimetype="application/json")
    response.set_etag(answer.etag)
    response.cache_control.private = True
    response.cache_control.max_age = settings[
        "HTTP_MAX_AGE_LIVE" if answer.live else "HTTP_MAX_AGE_PAST"
    ]
    return response.make_conditional(request)
