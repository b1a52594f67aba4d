"""One treatment against control by the chosen inference and the metric's unit, and its plan.

Unit `sample`: the exact moments of each variant (tsmetrics.analysis.sequential).
Unit `time`: the paired bucket means (tsmetrics.analysis.time_unit). Either way
the result is a sequential.Inference, and the plan (how small an effect is
detectable now, when the planned one will be) uses the same inference and tuning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from tsmetrics.analysis import design, planning, sequential, stats, time_unit
from tsmetrics.store import catalogue, totals


@dataclass(frozen=True)
class Method:
    """How one comparison is judged: the inference, the unit, the tuning, what it is valid for."""

    inference: str
    unit: str
    unit_seconds: int | None  # the width of a unit `time` bucket
    tuned: design.Tuned
    validity: str

    @property
    def tuning(self) -> design.Tuned | None:
        """The tuning the numbers used: sequential only (fixed has none)."""
        return self.tuned if self.inference == "sequential" else None


@dataclass(frozen=True)
class Planned:
    """A comparison's plan; when its planned effect becomes detectable (None: not at this rate)."""

    plan: planning.Plan
    units_per_second: float  # the observed rate; 0 when the test is not running
    detectable_at: datetime | None

    @property
    def when(self) -> str | None:
        """ "now", "later" (at detectable_at) or "not at the current rate"; None without an MDE."""
        if self.plan.units_needed is None:
            return None
        if self.plan.seconds_to_detectable == 0:
            return "now"
        return "later" if self.detectable_at else "not at the current rate"


@dataclass(frozen=True)
class Comparison:
    """One treatment against control by `method`, or the reason there is none."""

    variant: str
    verdict: str
    method: Method
    result: sequential.Inference | None = None
    adjusted_p: float | None = None
    refusal: str | None = None
    planned: Planned | None = None


def refusal_of(names: tuple[str, str], counts: tuple[int, int], flat: bool) -> str | None:
    """Why no inference can compare two variants with these counts (flat: no variance in either)."""
    if counts == (0, 0):
        return "no samples in the window"
    for name, n in zip(names, counts, strict=True):
        if n < 2:
            return f"fewer than 2 samples in {name}"
    return "zero variance in both variants" if flat else None


def refusal(control: str, c: stats.Moments, treatment: str, t: stats.Moments) -> str | None:
    """Why no inference can compare these two variants' samples, or None when it can."""
    few = c.n < 2 or t.n < 2
    flat = not few and c.variance == 0 and t.variance == 0
    return refusal_of((control, treatment), (c.n, t.n), flat)


def paired(row: totals.PairedMinuteMeans | None) -> time_unit.PairedMinutes:
    """The store's paired bucket means as arrays (empty when there are none)."""
    if row is None:
        empty = np.zeros(0)
        return time_unit.PairedMinutes(empty.astype(np.int64), empty, empty)
    return time_unit.PairedMinutes(row.minutes, row.control, row.treatment)


def too_few_buckets(seconds: int) -> str:
    """The refusal of the unit `time` before MIN_MINUTES paired buckets."""
    return (
        f"fewer than {time_unit.MIN_MINUTES} {design.width_label(seconds)} buckets"
        " with samples in both variants (unit time)"
    )


def time_refusal(series: time_unit.PairedMinutes, seconds: int) -> str | None:
    """Why the unit `time` cannot compare these variants yet, or None when it can."""
    if len(series.minutes) < time_unit.MIN_MINUTES:
        return too_few_buckets(seconds)
    with np.errstate(over="ignore", invalid="ignore"):
        return time_unit.refusal(series)


def finite(result: sequential.Inference) -> sequential.Inference | None:
    """The result, or None when one of its numbers is not finite."""
    numbers = [result.lift, result.statistic, result.p_value]
    numbers += [result.lift_interval.low, result.lift_interval.high]
    # Samples near the float range could overflow; JSON must never carry NaN.
    return result if all(math.isfinite(x) for x in numbers) else None


def judge_samples(
    control: stats.Moments, treatment: stats.Moments, method: Method
) -> sequential.Inference | None:
    """Unit `sample` (n >= 2 each, some variance); None beyond double precision."""
    try:
        if method.inference == "sequential":
            return finite(sequential.sequential(control, treatment, method.tuned.tuning))
        return finite(sequential.fixed(control, treatment, method.tuned.tuning.alpha))
    except OverflowError:  # an exact moment that no float holds
        return None


def time_inference(
    series: time_unit.PairedMinutes, inference: str, tuning: sequential.Tuning
) -> sequential.Inference | None:
    """Unit `time` over every paired bucket (time_refusal must be None); None beyond floats."""
    with np.errstate(over="ignore", invalid="ignore"):
        looks = time_unit.time_looks(series.control, series.treatment, [len(series.minutes) - 1])
    if not (np.isfinite(looks.lift[0]) and np.isfinite(looks.variance[0])):
        return None  # bucket means near the float range: their differences overflow
    return finite(time_unit.inference_at(looks, 0, inference, tuning))


def judge_time(series: time_unit.PairedMinutes, method: Method) -> sequential.Inference | None:
    """time_inference by the method's inference and tuning."""
    return time_inference(series, method.inference, method.tuned.tuning)


def plan_samples(control: stats.Moments, treatment: stats.Moments) -> tuple[float, float, float]:
    """(s2, units, control mean) of unit `sample`."""
    s2, units = planning.sample_variance(control, treatment)
    return s2, units, float(control.mean)


def plan_time(series: time_unit.PairedMinutes) -> tuple[float, float, float]:
    """(s2, units, control mean) of unit `time`."""
    s2, units = planning.time_variance(series)
    return s2, units, float(np.mean(series.control))


def plan(
    estimates: tuple[float, float, float],
    method: Method,
    *,
    mde_relative: float | None,
    window_seconds: float,
    end: datetime,
    running: bool,
) -> Planned | None:
    """The plan at the observed variance and rate (none while the test is not running)."""
    s2, units, control_mean = estimates
    if not (s2 > 0 and units > 0 and math.isfinite(s2)):
        return None
    rate = units / window_seconds if running and window_seconds > 0 else 0.0
    result = planning.plan(
        s2=s2,
        units=units,
        units_per_second=rate,
        control_mean=control_mean,
        inference=method.inference,
        tuning=method.tuned.tuning,
        planned_relative_effect=mde_relative,
    )
    seconds = result.seconds_to_detectable
    at = None
    if seconds is not None and math.isfinite(seconds) and seconds < 100 * 365 * 86_400:
        at = end + timedelta(seconds=seconds)
    return Planned(result, rate, at)


@dataclass(frozen=True)
class Window:
    """What every comparison of one request shares: the test, the window, the inference."""

    abtest: catalogue.ABTest
    inference: str
    alpha: float
    low: int  # [low, high), epoch seconds, whole minutes
    high: int
    width: int  # the unit `time`'s bucket width for this test
    with_plans: bool = False

    @property
    def start(self) -> datetime:
        """The window's start as a datetime."""
        return datetime.fromtimestamp(self.low, UTC)

    @property
    def seconds(self) -> int:
        """The window's length."""
        return self.high - self.low

    def paired_range(self) -> tuple[int, int]:
        """The whole buckets of the unit `time` inside the window."""
        return design.paired_range(self.low, self.high, self.width)

    def method(self, metric: catalogue.Metric, position: int, units: int) -> Method:
        """How treatment `position` is judged on `metric`, with `units` samples of the two."""
        if metric.analysis_unit == "time":
            tuned = design.time_tuning(self.abtest, self.start, self.alpha)
            width: int | None = self.width
        else:
            tuned = design.sample_tuning(
                self.abtest, position, units, self.seconds, self.start, self.alpha
            )
            width = None
        validity = design.validity(self.inference, self.abtest)
        return Method(self.inference, metric.analysis_unit, width, tuned, validity)


def judge(
    window: Window,
    metric: catalogue.Metric,
    position: int,
    moments: list[stats.Moments],
    series: time_unit.PairedMinutes,
    mde: float | None,
) -> Comparison:
    """Treatment `position` against control on `metric`, or the reason it cannot be."""
    abtest = window.abtest
    control, treatment = moments[0], moments[position]
    method = window.method(metric, position, control.n + treatment.n)
    why = refusal(abtest.variants[0], control, abtest.variants[position], treatment)
    time = metric.analysis_unit == "time"
    if why is None and time:
        why = time_refusal(series, window.width)
    result = None
    if why is None:
        judged = judge_time if time else judge_samples
        result = judged(series, method) if time else judged(control, treatment, method)
        why = None if result is not None else stats.UNREPRESENTABLE
    planned = None
    if result is not None and window.with_plans:
        planned = _plan(window, method, series if time else (control, treatment), mde)
    name = abtest.variants[position]
    return Comparison(name, "inconclusive", method, result, refusal=why, planned=planned)


def _plan(window: Window, method: Method, data, mde: float | None) -> Planned | None:
    """The plan of one comparison, or None when its numbers lie beyond double precision."""
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            estimates = plan_samples(*data) if isinstance(data, tuple) else plan_time(data)
        return plan(
            estimates,
            method,
            mde_relative=mde,
            window_seconds=window.seconds,
            end=datetime.fromtimestamp(window.high, UTC),
            running=window.abtest.status == "running",
        )
    except OverflowError:
        return None
