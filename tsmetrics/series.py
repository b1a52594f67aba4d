"""The read service: one metric of one A/B test, for GET /metrics and every dashboard chart.

`read_series` resolves what a caller asks for (names, variants, granularity,
range) once, into frozen `SeriesQuery` values, and hands them to the query
cache, which reads the rollups with one store query when it must. The JSON API
answers the body it returns; a chart embeds the same body's datapoints, one
line per variant: the numbers they show come from one computation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import psycopg

from tsmetrics import cache, retention
from tsmetrics import granularity as gran
from tsmetrics.cache.bodies import Answer
from tsmetrics.errors import Invalid, UnknownName
from tsmetrics.lookups import require_abtest_metric_and_horizons
from tsmetrics.store import horizons
from tsmetrics.store.buckets import ALL_VARIANTS, SeriesQuery
from tsmetrics.store.catalogue import ABTest, Metric
from tsmetrics.store.horizons import Horizon

__all__ = [
    "SeriesAsk",
    "SeriesLine",
    "SeriesQuery",
    "SeriesRead",
    "following_page",
    "read_series",
]


@dataclass(frozen=True)
class SeriesAsk:
    """What a caller asks for, by name: GET /metrics's arguments, or one chart of a view."""

    # By name, or as the caller already looked them up (a page needs its test first).
    abtest: str | ABTest
    metric: str | Metric
    start: datetime
    end: datetime
    granularity: str = "5m"  # or "auto"
    variants: tuple[str | None, ...] = (None,)  # a line each; None is every variant combined
    skip: int = 0
    limit: int = 10_000
    auto_max_buckets: int = 1000
    max_buckets: int | None = None  # read nothing when the range holds more buckets
    quantiles: tuple[str, ...] = ()  # percentiles per bucket, by name (distribution metrics)
    # The retention horizons, when the caller read them already (a page of charts
    # reads them once); None: read with the names, or on their own.
    horizons: Mapping[str, Horizon] | None = None


@dataclass(frozen=True)
class SeriesLine:
    """One variant's line: what it resolved to, and its /metrics body."""

    query: SeriesQuery
    answer: Answer

    @property
    def variant(self) -> str | None:
        """The variant's name (None: every variant combined)."""
        return self.query.variant


@dataclass(frozen=True)
class SeriesRead:
    """What an ask resolved to, and a line per variant asked (none past `max_buckets`)."""

    abtest: ABTest
    metric: Metric
    granularity: str
    bucket_count: int
    lines: tuple[SeriesLine, ...]


def read_series(conn: psycopg.Connection, ask: SeriesAsk) -> SeriesRead:
    """Resolve the ask once, then read each variant's page through the query cache.

    UnknownName (a 404 naming the field) for an unknown A/B test, metric or variant;
    Invalid (400) for percentiles of a metric that keeps no distribution.
    """
    query = _resolve(conn, ask)
    queries = [_with_variant(query, variant) for variant in ask.variants]
    read = SeriesRead(query.abtest, query.metric, query.granularity, query.bucket_count, ())
    if not queries or (ask.max_buckets is not None and query.bucket_count > ask.max_buckets):
        return read
    answers = cache.current().answers(conn, queries)
    return replace(read, lines=tuple(map(SeriesLine, queries, answers)))


def following_page(
    ask: SeriesAsk, read: SeriesRead, last_t: int | None, taken: int, wanted: int | None
) -> SeriesAsk | None:
    """The ask for the page after `read` of one variant, or None when no bucket is left to read.

    `read` answered `ask`; its page ended at the bucket starting `last_t` (None:
    it was empty), `taken` buckets have been read so far and `wanted` is the most
    to read (None: every bucket of the range). The next page starts at the next
    bucket (an index range, however deep the export, where `skip` would re-read
    every bucket before it), with the names and granularity the first resolved.
    """
    full = bool(read.lines) and read.lines[0].answer.count == ask.limit
    left = ask.limit if wanted is None else wanted - taken
    if last_t is None or not full or left <= 0:
        return None
    start = last_t + gran.GRANULARITIES[read.granularity]
    if start >= ask.end.timestamp():
        return None
    return replace(
        ask,
        abtest=read.abtest,
        metric=read.metric,
        granularity=read.granularity,
        start=datetime.fromtimestamp(start, UTC),
        skip=0,
        limit=min(ask.limit, left),
    )


def _resolve(conn: psycopg.Connection, ask: SeriesAsk) -> SeriesQuery:
    """The names looked up (one statement), the granularity chosen and the range aligned."""
    abtest, metric, kept = _names(conn, ask)
    if ask.quantiles and not metric.distribution:
        raise Invalid(
            "quantiles",
            f"Metric {metric.name!r} keeps no distribution (its catalogue entry has"
            " distribution: false), so it has no percentiles; set distribution to true"
            " (PATCH /metrics/catalogue/{name}) to keep them for samples stored from then on.",
        )
    dropped = {kind: h.dropped_before for kind, h in kept.items()}
    granularity = gran.resolve(ask.granularity, ask.start, ask.end, ask.auto_max_buckets, dropped)
    retention.require_kept(granularity, ask.start, kept)
    seconds = gran.GRANULARITIES[granularity]
    start = math.floor(ask.start.timestamp())
    return SeriesQuery(
        abtest=abtest,
        metric=metric,
        variant=None,
        variant_index=ALL_VARIANTS,
        granularity=granularity,
        start=start - start % seconds,
        # Bucket starts are whole seconds: t < 10.5 is t < 11.
        end=math.ceil(ask.end.timestamp()),
        skip=ask.skip,
        limit=ask.limit,
        quantiles=ask.quantiles,
    )


def _names(
    conn: psycopg.Connection, ask: SeriesAsk
) -> tuple[ABTest, Metric, Mapping[str, Horizon]]:
    """The A/B test, metric and horizons: one statement unless the caller has them."""
    if isinstance(ask.abtest, ABTest) and isinstance(ask.metric, Metric):
        kept = ask.horizons if ask.horizons is not None else horizons.read_horizons(conn)
        return ask.abtest, ask.metric, kept
    abtest = ask.abtest.name if isinstance(ask.abtest, ABTest) else ask.abtest
    metric = ask.metric.name if isinstance(ask.metric, Metric) else ask.metric
    return require_abtest_metric_and_horizons(conn, abtest, metric)


def _with_variant(query: SeriesQuery, variant: str | None) -> SeriesQuery:
    """The query for one variant by name (None: every variant combined), or UnknownName."""
    if variant is None:
        return query
    position = query.abtest.variant_index(variant)
    if position is None:
        raise UnknownName(
            "variant",
            f"A/B test {query.abtest.name!r} has no variant {variant!r} "
            f"(it has {', '.join(query.abtest.variants)}).",
        )
    return replace(query, variant=variant, variant_index=position)
