"""Quantiles in the A/B comparison: each variant's with its interval, each treatment's difference.

The numbers come from tsmetrics.analysis.quantile_inference over each
variant's sketch merged over the window (tsmetrics.store.window_sketches),
judged by the request's inference and tuning, as the means are
(tsmetrics.analysis.judging). What the method cannot do, it refuses in words:

- unit `time` metrics (autocorrelated gauges): the order-statistic interval
  assumes independent samples, so only the point quantiles are given;
- a window with buckets written before the metric kept distributions: the
  sketches hold fewer samples than the counts, so there are no quantiles;
- too few samples for a quantile's interval (476 for p99, 4,786 for p99.9).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import psycopg

from tsmetrics import sketches
from tsmetrics.analysis import judging, stats
from tsmetrics.analysis import quantile_inference as qi
from tsmetrics.errors import Invalid
from tsmetrics.store import catalogue
from tsmetrics.store.window_sketches import VariantSketch, variant_sketches

ASSUMPTION = (
    "Independent samples with a positive, continuous density at the quantile: the sample"
    " quantile is then asymptotically normal (Bahadur)."
)
TIME_REFUSAL = (
    "quantile intervals assume independent samples; this metric is analysed by time"
    " (autocorrelated readings)"
)
PARTIAL_REFUSAL = (
    "part of the window was written before the metric kept distributions: no percentiles"
)


def label(q: float) -> str:
    """p50, p99.9: the name of quantile q."""
    return "p" + format(Decimal(str(q)) * 100, "f").rstrip("0").rstrip(".")


@dataclass(frozen=True)
class QuantileValue:
    """One variant's quantile q; the interval is None with too few samples or unit time."""

    q: float
    value: float | None
    interval: stats.Interval | None


@dataclass(frozen=True)
class VariantQuantiles:
    """One variant's quantiles in the window."""

    name: str
    count: int
    values: list[QuantileValue]


@dataclass(frozen=True)
class QuantileComparison:
    """One treatment's quantile q against control's."""

    q: float
    comparison: judging.Comparison


@dataclass(frozen=True)
class MetricQuantiles:
    """Every variant's quantiles and each treatment's comparisons for one metric."""

    variants: list[VariantQuantiles]
    comparisons: list[QuantileComparison]
    refusal: str | None = None


@dataclass(frozen=True)
class Merged:
    """A merged sketch read at several ranks at once (its counts are summed once, not per rank).

    A rank is read within its bin (sketches.within_bins): its value, and the
    standard deviation of the exact value around that reading, from the spread of
    the i-th of m values placed evenly at random across the bin (i/(m + 1) on
    average, variance p(1 - p)/(m + 2) of the bin's width, as a Beta order statistic).
    """

    sketch: sketches.Sketch
    cumulative: np.ndarray

    @classmethod
    def of(cls, sketch: sketches.Sketch) -> Merged:
        """The sketch with its cumulative counts."""
        return cls(sketch, np.cumsum(sketch.counts))

    @property
    def count(self) -> int:
        """How many values the sketch holds."""
        return int(self.cumulative[-1]) if len(self.cumulative) else 0

    def value_at_rank(self, k: int) -> float:
        """The k-th smallest value (0-based) as read within its bin."""
        return self.values_at_ranks([k])[0]

    def values_at_ranks(self, ks: list[int]) -> list[float]:
        """The values at these ranks (0 <= k < count), read within their bins, in one pass."""
        index, position, _ = self._placed(ks)
        return sketches.within_bins(self.sketch.bins[index], position).tolist()

    def noise_at_rank(self, k: int) -> float:
        """The standard deviation of the exact k-th smallest value around its reading."""
        index, position, held = self._placed([k])
        spread = np.sqrt(position * (1 - position) / (held + 2))
        return float((sketches.bin_widths(self.sketch.bins[index]) * spread)[0])

    def _placed(self, ks: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # Each rank's bin, its position i/(m + 1) there (i 1-based), and m.
        ranks = np.asarray(ks, dtype=np.int64)
        index = np.searchsorted(self.cumulative, ranks, side="right")
        held = self.sketch.counts[index]
        before = self.cumulative[index] - held
        return index, (ranks - before + 1) / (held + 1), held


@dataclass(frozen=True)
class _Found:
    """What compare_quantiles reads once per variant: count, merged sketch, estimates by q."""

    n: int
    merged: Merged
    estimates: dict[float, qi.Quantile | None]


def _find(read: VariantSketch | None, qs: list[float], intervals: bool) -> _Found:
    merged = Merged.of(read.sketch if read is not None else sketches.Sketch.empty())
    found = {q: qi.estimate(merged, q) if intervals else None for q in qs}
    return _Found(read.n if read is not None else 0, merged, found)


def _values(found: _Found, qs: list[float]) -> list[QuantileValue]:
    out = []
    for q in qs:
        estimate = found.estimates[q]
        if estimate is None:
            out.append(QuantileValue(q, qi.point(found.merged, q), None))
        else:
            out.append(QuantileValue(q, estimate.value, estimate.interval))
    return out


def _refusal(names: list[str], counts: list[int], q: float) -> str | None:
    if counts == [0, 0]:
        return "no samples in the window"
    first = qi.min_count(q)
    for name, n in zip(names, counts, strict=True):
        if n < first:
            return f"fewer than {first:,} samples in {name}, which {label(q)} needs"
    return None


def _compare_one(window, metric, position, found: list[_Found], q) -> judging.Comparison:
    names = [window.abtest.variants[0], window.abtest.variants[position]]
    pair = [found[0], found[position]]
    counts = [f.n for f in pair]
    method = window.method(metric, position, sum(counts))
    why = TIME_REFUSAL if metric.analysis_unit == "time" else _refusal(names, counts, q)
    result, flat = None, False
    if why is None:
        control, treatment = (f.estimates[q] for f in pair)
        if control is not None and treatment is not None:
            result = qi.compare(control, treatment, method.inference, method.tuned.tuning)
            flat = control.se == 0 and treatment.se == 0
        if result is None:
            why = (
                f"no spread around {label(q)} in either variant"
                if control is None or treatment is None or flat
                else "the numbers are beyond double precision"
            )
    return judging.Comparison(names[1], "inconclusive", method, result, refusal=why)


def compare_quantiles(
    window: judging.Window,
    metric: catalogue.Metric,
    reads: list[VariantSketch | None],
    qs: list[float],
) -> MetricQuantiles:
    """The quantiles qs of every variant (position order) and every treatment against control."""
    names = window.abtest.variants
    counts = [r.n if r is not None else 0 for r in reads]
    if any(r is not None and r.covered != r.n for r in reads):
        unknown = [QuantileValue(q, None, None) for q in qs]
        empty = [VariantQuantiles(n, c, unknown) for n, c in zip(names, counts, strict=True)]
        return MetricQuantiles(empty, [], PARTIAL_REFUSAL)
    found = [_find(r, qs, metric.analysis_unit != "time") for r in reads]
    variants = [
        VariantQuantiles(name, f.n, _values(f, qs)) for name, f in zip(names, found, strict=True)
    ]
    comparisons = [
        QuantileComparison(q, _compare_one(window, metric, position, found, q))
        for position in range(1, len(names))
        for q in qs
    ]
    return MetricQuantiles(variants, comparisons)


def distributions(
    metrics: list[catalogue.Metric], named: bool, quantiles: list[float]
) -> list[catalogue.Metric]:
    """The metrics whose quantiles are asked for; Invalid for a metric named without them."""
    if not quantiles:
        return []
    for m in metrics:
        if named and not m.distribution:
            raise Invalid(
                "quantiles",
                f"Metric {m.name!r} keeps no distribution, so it has no percentiles: set"
                f" `distribution: true` in its catalogue entry for new samples.",
            )
    return [m for m in metrics if m.distribution]


def read_sketches(
    conn: psycopg.Connection, window: judging.Window, metrics: list[catalogue.Metric]
) -> dict[tuple[int, int], VariantSketch]:
    """Each variant's merged sketch of these metrics over the window, by (metric id, position)."""
    if not metrics:
        return {}
    rows = variant_sketches(
        conn,
        abtest_id=window.abtest.id,
        metric_ids=[m.id for m in metrics],
        variants=len(window.abtest.variants),
        start=window.low,
        end=window.high,
    )
    return {(r.metric_id, r.variant): r for r in rows}
