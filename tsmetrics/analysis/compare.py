"""A/B analysis: each treatment against control per metric, and the sample ratio check.

The JSON API and the dashboard both call `compare` and render its result, so
both show numbers from one computation. Unit `sample` metrics come from the
rollups' exact count, sum and sum of squares, unit `time` ones from the paired
bucket means (tsmetrics.store.totals); the inference (tsmetrics.analysis.design)
is the request's or the test's own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import psycopg

from tsmetrics import cache
from tsmetrics.analysis import design, judging, quantile_compare, stats
from tsmetrics.lookups import require_abtest, require_metric
from tsmetrics.store import catalogue, plans, series, totals


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
    unrepresentable: bool = False  # some number above is None for lying beyond a float


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
    comparisons: list[judging.Comparison]
    mde_relative: float | None = None  # the test's plan for this metric (read with plans)
    quantiles: quantile_compare.MetricQuantiles | None = None  # when asked, for distributions


@dataclass(frozen=True)
class ComparisonReport:
    """The comparison of an A/B test's variants over one window, for several metrics."""

    abtest: catalogue.ABTest
    start: datetime
    end: datetime
    correction: str
    alpha: float
    inference: str
    metrics: list[MetricComparison]
    quantiles: bool = False  # asked for: every metric says its quantiles (or null)

    @property
    def family_size(self) -> int:
        """How many p-values the correction adjusted together (means and quantiles)."""
        return sum(1 for m in self.metrics for c in _tested(m) if c.result is not None)

    @property
    def validity(self) -> str:
        """What the numbers may be trusted for, in words."""
        return design.validity(self.inference, self.abtest)

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
    Where retention dropped the 1-minute rollups, widened to whole buckets of
    the finest granularity kept there (tsmetrics.store.totals.kept_window), so
    the totals stay exact for the window shown.
    """
    end = end or abtest.ended_at or now or datetime.now(UTC)
    if start is None:
        # The series are read only for a test that was never started.
        start = abtest.started_at or min(
            (s.first_time for s in series.list_series(conn, abtest.id)), default=end
        )
    low = math.floor(start.timestamp() / totals.MINUTE) * totals.MINUTE
    high = math.ceil(end.timestamp() / totals.MINUTE) * totals.MINUTE
    return totals.kept_window(low, max(low, high), totals.dropped_before(conn))


def unit_width(conn: psycopg.Connection, abtest: catalogue.ABTest, low: int) -> int:
    """The unit `time`'s bucket width: the plan's, or the finest coarser one retention kept."""
    width = design.unit_seconds(abtest, datetime.fromtimestamp(low, UTC))
    return totals.finest_kept(low, totals.dropped_before(conn), width) or width


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
    # Samples near the float range (stored before the accepted range existed) can
    # put a sum or a spread beyond double precision: that number is None, and
    # `unrepresentable` says why, instead of failing the whole comparison.
    total = stats.to_float(moments.total) if counter else None
    summary = VariantSummary(
        name=name,
        count=moments.n,
        mean=stats.to_float(moments.mean),
        sd=stats.sqrt(moments.variance) if several else None,
        min=row.lo,
        max=row.hi,
        mean_interval=stats.mean_interval(moments) if several else None,
        total=total,
        rate_per_minute=total / minutes if total is not None and minutes else None,
    )
    lost = summary.mean is None or (several and None in (summary.sd, summary.mean_interval))
    lost = lost or (counter and total is None)
    return replace(summary, unrepresentable=True) if lost else summary


def _compare_metric(window, metric, totals, paired, mde) -> MetricComparison:
    abtest = window.abtest
    rows = [totals.get((metric.id, position)) for position in range(len(abtest.variants))]
    moments = [
        stats.Moments.from_sums(r.n, r.total, r.total_sq) if r else stats.Moments.from_sums(0, 0, 0)
        for r in rows
    ]
    minutes = window.seconds / 60
    variants = [
        _summary(name, metric, row, m, minutes)
        for name, row, m in zip(abtest.variants, rows, moments, strict=True)
    ]
    comparisons = [
        judging.judge(
            window,
            metric,
            position,
            moments,
            judging.paired(paired.get((metric.id, position))),
            mde,
        )
        for position in range(1, len(abtest.variants))
    ]
    observed = [m.n for m in moments]
    if sum(observed):
        weights = abtest.expected_split or [1.0] * len(observed)
        ratio = SampleRatio(observed, stats.chi_squared(observed, weights))
    else:
        ratio = SampleRatio(observed, None, "no samples in the window")
    return MetricComparison(metric, variants, ratio, comparisons, mde)


def _tested(m: MetricComparison) -> list[judging.Comparison]:
    """Every comparison of a metric: its means', then its quantiles'."""
    quantiles = m.quantiles.comparisons if m.quantiles is not None else []
    return [*m.comparisons, *(c.comparison for c in quantiles)]


def _apply_correction(
    metrics: list[MetricComparison], correction: str, alpha: float
) -> list[MetricComparison]:
    # One family: every p-value of the response, means' and quantiles' alike.
    tested = [c for m in metrics for c in _tested(m) if c.result is not None]
    adjusted = dict(
        zip(
            map(id, tested),
            stats.adjust([c.result.p_value for c in tested], correction),
            strict=True,
        )
    )

    def judged(c: judging.Comparison, better: bool) -> judging.Comparison:
        if c.result is None:
            return c
        p = adjusted[id(c)]
        return replace(c, verdict=stats.verdict(c.result.lift, p, better, alpha), adjusted_p=p)

    result = []
    for m in metrics:
        better = m.metric.higher_is_better
        quantiles = m.quantiles
        if quantiles is not None:
            rows = [
                replace(c, comparison=judged(c.comparison, better)) for c in quantiles.comparisons
            ]
            quantiles = replace(quantiles, comparisons=rows)
        comparisons = [judged(c, better) for c in m.comparisons]
        result.append(replace(m, comparisons=comparisons, quantiles=quantiles))
    return result


def paired_means(
    conn: psycopg.Connection, window: judging.Window, metrics: list[catalogue.Metric]
) -> dict[tuple[int, int], totals.PairedMinuteMeans]:
    """The paired bucket means of the unit `time` metrics, by (metric id, treatment position)."""
    timed = [m.id for m in metrics if m.analysis_unit == "time"]
    first, last = window.paired_range()
    if not timed or first >= last:
        return {}
    rows = totals.paired_minute_means(
        conn,
        abtest_id=window.abtest.id,
        metric_ids=timed,
        variants=len(window.abtest.variants),
        start=first,
        end=last,
        seconds=window.width,
    )
    return {(r.metric_id, r.variant): r for r in rows}


def compare(
    conn: psycopg.Connection,
    *,
    abtest_name: str,
    metric_names: list[str],
    start: datetime | None = None,
    end: datetime | None = None,
    correction: str = "none",
    alpha: float = stats.ALPHA,
    inference: str | None = None,
    with_plans: bool = False,
    quantiles: list[float] | None = None,
) -> ComparisonReport:
    """Every treatment against control for each metric over [start, end), whole minutes.

    `inference` defaults to the test's own; `with_plans` adds each comparison's plan;
    `quantiles` (fractions) adds them for distribution metrics (Invalid for a metric
    named without distributions).
    """
    abtest = resolve_abtest(conn, abtest_name)
    metrics = resolve_metrics(conn, abtest, metric_names)
    distributions = quantile_compare.distributions(metrics, bool(metric_names), quantiles or [])
    low, high = resolve_window(conn, abtest, start, end)
    chosen = design.choose(abtest, inference)
    width = unit_width(conn, abtest, low)
    window = judging.Window(abtest, chosen, alpha, low, high, width, with_plans)
    # Through the query cache: the same rows, validated against the database.
    rows = cache.variant_totals(
        conn,
        abtest_id=abtest.id,
        metric_ids=[m.id for m in metrics],
        variants=len(abtest.variants),
        start=low,
        end=high,
    )
    totals_by = {(r.metric_id, r.variant): r for r in rows}
    paired = paired_means(conn, window, metrics)
    mdes = {}
    if with_plans:
        mdes = {p.metric_id: p.mde_relative for p in plans.metric_plans(conn, abtest.id)}
    compared = [_compare_metric(window, m, totals_by, paired, mdes.get(m.id)) for m in metrics]
    reads = quantile_compare.read_sketches(conn, window, distributions)
    for index, m in enumerate(compared):
        if m.metric in distributions:
            positions = range(len(abtest.variants))
            found = [reads.get((m.metric.id, position)) for position in positions]
            analysed = quantile_compare.compare_quantiles(window, m.metric, found, quantiles)
            compared[index] = replace(m, quantiles=analysed)
    return ComparisonReport(
        abtest=abtest,
        start=datetime.fromtimestamp(low, UTC),
        end=datetime.fromtimestamp(high, UTC),
        correction=correction,
        alpha=alpha,
        inference=chosen,
        metrics=_apply_correction(compared, correction, alpha),
        quantiles=bool(quantiles),
    )
