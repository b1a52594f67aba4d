"""Always-valid inference: an asymptotic confidence sequence for a difference of means.

For an estimate with standard error se from N units (samples of both variants,
or paired minutes), the sequence of Waudby-Smith, Arbour, Sinha, Kennedy and
Ramdas ("Time-uniform central limit theory and asymptotic confidence
sequences", arXiv:2103.06476, eq. 9; the normal mixture boundary of Howard,
Ramdas, McAuliffe and Sekhon, Ann. Statist. 49(2), 2021) is

    estimate ± c(N)·se,  c(N)² = 2(N·rho² + 1)/(N·rho²) · ln(√(N·rho² + 1)/alpha),

with rho² = (-2 ln alpha + ln(1 - 2 ln alpha))/N*, which makes it tightest near N = N*
(ibid. eq. 161). The always-valid p-value, the smallest alpha at which the sequence
(with rho held fixed) excludes 0, is min(1, 1/E) with the mixture statistic
ln E = (z²/2)·N·rho²/(N·rho² + 1) - ½ ln(N·rho² + 1), z = estimate/se (ibid. eq. 155).
These are GrowthBook's formulas (gbstats SequentialTwoSidedTTest), which the
tests match to 1e-6. The relative lift uses the delta method, as gbstats does.
Every function here takes scalars or numpy arrays of looks alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tsmetrics.analysis import stats
from tsmetrics.analysis.distributions import t_isf, t_sf

INFERENCES = ("sequential", "fixed")
UNITS = ("sample", "time")


@dataclass(frozen=True)
class Tuning:
    """Where the sequence is tightest (N*, in units) and the mixture's rho that gives it."""

    n_star: float
    rho: float
    alpha: float

    @classmethod
    def at(cls, n_star: float, alpha: float = stats.ALPHA) -> Tuning:
        """The tuning that makes the sequence tightest at N* units (N* > 0)."""
        if not n_star > 0 or not 0 < alpha < 1:
            raise ValueError("a tuning needs N* > 0 and 0 < alpha < 1")
        log_alpha = math.log(alpha)
        rho = math.sqrt((-2 * log_alpha + math.log1p(-2 * log_alpha)) / n_star)
        return cls(float(n_star), rho, alpha)


@dataclass(frozen=True)
class Inference:
    """One treatment against control: lifts, intervals, p-value and what made them."""

    inference: str  # "sequential" (always valid) or "fixed" (valid once, at the planned end)
    unit: str  # "sample" (independent samples) or "time" (paired minutes)
    lift: float
    lift_interval: stats.Interval
    relative_lift: float | None
    relative_interval: stats.Interval | None
    p_value: float
    statistic: float  # z for sequential, Welch's t for fixed
    df: float | None  # fixed only
    units: int  # N: samples of both variants, or paired minutes
    tuning: Tuning | None  # sequential only
    alpha: float


def multiplier(n, tuning: Tuning):
    """c(N): the half-width of the sequence at N units, in standard errors."""
    u = np.asarray(n, dtype=np.float64) * tuning.rho**2
    return np.sqrt(2 * (u + 1) / u * (0.5 * np.log1p(u) - math.log(tuning.alpha)))


def always_valid_p(z, n, tuning: Tuning):
    """min(1, 1/E): the smallest alpha whose sequence (same rho) excludes 0 at this look."""
    u = np.asarray(n, dtype=np.float64) * tuning.rho**2
    log_e = 0.5 * np.square(z) * u / (u + 1) - 0.5 * np.log1p(u)
    return np.exp(-np.maximum(log_e, 0.0))


def lifts(n_c, mean_c, var_c, n_t, mean_t, var_t):
    """Absolute and relative lift and their variances (delta method); Fractions or arrays."""
    lift = mean_t - mean_c
    variance = var_c / n_c + var_t / n_t
    ratio = mean_t / mean_c
    relative = lift / mean_c
    relative_variance = (var_t / n_t + var_c / n_c * ratio * ratio) / (mean_c * mean_c)
    return lift, variance, relative, relative_variance


@dataclass(frozen=True)
class Looks:
    """The sequence at many looks: numpy arrays of equal shape (NaN where undefined)."""

    lift: np.ndarray
    half_width: np.ndarray
    relative_lift: np.ndarray
    relative_half_width: np.ndarray
    z: np.ndarray
    p_value: np.ndarray
    units: np.ndarray


def sequence_looks(lift, variance, relative, relative_variance, units, tuning: Tuning) -> Looks:
    """The sequence around estimates with these variances, at N = units, look by look."""
    arrays = [np.asarray(a, dtype=np.float64) for a in (lift, variance, relative)]
    relative_variance = np.asarray(relative_variance, dtype=np.float64)
    units = np.asarray(units, dtype=np.float64)
    c = multiplier(units, tuning)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(arrays[1])
        z = arrays[0] / se
    return Looks(
        lift=arrays[0],
        half_width=c * se,
        relative_lift=arrays[2],
        relative_half_width=c * np.sqrt(relative_variance),
        z=z,
        p_value=always_valid_p(z, units, tuning),
        units=units,
    )


def sample_looks(n_c, mean_c, var_c, n_t, mean_t, var_t, tuning: Tuning) -> Looks:
    """The sequence at every look from cumulative per-variant n, mean and variance arrays."""
    arrays = [np.asarray(a, dtype=np.float64) for a in (n_c, mean_c, var_c, n_t, mean_t, var_t)]
    with np.errstate(divide="ignore", invalid="ignore"):
        estimates = lifts(*arrays)
    return sequence_looks(*estimates, arrays[0] + arrays[3], tuning)


def fixed_looks(n_c, mean_c, var_c, n_t, mean_t, var_t) -> tuple[np.ndarray, np.ndarray]:
    """Welch's t and Satterthwaite df at every look (as stats.welch), for simulations."""
    n_c, mean_c, var_c, n_t, mean_t, var_t = (
        np.asarray(a, dtype=np.float64) for a in (n_c, mean_c, var_c, n_t, mean_t, var_t)
    )
    sc, st = var_c / n_c, var_t / n_t
    t = (mean_t - mean_c) / np.sqrt(sc + st)
    df = (sc + st) ** 2 / (sc * sc / (n_c - 1) + st * st / (n_t - 1))
    return t, df


def interval(estimate: float, half: float) -> stats.Interval:
    """estimate ± half."""
    return stats.Interval(estimate - half, estimate + half)


def from_estimates(
    lift: float,
    variance: float,
    relative: float | None,
    relative_variance: float | None,
    units: int,
    tuning: Tuning,
    unit: str,
) -> Inference:
    """The confidence sequence around estimates with these variances, at N = units."""
    if not variance > 0:
        raise ValueError("a confidence sequence needs some variance")
    known = relative is not None and relative_variance is not None and relative_variance > 0
    if not known:
        relative_variance = math.nan
    look = sequence_looks(lift, variance, relative or 0.0, relative_variance, units, tuning)
    relative_half = float(look.relative_half_width)
    return Inference(
        inference="sequential",
        unit=unit,
        lift=lift,
        lift_interval=interval(lift, float(look.half_width)),
        relative_lift=relative,
        relative_interval=interval(relative, relative_half) if known else None,
        p_value=float(look.p_value),
        statistic=float(look.z),
        df=None,
        units=units,
        tuning=tuning,
        alpha=tuning.alpha,
    )


def inferences(
    looks: Looks, variance, relative_variance, tuning: Tuning, unit: str
) -> list[Inference | None]:
    """from_estimates at every look of `looks` at once; None where a number is not finite."""
    numbers = np.stack([looks.lift, looks.half_width, looks.z, looks.p_value])
    with np.errstate(invalid="ignore"):
        usable = (np.isfinite(numbers).all(axis=0) & (np.asarray(variance) > 0)).tolist()
        known = (np.isfinite(looks.relative_lift) & (np.asarray(relative_variance) > 0)).tolist()
    columns = [
        a.tolist()
        for a in (looks.lift, looks.half_width, looks.relative_lift, looks.relative_half_width)
    ]
    out: list[Inference | None] = []
    rows = zip(usable, known, *columns, looks.z.tolist(), looks.p_value.tolist(), strict=True)
    for k, (ok, relative_known, lift, half, relative, relative_half, z, p) in enumerate(rows):
        if not ok:
            out.append(None)
            continue
        out.append(
            Inference(
                inference="sequential",
                unit=unit,
                lift=lift,
                lift_interval=interval(lift, half),
                relative_lift=relative if math.isfinite(relative) else None,
                relative_interval=interval(relative, relative_half) if relative_known else None,
                p_value=p,
                statistic=z,
                df=None,
                units=int(looks.units[k]),
                tuning=tuning,
                alpha=tuning.alpha,
            )
        )
    return out


def sequential(control: stats.Moments, treatment: stats.Moments, tuning: Tuning) -> Inference:
    """The confidence sequence of treatment minus control (n >= 2 each, some variance)."""
    if control.n < 2 or treatment.n < 2:
        raise ValueError("a confidence sequence needs at least 2 samples per variant")
    # Exact (Fraction) moments, so large means with small spreads lose no digits.
    moments = (control.n, control.mean, control.variance)
    moments += (treatment.n, treatment.mean, treatment.variance)
    relative = relative_variance = None
    if control.mean != 0:
        lift, variance, relative, relative_variance = lifts(*moments)
        relative, relative_variance = float(relative), float(relative_variance)
    else:
        lift = treatment.mean - control.mean
        variance = control.variance / control.n + treatment.variance / treatment.n
    units = control.n + treatment.n
    return from_estimates(
        float(lift), float(variance), relative, relative_variance, units, tuning, "sample"
    )


def fixed_from_estimates(
    lift: float,
    variance: float,
    relative: float | None,
    relative_variance: float | None,
    units: int,
    df: float,
    alpha: float,
    unit: str,
) -> Inference:
    """The fixed-horizon t interval and p-value around estimates with these variances."""
    if not variance > 0:
        raise ValueError("a t test needs some variance")
    quantile = t_isf(alpha / 2, df)
    se = math.sqrt(variance)
    relative_interval = None
    if relative is not None and relative_variance is not None and relative_variance > 0:
        relative_interval = interval(relative, quantile * math.sqrt(relative_variance))
    return Inference(
        inference="fixed",
        unit=unit,
        lift=lift,
        lift_interval=interval(lift, quantile * se),
        relative_lift=relative,
        relative_interval=relative_interval,
        p_value=min(1.0, 2 * t_sf(abs(lift / se), df)),
        statistic=lift / se,
        df=df,
        units=units,
        tuning=None,
        alpha=alpha,
    )


def fixed(control: stats.Moments, treatment: stats.Moments, alpha: float = stats.ALPHA):
    """Today's Welch test, labelled fixed-horizon: valid at one planned look only."""
    w = stats.welch(control, treatment, alpha)
    return Inference(
        inference="fixed",
        unit="sample",
        lift=w.lift,
        lift_interval=w.lift_interval,
        relative_lift=w.relative_lift,
        relative_interval=w.relative_interval,
        p_value=w.p_value,
        statistic=w.t,
        df=w.df,
        units=control.n + treatment.n,
        tuning=None,
        alpha=alpha,
    )


def infer(
    control: stats.Moments,
    treatment: stats.Moments,
    inference: str,
    tuning: Tuning,
) -> Inference:
    """Treatment against control by `inference` (one of INFERENCES), at the tuning's alpha."""
    if inference == "sequential":
        return sequential(control, treatment, tuning)
    if inference == "fixed":
        return fixed(control, treatment, tuning.alpha)
    raise ValueError(f"unknown inference {inference!r}")
