"""A/B analysis: each treatment against control per metric, and the sample ratio check.

The JSON API and the dashboard both call `compare` and render its result, so
both show numbers from one computation. Everything comes from the rollups'
exact count, sum and sum of squares (tsmetrics.store.totals).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from tsmetrics import cache
from tsmetrics.analysis import stats
from tsmetrics.lookups import require_abtest, require_metric
from tsmetrics.store import catalogue, series, totals


@dataclass(frozen=True)
class VariantSummary:
    """One variant's samples of one metric in the window; None where undefined."""

    name: str
    count: int
    mean: float | None
    sd: float | None
    min: float | None
    max: float | None
    mean_interval: stats.Interval | None
    total: float | None  # counters only: the sum, and the sum per minute of the window
    rate_per_minute: float | None


@dataclass(frozen=True)
class Comparison:
    """One treatment against control: Welch's test, or the reason there is none."""

    variant: str
    verdict: str
    welch: stats.Welch | None = None
    adjusted_p: float | None = None
    refusal: str | None = None


@dataclass(frozen=True)
class SampleRatio:
    """The chi-squared test of the sample counts against the expected split."""

    observed: list[int]
    test: stats.ChiSquared | None
    refusal: str | None = None

    @property
    def flagged(self) -> bool:
        """True when the counts are implausible under the expected split (p < 0.001)."""
        return self.test is not None and self.test.p_value < stats.SRM_THRESHOLD


@dataclass(frozen=True)
class MetricComparison:
    """Every variant of one metric, the sample ratio check and each treatment's comparison."""

    metric: catalogue.Metric
    variants: list[VariantSummary]
    sample_ratio: SampleRatio
    comparisons: list[Comparison]


@dataclass(frozen=True)
class ComparisonReport:
    """The comparison of an A/B test's variants over one window, for several metrics."""

    abtest: catalogue.ABTest
    start: datetime
    end: datetime
    correction: str
    alpha: float
    metrics: list[MetricComparison]

    @property
    def family_size(self) -> int:
        """How many p-values the correction adjusted together."""
        return sum(1 for m in self.metrics for c in m.comparisons if c.welch is not None)

    @property
    def srm_flagged(self) -> list[str]:
        """Names of the metrics whose sample counts show a sample ratio mismatch."""
        return [m.metric.name for m in self.metrics if m.sample_ratio.flagged]


def resolve_window(
    conn: psycopg.Connection,
    abtest: catalogue.ABTest,
    start: datetime | None,
    end: datetime | None,
    now: datetime | None = None,
) -> tuple[int, int]:
    """[start, end) widened to whole minutes, in epoch seconds.

    By default from the test's start (or its first sample) to its end (or now).
    """
    end = end or abtest.ended_at or now or datetime.now(UTC)
    if start is None:
        # The series are read only for a test that was never started.
        start = abtest.started_at or min(
            (s.first_time for s in series.list_series(conn, abtest.id)), default=end
        )
    low = math.floor(start.timestamp() / totals.MINUTE) * totals.MINUTE
    high = math.ceil(end.timestamp() / totals.MINUTE) * totals.MINUTE
    return low, max(low, high)


def resolve_abtest(conn: psycopg.Connection, name: str) -> catalogue.ABTest:
    """The A/B test called `name`; else UnknownName."""
    return require_abtest(conn, name)


def resolve_metrics(
    conn: psycopg.Connection, abtest: catalogue.ABTest, names: list[str]
) -> list[catalogue.Metric]:
    """The metrics named (in order, once each), or every metric with samples; else UnknownName."""
    names = list(dict.fromkeys(names)) or series.abtest_overview(conn, abtest.id).metric_names
    found = []
    for name in names:
        found.append(require_metric(conn, name, field="metric"))
    return found


def _summary(
    name: str, metric: catalogue.Metric, row, moments: stats.Moments, minutes: float
) -> VariantSummary:
    if row is None:
        return VariantSummary(name, 0, None, None, None, None, None, None, None)
    several = moments.n >= 2
    counter = metric.kind == "sum"
    return VariantSummary(
        name=name,
        count=moments.n,
        mean=float(moments.mean),
        sd=math.sqrt(moments.variance) if several else None,
        min=row.lo,
        max=row.hi,
        mean_interval=stats.mean_interval(moments) if several else None,
        total=float(moments.total) if counter else None,
        rate_per_minute=float(moments.total) / minutes if counter and minutes else None,
    )


def refusal(control: str, c: stats.Moments, treatment: str, t: stats.Moments) -> str | None:
    """Why Welch's test cannot compare these two variants, or None when it can."""
    if c.n == 0 and t.n == 0:
        return "no samples in the window"
    for name, moments in ((control, c), (treatment, t)):
        if moments.n < 2:
            return f"fewer than 2 samples in {name}"
    if c.variance == 0 and t.variance == 0:
        return "zero variance in both variants"
    return None


def _welch(control: stats.Moments, treatment: stats.Moments, alpha: float) -> stats.Welch | None:
    result = stats.welch(control, treatment, alpha)
    numbers = [result.lift, result.t, result.df, result.p_value]
    numbers += [result.lift_interval.low, result.lift_interval.high]
    # Samples near the float range could overflow; JSON must never carry NaN.
    return result if all(math.isfinite(x) for x in numbers) else None


def _compare_metric(abtest, metric, totals, minutes, alpha) -> MetricComparison:
    rows = [totals.get((metric.id, position)) for position in range(len(abtest.variants))]
    moments = [
        stats.Moments.from_sums(r.n, r.total, r.total_sq) if r else stats.Moments.from_sums(0, 0, 0)
        for r in rows
    ]
    variants = [
        _summary(name, metric, row, m, minutes)
        for name, row, m in zip(abtest.variants, rows, moments, strict=True)
    ]
    comparisons = []
    for position in range(1, len(abtest.variants)):
        name = abtest.variants[position]
        why = refusal(abtest.variants[0], moments[0], name, moments[position])
        result = None if why else _welch(moments[0], moments[position], alpha)
        if why is None and result is None:
            why = "the numbers are beyond double precision"
        comparisons.append(Comparison(name, "inconclusive", result, refusal=why))
    observed = [m.n for m in moments]
    if sum(observed):
        weights = abtest.expected_split or [1.0] * len(observed)
        ratio = SampleRatio(observed, stats.chi_squared(observed, weights))
    else:
        ratio = SampleRatio(observed, None, "no samples in the window")
    return MetricComparison(metric, variants, ratio, comparisons)


def _apply_correction(
    metrics: list[MetricComparison], correction: str, alpha: float
) -> list[MetricComparison]:
    tested = [(m, c) for m in metrics for c in m.comparisons if c.welch is not None]
    adjusted = stats.adjust([c.welch.p_value for _, c in tested], correction)
    by_id = {id(c): p for (_, c), p in zip(tested, adjusted, strict=True)}
    result = []
    for m in metrics:
        comparisons = []
        for c in m.comparisons:
            if c.welch is None:
                comparisons.append(c)
                continue
            p = by_id[id(c)]
            better = m.metric.higher_is_better
            comparisons.append(
                Comparison(c.variant, stats.verdict(c.welch.lift, p, better, alpha), c.welch, p)
            )
        result.append(MetricComparison(m.metric, m.variants, m.sample_ratio, comparisons))
    return result


def compare(
    conn: psycopg.Connection,
    *,
    abtest_name: str,
    metric_names: list[str],
    start: datetime | None = None,
    end: datetime | None = None,
    correction: str = "none",
    alpha: float = stats.ALPHA,
) -> ComparisonReport:
    """Every treatment against control for each metric over [start, end), whole minutes."""
    abtest = resolve_abtest(conn, abtest_name)
    metrics = resolve_metrics(conn, abtest, metric_names)
    low, high = resolve_window(conn, abtest, start, end)
    # Through the query cache: the same rows, validated against the database.
    rows = cache.variant_totals(
        conn,
        abtest_id=abtest.id,
        metric_ids=[m.id for m in metrics],
        variants=len(abtest.variants),
        start=low,
        end=high,
    )
    totals = {(r.metric_id, r.variant): r for r in rows}
    minutes = (high - low) / 60
    compared = [_compare_metric(abtest, m, totals, minutes, alpha) for m in metrics]
    return ComparisonReport(
        abtest=abtest,
        start=datetime.fromtimestamp(low, UTC),
        end=datetime.fromtimestamp(high, UTC),
        correction=correction,
        alpha=alpha,
        metrics=_apply_correction(compared, correction, alpha),
    )
