"""Results over time: each treatment's cumulative lift and its interval, bucket by bucket.

Staff read it to see when a result settled and to spot novelty effects (a
lift that fades). Point k holds everything from the window's start to the end
of bucket k, so the last point is the comparison of the whole window. Each
point is a look, judged by the same inference and tuning as the whole window:
with `sequential` the band drawn is the confidence sequence, valid at every
point at once; with `fixed` each point's interval is valid only alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import psycopg

from tsmetrics import granularity as gran
from tsmetrics import retention
from tsmetrics.analysis import (
    compare,
    cumulative,
    design,
    judging,
    sequential,
    stats,
    time_unit,
)
from tsmetrics.store import catalogue, totals
from tsmetrics.store import horizons as store_horizons

MAX_POINTS = 1000  # per series: a fixed-horizon point is a Welch test with two t quantiles
AUTO_POINTS = 200  # `auto` picks the finest granularity with at most this many


class TooManyPoints(ValueError):
    """The granularity would give more than MAX_POINTS buckets."""


@dataclass(frozen=True)
class TimelinePoint:
    """The comparison of all data up to `t` (a bucket end, epoch seconds): one look."""

    t: int
    control_count: int
    treatment_count: int
    result: sequential.Inference | None
    refusal: str | None


@dataclass(frozen=True)
class TreatmentTimeline:
    """The cumulative comparison of one treatment against control, every look by `method`."""

    variant: str
    method: judging.Method
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
    inference: str
    metrics: list[MetricTimeline]


def _window(low: int, high: int, granularity: str, horizons: dict) -> tuple[str, int, int]:
    at = [datetime.fromtimestamp(x, UTC) for x in (low, high)]
    dropped = {kind: h.dropped_before for kind, h in horizons.items()}
    resolved = gran.resolve(granularity, *at, AUTO_POINTS, dropped)
    retention.require_kept(resolved, at[0], horizons)
    seconds = gran.GRANULARITIES[resolved]
    low, high = low // seconds * seconds, -(-high // seconds) * seconds
    if (high - low) // seconds > MAX_POINTS:
        raise TooManyPoints(
            f"granularity {resolved} gives {(high - low) // seconds} points over this window;"
            f" at most {MAX_POINTS}: choose a coarser one or `auto`."
        )
    return resolved, low, high


def _time_looks(window, series, method, ends_at) -> list[tuple[sequential.Inference | None, str]]:
    """The unit `time` at each look ending at `ends_at` (epoch s): (result, refusal)."""
    # A bucket belongs to a look once it has ended by the look's end.
    ends = np.searchsorted(series.minutes + window.width, np.asarray(ends_at), side="right") - 1
    enough = ends + 1 >= time_unit.MIN_MINUTES
    too_few = judging.too_few_buckets(window.width)
    out: list[tuple[sequential.Inference | None, str]] = [(None, too_few)] * len(ends)
    if not enough.any():
        return out
    valid = np.flatnonzero(enough)
    # Bucket means near the float range overflow to inf or NaN: those looks are refused below.
    with np.errstate(over="ignore", invalid="ignore"):
        looks = time_unit.time_looks(series.control, series.treatment, ends[valid])
        return _judge_time_looks(out, valid, looks, method)


def _judge_time_looks(out, valid, looks, method) -> list[tuple[sequential.Inference | None, str]]:
    """Fill `out` at the `valid` looks with the inference of each, or why there is none."""
    tuning = method.tuned.tuning
    if method.inference == "sequential":
        sequence = sequential.sequence_looks(
            looks.lift,
            looks.variance,
            looks.relative_lift,
            looks.relative_variance,
            looks.units,
            tuning,
        )
        results = sequential.inferences(
            sequence, looks.variance, looks.relative_variance, tuning, "time"
        )
    else:
        results = [
            judging.finite(time_unit.inference_at(looks, index, "fixed", tuning))
            if looks.variance[index] > 0 and np.isfinite(looks.lift[index])
            else None
            for index in range(len(valid))
        ]
    for index, (look, result) in enumerate(zip(valid, results, strict=True)):
        flat = looks.variance[index] == 0
        why = "the per-bucket difference never varies" if flat else stats.UNREPRESENTABLE
        out[look] = (result, "" if result else why)
    return out


def _sample_looks(method, running, scale, position, valid) -> list:
    control, treatment = running[0], running[position]
    if method.inference == "sequential":
        est = cumulative.estimates(control, treatment, valid, scale)
        tuning = method.tuned.tuning
        # A look whose estimates lie beyond double precision is NaN: refused, not an error.
        with np.errstate(over="ignore", invalid="ignore"):
            looks = sequential.sequence_looks(
                est.lift, est.variance, est.relative_lift, est.relative_variance, est.units, tuning
            )
        return sequential.inferences(looks, est.variance, est.relative_variance, tuning, "sample")
    return [
        judging.judge_samples(control.moments(k, scale), treatment.moments(k, scale), method)
        for k in valid
    ]


def _treatment(window, metric, looked, position, series) -> TreatmentTimeline:
    ends_at, running, scale = looked
    control, treatment = running[0], running[position]
    names = (window.abtest.variants[0], window.abtest.variants[position])
    last = len(ends_at) - 1
    units = control.n[last] + treatment.n[last] if ends_at else 0
    method = window.method(metric, position, units)
    why = [
        judging.refusal_of(
            names,
            (control.n[k], treatment.n[k]),
            control.spread(k, scale) == 0 and treatment.spread(k, scale) == 0,
        )
        for k in range(len(ends_at))
    ]
    valid = [k for k, reason in enumerate(why) if reason is None]
    results: dict[int, sequential.Inference | None] = {}
    if metric.analysis_unit == "time":
        for k, (result, reason) in zip(
            valid, _time_looks(window, series, method, [ends_at[k] for k in valid]), strict=True
        ):
            results[k], why[k] = result, reason or None
    elif valid:
        results = dict(
            zip(valid, _sample_looks(method, running, scale, position, valid), strict=True)
        )
    points = []
    for k, t in enumerate(ends_at):
        result = results.get(k)
        reason = why[k] or (None if result else stats.UNREPRESENTABLE)
        points.append(TimelinePoint(t, control.n[k], treatment.n[k], result, reason))
    return TreatmentTimeline(names[1], method, points)


def _metric_timeline(window, metric, rows, seconds, paired) -> MetricTimeline:
    buckets, running, scale = cumulative.running_sums(rows, metric.id, len(window.abtest.variants))
    looked = ([bucket + seconds for bucket in buckets], running, scale)
    treatments = [
        _treatment(
            window, metric, looked, position, judging.paired(paired.get((metric.id, position)))
        )
        for position in range(1, len(window.abtest.variants))
    ]
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
    inference: str | None = None,
) -> Timeline:
    """Cumulative comparisons at the end of every bucket that has samples: the looks.

    The window is that of `compare.compare`, widened to whole buckets; every look
    uses the same inference and tuning as the comparison of the whole window.
    """
    abtest = compare.resolve_abtest(conn, abtest_name)
    metrics = compare.resolve_metrics(conn, abtest, metric_names)
    horizons = store_horizons.read_horizons(conn)
    low, high = compare.resolve_window(conn, abtest, start, end)
    resolved, low, high = _window(low, high, granularity, horizons)
    seconds = gran.GRANULARITIES[resolved]
    chosen = design.choose(abtest, inference)
    width = compare.unit_width(conn, abtest, low)
    window = judging.Window(abtest, chosen, alpha, low, high, width)
    rows = totals.bucket_totals(
        conn,
        abtest_id=abtest.id,
        metric_ids=[m.id for m in metrics],
        variants=len(abtest.variants),
        seconds=seconds,
        start=low,
        end=high,
    )
    paired = compare.paired_means(conn, window, metrics)
    return Timeline(
        abtest=abtest,
        granularity=resolved,
        start=datetime.fromtimestamp(low, UTC),
        end=datetime.fromtimestamp(high, UTC),
        alpha=alpha,
        inference=chosen,
        metrics=[_metric_timeline(window, m, rows, seconds, paired) for m in metrics],
    )
