"""How long to run: the smallest effect detectable now, and when a planned one will be.

Both follow from the standard error of the lift after N units (samples of both
variants, or paired minutes), se(N) = sqrt(s2/N), where s2 is the observed
per-unit variance (N times today's variance of the lift: the traffic split and
the variances are assumed to stay as they are).

- fixed: a two-sided level-alpha test has power `power` at the effect
  (z_(1-alpha/2) + z_power)·se(N) (the far tail, below 1e-6, is left out).
- sequential: the sequence excludes 0 at this look when |lift| > c(N)·se(N)
  (tsmetrics.analysis.sequential.multiplier), so with a normal estimate the
  effect (c(N) + z_power)·se(N) is detected at this look with probability
  `power` (and by this look with at least that).

The N at which a planned effect becomes detectable solves the same equations
(in closed form for fixed, by bisection for sequential: (c(N) + z)/sqrt(N)
decreases in N); at the observed traffic rate that N is a time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from tsmetrics.analysis import sequential, stats, time_unit

POWER = 0.8


@dataclass(frozen=True)
class Plan:
    """Detectable effects for one metric at the current traffic and variance."""

    inference: str
    alpha: float
    power: float
    units: float  # N now
    detectable_now: float  # absolute effect
    relative_detectable_now: float | None  # as a share of the control mean
    planned_relative_effect: float | None
    units_needed: float | None  # N at which the planned effect becomes detectable
    seconds_to_detectable: float | None  # from now at the current traffic; 0 when already


def _multiplier(units: float, inference: str, tuning: sequential.Tuning) -> float:
    if inference == "fixed":
        return NormalDist().inv_cdf(1 - tuning.alpha / 2)
    if inference == "sequential":
        return float(sequential.multiplier(units, tuning))
    raise ValueError(f"unknown inference {inference!r}")


def detectable_effect(
    s2: float, units: float, inference: str, tuning: sequential.Tuning, power: float = POWER
) -> float:
    """The smallest absolute effect detected with probability `power` at N = units."""
    z_power = NormalDist().inv_cdf(power)
    return (_multiplier(units, inference, tuning) + z_power) * math.sqrt(s2 / units)


def units_needed(
    s2: float, effect: float, inference: str, tuning: sequential.Tuning, power: float = POWER
) -> float:
    """The N at which `effect` (absolute, non-zero) becomes detectable with `power`."""
    effect = abs(effect)
    if inference == "fixed":
        z = NormalDist().inv_cdf(1 - tuning.alpha / 2) + NormalDist().inv_cdf(power)
        return s2 * z * z / (effect * effect)
    low, high = 1e-9, 1.0
    while detectable_effect(s2, high, inference, tuning, power) > effect:
        low, high = high, high * 2
    for _ in range(200):  # bisection in log N, to the float's last digits
        middle = math.sqrt(low * high)
        if detectable_effect(s2, middle, inference, tuning, power) > effect:
            low = middle
        else:
            high = middle
        if high - low <= 1e-12 * high:
            break
    return high


def plan(
    *,
    s2: float,
    units: float,
    units_per_second: float,
    control_mean: float,
    inference: str,
    tuning: sequential.Tuning,
    planned_relative_effect: float | None = None,
    power: float = POWER,
) -> Plan:
    """The plan at N = units (> 0) with per-unit variance s2 (> 0) and this traffic."""
    effect = detectable_effect(s2, units, inference, tuning, power)
    relative = effect / abs(control_mean) if control_mean else None
    needed = seconds = None
    if planned_relative_effect and control_mean:
        needed = units_needed(s2, planned_relative_effect * control_mean, inference, tuning, power)
        if needed <= units:
            seconds = 0.0
        elif units_per_second > 0:
            seconds = (needed - units) / units_per_second
    return Plan(
        inference=inference,
        alpha=tuning.alpha,
        power=power,
        units=units,
        detectable_now=effect,
        relative_detectable_now=relative,
        planned_relative_effect=planned_relative_effect,
        units_needed=needed,
        seconds_to_detectable=seconds,
    )


def sample_variance(control: stats.Moments, treatment: stats.Moments) -> tuple[float, float]:
    """(s2, N) for the unit `sample`: N times the variance of the lift, and N."""
    units = control.n + treatment.n
    variance = control.variance / control.n + treatment.variance / treatment.n
    return float(variance * units), float(units)


def time_variance(series: time_unit.PairedMinutes) -> tuple[float, float]:
    """(s2, N) for the unit `time`: the long-run variance per paired minute, and N minutes."""
    end = [len(series.minutes) - 1]
    looks = time_unit.time_looks(series.control, series.treatment, end, relative=False)
    return float(looks.variance[0] * looks.units[0]), float(looks.units[0])
