"""Results over time: each treatment's cumulative lift and its interval, bucket by bucket.

Staff read it to see when a result settled and to spot novelty effects (a
lift that fades). Point k holds everything from the window's start to the end
of bucket k, so the last point is the comparison of the whole window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction

import psycopg

from tsmetrics import granularity as gran
from tsmetrics.analysis import compare, stats
from tsmetrics.store import catalogue, totals

MAX_POINTS = 1000  # per series: each point is a Welch test with two t quantiles
AUTO_POINTS = 200  # `auto` picks the finest granularity with at most this many


class TooManyPoints(ValueError):
    """The granularity would give more than MAX_POINTS buckets."""


@dataclass(frozen=True)
class TimelinePoint:
    """The comparison of all data up to `t` (a bucket end, epoch seconds)."""

    t: int
    control_count: int
    treatment_count: int
    welch: stats.Welch | None
    refusal: str | None


@dataclass(frozen=True)
class TreatmentTimeline:
    """The cumulative comparison of one treatment against control."""

    variant: str
    points: list[TimelinePoint]


@dataclass(frozen=True)
class MetricTimeline:
    """Every treatment's cumulative comparison for one metric."""

    metric: catalogue.Metric
    treatments: list[TreatmentTimeline]


@dataclass(frozen=True)
class Timeline:
    """Results over time for several metrics of one A/B test."""

    abtest: catalogue.ABTest
    granularity: str
    start: datetime
    end: datetime
    alpha: float
    metrics: list[MetricTimeline]


def _window(low: int, high: int, granularity: str) -> tuple[str, int, int]:
    at = [datetime.fromtimestamp(x, UTC) for x in (low, high)]
    resolved = gran.resolve(granularity, *at, AUTO_POINTS)
    seconds = gran.GRANULARITIES[resolved]
    low, high = low // seconds * seconds, -(-high // seconds) * seconds
    if (high - low) // seconds > MAX_POINTS:
        raise TooManyPoints(
            f"granularity {resolved} gives {(high - low) // seconds} points over this window;"
            f" at most {MAX_POINTS}: choose a coarser one or `auto`."
        )
    return resolved, low, high


def _point(t: int, control: stats.Moments, treatment: stats.Moments, names, alpha):
    why = compare.refusal(names[0], control, names[1], treatment)
    result = None
    if why is None:
        result = stats.welch(control, treatment, alpha)
    return TimelinePoint(t, control.n, treatment.n, result, why)


def _metric_timeline(abtest, metric, rows, seconds, alpha) -> MetricTimeline:
    count = len(abtest.variants)
    running = [[0, Fraction(0), Fraction(0)] for _ in range(count)]
    points: list[list[TimelinePoint]] = [[] for _ in range(count)]
    by_bucket: dict[int, list[totals.BucketTotals]] = {}
    for row in rows:
        if row.metric_id == metric.id:
            by_bucket.setdefault(row.bucket, []).append(row)
    for bucket, bucket_rows in sorted(by_bucket.items()):
        for row in bucket_rows:
            # Fractions: Decimal addition would round at 28 digits.
            sums = running[row.variant]
            sums[0] += row.n
            sums[1] += Fraction(row.total)
            sums[2] += Fraction(row.total_sq)
        moments = [stats.Moments(n, total, sq) for n, total, sq in running]
        for position in range(1, count):
            names = (abtest.variants[0], abtest.variants[position])
            point = _point(bucket + seconds, moments[0], moments[position], names, alpha)
            points[position].append(point)
    treatments = [TreatmentTimeline(abtest.variants[p], points[p]) for p in range(1, count)]
    return MetricTimeline(metric, treatments)


def timeline(
    conn: psycopg.Connection,
    *,
    abtest_name: str,
    metric_names: list[str],
    start: datetime | None = None,
    end: datetime | None = None,
    granularity: str = gran.AUTO,
    alpha: float = stats.ALPHA,
) -> Timeline:
    """Cumulative comparisons at the end of every bucket that has samples.

    The window is that of `compare.compare`, widened to whole buckets.
    """
    abtest = compare.resolve_abtest(conn, abtest_name)
    metrics = compare.resolve_metrics(conn, abtest, metric_names)
    resolved, low, high = _window(*compare.resolve_window(conn, abtest, start, end), granularity)
    seconds = gran.GRANULARITIES[resolved]
    rows = totals.bucket_totals(
        conn,
        abtest_id=abtest.id,
        metric_ids=[m.id for m in metrics],
        variants=len(abtest.variants),
        seconds=seconds,
        start=low,
        end=high,
    )
    return Timeline(
        abtest=abtest,
        granularity=resolved,
        start=datetime.fromtimestamp(low, UTC),
        end=datetime.fromtimestamp(high, UTC),
        alpha=alpha,
        metrics=[_metric_timeline(abtest, m, rows, seconds, alpha) for m in metrics],
    )
