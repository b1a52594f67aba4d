"""Guardrail evaluation: is a treatment significantly worse on a guardrail metric, now?

Each guardrail of a running A/B test is judged over the test's whole window so
far (its start to now) with always-valid inference (tsmetrics.analysis.sequential):
the watcher looks every minute, and a confidence sequence may be looked at any
number of times. The unit is the metric's: `sample` compares the variants'
moments, `time` the paired bucket means of the test's unit width
(tsmetrics.analysis.time_unit); tuning and width come from the test's plan by
the results panel's own rules (tsmetrics.analysis.design), so the two agree.

Holm's correction runs over all guardrails x treatments of the test. Without
it, a test with 5 guardrails and 2 treatments would page someone in up to
10 x alpha of A/A tests; with it, the chance that an A/A test ever raises any
alert stays at most alpha (Holm's step-down argument holds for always-valid
p-values uniformly over time: no true null is rejected at any look unless one
of them is ever below alpha / m0). The cost is some power on each guardrail.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np
import psycopg

from tsmetrics.analysis import design, judging, sequential, stats, time_unit
from tsmetrics.store import guardrails as store
from tsmetrics.store import totals

ALPHA = stats.ALPHA
CORRECTION = "holm"
MINUTE = totals.MINUTE


def _at(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


@dataclass(frozen=True)
class Outcome:
    """One treatment on one guardrail: the inference and state, or why there is none."""

    guardrail: store.Guardrail
    variant: int
    inference: sequential.Inference | None
    tuning_source: str | None
    refusal: str | None = None
    adjusted_p: float | None = None
    state: str | None = None  # raised or clear; None when refused
    unit_seconds: int | None = None  # unit `time`: the width of its buckets


@dataclass(frozen=True)
class Evaluation:
    """Every guardrail outcome of one A/B test over [start, end) (epoch seconds)."""

    abtest_id: int
    start: int
    end: int
    outcomes: list[Outcome]

    @property
    def family_size(self) -> int:
        """How many p-values Holm adjusted together."""
        return sum(1 for o in self.outcomes if o.inference is not None)


def window(guardrail: store.Guardrail, now: datetime) -> tuple[int, int] | None:
    """[start, now) in whole minutes: the test's window so far; None before it has data."""
    if guardrail.started_at is None:
        return None
    low = math.floor(guardrail.started_at.timestamp() / MINUTE) * MINUTE
    high = math.ceil(now.timestamp() / MINUTE) * MINUTE
    return (low, high) if high > low else None


def _sample_refusal(control: stats.Moments, treatment: stats.Moments) -> str | None:
    if control.n < 2 or treatment.n < 2:
        return "fewer than 2 samples in a variant"
    if control.variance == 0 and treatment.variance == 0:
        return "zero variance in both variants"
    return None


def _checked(guardrail, variant, result: sequential.Inference, source: str, width=None) -> Outcome:
    interval = result.lift_interval
    numbers = (result.lift, result.p_value, interval.low, interval.high)
    if not all(math.isfinite(x) for x in numbers):
        return Outcome(guardrail, variant, None, None, stats.UNREPRESENTABLE)
    return Outcome(guardrail, variant, result, source, unit_seconds=width)


def sample_outcome(
    guardrail: store.Guardrail,
    variant: int,
    control: stats.Moments,
    treatment: stats.Moments,
    span: tuple[int, int],
) -> Outcome:
    """One treatment on a `sample` guardrail, from both variants' moments over `span`."""
    why = _sample_refusal(control, treatment)
    if why:
        return Outcome(guardrail, variant, None, None, refusal=why)
    units = control.n + treatment.n
    tuned = design.sample_tuning(guardrail, variant, units, span[1] - span[0], _at(span[0]))
    try:
        result = sequential.sequential(control, treatment, tuned.tuning)
    except OverflowError:  # an exact moment beyond any float (samples near ±1.8e308)
        return Outcome(guardrail, variant, None, None, stats.UNREPRESENTABLE)
    except ValueError as error:
        return Outcome(guardrail, variant, None, None, refusal=str(error))
    return _checked(guardrail, variant, result, tuned.source)


def _sample_outcomes(conn, guardrails, span) -> list[Outcome]:
    first = guardrails[0]
    variants = len(first.variants)
    rows = totals.variant_totals(
        conn,
        abtest_id=first.abtest_id,
        metric_ids=[g.metric_id for g in guardrails],
        variants=variants,
        start=span[0],
        end=span[1],
    )
    found = {(r.metric_id, r.variant): r for r in rows}

    def moments(metric_id: int, variant: int) -> stats.Moments:
        row = found.get((metric_id, variant))
        return stats.Moments.from_sums(row.n, row.total, row.total_sq) if row else _NONE

    return [
        sample_outcome(g, variant, moments(g.metric_id, 0), moments(g.metric_id, variant), span)
        for g in guardrails
        for variant in range(1, variants)
    ]


_NONE = stats.Moments.from_sums(0, 0, 0)


def _time_outcome(guardrail, variant, paired: time_unit.PairedMinutes, tuned, width) -> Outcome:
    # Bucket means near the float range overflow to inf or NaN: _checked refuses those.
    with np.errstate(over="ignore", invalid="ignore"):
        why = time_unit.refusal(paired)
        if why:
            return Outcome(guardrail, variant, None, None, refusal=why)
        try:
            result = judging.time_inference(paired, "sequential", tuned.tuning)
        except ValueError as error:
            return Outcome(guardrail, variant, None, None, refusal=str(error))
    if result is None:
        return Outcome(guardrail, variant, None, None, stats.UNREPRESENTABLE)
    return _checked(guardrail, variant, result, tuned.source, width)


def _time_outcomes(conn, guardrails, span) -> list[Outcome]:
    first = guardrails[0]
    variants = len(first.variants)
    # The unit's width is fixed by the test's plan; only whole buckets inside the window count.
    width = design.unit_seconds(first, _at(span[0]))
    # Retention may have dropped that width's rollups: the finest coarser one kept.
    width = totals.finest_kept(span[0], totals.dropped_before(conn), width) or width
    low, high = design.paired_range(span[0], span[1], width)
    rows = totals.paired_minute_means(
        conn,
        abtest_id=first.abtest_id,
        metric_ids=[g.metric_id for g in guardrails],
        variants=variants,
        start=low,
        end=high,
        seconds=width,
    )
    series = {(r.metric_id, r.variant): r for r in rows}
    tuned = design.time_tuning(first, _at(span[0]))
    return [
        _time_outcome(g, variant, judging.paired(series.get((g.metric_id, variant))), tuned, width)
        for g in guardrails
        for variant in range(1, variants)
    ]


def judge(outcomes: list[Outcome]) -> list[Outcome]:
    """Holm over the outcomes with an inference; raised where a treatment is worse."""
    tested = [index for index, o in enumerate(outcomes) if o.inference is not None]
    adjusted = stats.holm([outcomes[index].inference.p_value for index in tested])
    judged = list(outcomes)
    for index, p in zip(tested, adjusted, strict=True):
        o = outcomes[index]
        verdict = stats.verdict(o.inference.lift, p, o.guardrail.higher_is_better, ALPHA)
        state = "raised" if verdict == "worse" else "clear"
        judged[index] = replace(o, adjusted_p=p, state=state)
    return judged


def evaluate_test(
    conn: psycopg.Connection, guardrails: list[store.Guardrail], now: datetime
) -> Evaluation | None:
    """Every guardrail of one A/B test (all rows of one test), Holm-adjusted; None: no data."""
    span = window(guardrails[0], now)
    if span is None:
        return None
    sample = [g for g in guardrails if g.analysis_unit == "sample"]
    time = [g for g in guardrails if g.analysis_unit == "time"]
    outcomes = []
    if sample:
        outcomes += _sample_outcomes(conn, sample, span)
    if time:
        outcomes += _time_outcomes(conn, time, span)
    return Evaluation(guardrails[0].abtest_id, span[0], span[1], judge(outcomes))
