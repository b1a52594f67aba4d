"""The timed calls: /metrics through gunicorn over HTTP, and metric_buckets through psycopg."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from urllib.parse import urlencode

import psycopg
from common import Gunicorn, HttpClient, gunicorn, newest_sample
from datasets import iso

from tsmetrics.granularity import floor_to
from tsmetrics.store import buckets, catalogue

ABTEST, METRIC = "feature_a", "response_time"


def last_window(url: str, days: int) -> tuple[datetime, datetime]:
    """`days` ending with the 5-minute bucket of the newest sample: whole buckets, all filled."""
    end = floor_to(newest_sample(url), 300) + timedelta(seconds=300)
    return end - timedelta(days=days), end


def metrics_path(start: datetime, end: datetime, granularity: str, skip: int = 0) -> str:
    """The /metrics request for the benchmark series."""
    query = {"abTestName": ABTEST, "metricName": METRIC, "start": iso(start), "end": iso(end)}
    query |= {"granularity": granularity, "skip": skip, "limit": 10_000}
    return "/metrics?" + urlencode(query)


def http_call(client: HttpClient, path: str, count: int) -> Callable[[], None]:
    """One GET that must answer 200 with `count` datapoints (checked once, then timed)."""
    status, body = client.get(path)
    if status != 200 or json.loads(body)["count"] != count:
        raise RuntimeError(f"GET {path}: {status} {body[:300]!r}")

    def call() -> None:
        status, _body = client.get(path)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status}")

    return call


def direct_call(
    conn: psycopg.Connection, start: datetime, end: datetime, granularity: str
) -> tuple[Callable[[], object], int]:
    """metric_buckets on a plain connection, as the API runs it; and its bucket count."""
    abtest = catalogue.get_abtest(conn, ABTEST)
    metric = catalogue.get_metric(conn, METRIC)
    query = buckets.SeriesQuery(
        abtest=abtest,
        metric=metric,
        variant=None,
        variant_index=buckets.ALL_VARIANTS,
        granularity=granularity,
        start=int(start.timestamp()),
        end=int(end.timestamp()),
    )

    def call() -> buckets.BucketPage:
        return buckets.metric_buckets(conn, query)

    return call, len(call().datapoints)


def access(url: str, auth: str) -> tuple[dict[str, str], dict[str, str]]:
    """Server environment and request headers for the chosen authentication."""
    # Rate limits cap one client's requests per minute; a benchmark is one client.
    env = {"TSMETRICS_RATE_LIMIT_READ": "", "TSMETRICS_AUTH": "off" if auth == "off" else "on"}
    if auth == "off":
        return env, {}
    from tsmetrics.security import tokens

    with psycopg.connect(url) as conn:
        token, _record = tokens.issue(conn, f"bench-{secrets.token_hex(4)}", ["read"])
    return env, {"Authorization": f"Bearer {token}"}


@contextmanager
def serving(url: str, auth: str, label: str) -> Iterator[tuple[Gunicorn, dict[str, str]]]:
    """gunicorn on `url` with the query cache off, and the headers every request carries.

    Off, so that every timed request reads the rollups as the direct call does
    (bench_cache.py and bench_read_path.py measure the cache).
    """
    env, headers = access(url, auth)
    with gunicorn(url, label=label, env=env | {"TSMETRICS_CACHE": "off"}) as server:
        yield server, headers
