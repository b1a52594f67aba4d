"""Resolve a series request (names, range, granularity) and read its buckets.

The JSON API and the dashboard both call `fetch_metric_page`, so the numbers
they show come from one computation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from tsmetrics import cache
from tsmetrics import granularity as gran
from tsmetrics.store import buckets, catalog


class UnknownName(LookupError):
    """A name in the request matches nothing; `field` says which parameter."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class MetricPage:
    """One page of one series, with what the request resolved to."""

    abtest: catalog.ABTest
    metric: catalog.Metric
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
) -> tuple[catalog.ABTest, catalog.Metric, int | None]:
    """The A/B test, metric and variant position named, or UnknownName."""
    abtest = catalog.get_abtest(conn, abtest_name)
    if abtest is None:
        raise UnknownName("abTestName", f"A/B test {abtest_name!r} does not exist.")
    metric = catalog.get_metric(conn, metric_name)
    if metric is None:
        raise UnknownName("metricName", f"Metric {metric_name!r} does not exist.")
    variant_index = None
    if variant is not None:
        variant_index = abtest.variant_index(variant)
        if variant_index is None:
            raise UnknownName(
                "variant",
                f"A/B test {abtest.name!r} has no variant {variant!r} "
                f"(it has {', '.join(abtest.variants)}).",
            )
    return abtest, metric, variant_index


def fetch_metric_page(
    conn: psycopg.Connection,
    *,
    abtest_name: str,
    metric_name: str,
    variant: str | None = None,
    **window: Any,
) -> MetricPage:
    """Buckets of one series over [start, end), start floored to the granularity.

    `window` holds fetch_resolved_page's start, end, granularity, skip, limit and
    auto_max_buckets.
    """
    abtest, metric, _ = resolve_names(conn, abtest_name, metric_name, variant)
    return fetch_resolved_page(conn, abtest=abtest, metric=metric, variant=variant, **window)


def fetch_resolved_page(
    conn: psycopg.Connection,
    *,
    abtest: catalog.ABTest,
    metric: catalog.Metric,
    start: datetime,
    end: datetime,
    granularity: str = "5m",
    variant: str | None = None,
    skip: int = 0,
    limit: int = 10_000,
    auto_max_buckets: int = 1000,
) -> MetricPage:
    """fetch_metric_page for a test and metric already looked up (a chart draws several lines)."""
    variant_index = None if variant is None else abtest.variant_index(variant)
    if variant is not None and variant_index is None:
        raise UnknownName(
            "variant",
            f"A/B test {abtest.name!r} has no variant {variant!r} "
            f"(it has {', '.join(abtest.variants)}).",
        )
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
