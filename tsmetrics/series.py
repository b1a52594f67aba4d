"""Resolve a series request (names, range, granularity) and read its buckets.

The JSON API and the dashboard both look the names up with `resolve_names` and
read with `fetch_resolved_page`, so the numbers they show come from one computation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from tsmetrics import cache
from tsmetrics import granularity as gran
from tsmetrics.errors import UnknownName
from tsmetrics.lookups import require_abtest, require_metric
from tsmetrics.store import buckets, catalogue


@dataclass(frozen=True)
class MetricPage:
    """One page of one series, with what the request resolved to."""

    abtest: catalogue.ABTest
    metric: catalogue.Metric
    variant: str | None
    granularity: str
    start: datetime
    end: datetime
    skip: int
    limit: int
    page: buckets.BucketPage

    def as_contract(self) -> dict:
        """The /metrics response body (datapoints stay dataclasses for orjson)."""
        return {
            "abTest": self.abtest.name,
            "metric": self.metric.name,
            "unit": self.metric.unit,
            "skip": self.skip,
            "limit": self.limit,
            "count": len(self.page.datapoints),
            "isComplete": self.page.is_complete,
            "granularity": self.granularity,
            "variant": self.variant,
            "datapoints": self.page.datapoints,
        }


def resolve_names(
    conn: psycopg.Connection, abtest_name: str, metric_name: str, variant: str | None
) -> tuple[catalogue.ABTest, catalogue.Metric, int | None]:
    """The A/B test, metric and variant position named, or UnknownName."""
    abtest = require_abtest(conn, abtest_name, field="abTestName")
    metric = require_metric(conn, metric_name, field="metricName")
    return abtest, metric, _variant_position(abtest, variant)


def _variant_position(abtest: catalogue.ABTest, variant: str | None) -> int | None:
    # None (every variant combined) when no variant is asked for.
    if variant is None:
        return None
    position = abtest.variant_index(variant)
    if position is None:
        raise UnknownName(
            "variant",
            f"A/B test {abtest.name!r} has no variant {variant!r} "
            f"(it has {', '.join(abtest.variants)}).",
        )
    return position


def fetch_resolved_page(
    conn: psycopg.Connection,
    *,
    abtest: catalogue.ABTest,
    metric: catalogue.Metric,
    start: datetime,
    end: datetime,
    granularity: str = "5m",
    variant: str | None = None,
    skip: int = 0,
    limit: int = 10_000,
    auto_max_buckets: int = 1000,
) -> MetricPage:
    """Buckets of one series over [start, end), start floored to the granularity.

    For a test and metric already looked up (`resolve_names`): /metrics looks
    them up once for its cache key and the read, a chart once for all its lines.
    """
    variant_index = _variant_position(abtest, variant)
    resolved = gran.resolve(granularity, start, end, auto_max_buckets)
    floored = gran.floor_to(start, gran.GRANULARITIES[resolved])
    # Through the query cache: the same page, validated against the database.
    page = cache.metric_buckets(
        conn,
        abtest_id=abtest.id,
        metric_id=metric.id,
        granularity=resolved,
        start=floored,
        end=end,
        variant=variant_index,
        skip=skip,
        limit=limit,
    )
    return MetricPage(abtest, metric, variant, resolved, floored, end, skip, limit, page)
