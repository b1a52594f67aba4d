"""Inference for autocorrelated gauges: the analysis unit `time`, paired minutes.

A gauge (CPU or memory of a serving instance, read every few seconds) moves
slowly, so its readings are not independent and Welch's test on them is far too
confident. With unit `time` the observation is the minute instead:

- For every minute in which both variants have samples, take each variant's
  mean in that minute (total/n of its 1-minute rollup), c_m and t_m, and their
  difference d_m = t_m - c_m. Pairing by minute cancels whatever the variants
  share at that minute (the daily cycle, load spikes, deploys), as in a
  matched-pairs design. The lift is the mean of d_m: each minute weighs the
  same, a time average, which is what a gauge measures.
- Minute means are still autocorrelated (an AR(1) gauge with 0.9 between
  readings 5 s apart gives 0.47 between consecutive minute means), so the
  variance of the mean of d is its long-run variance over M minutes, estimated
  by HAC: the Bartlett kernel of Newey & West (1987, Econometrica 55(3)) with
  their 1994 bandwidth L = floor(4 (M/100)^(2/9)) (Rev. Econ. Stud. 61(4)),
  after AR(1) prewhitening (Andrews & Monahan 1992, Econometrica 60(4)):
  r = g(1)/g(0) capped at ±0.97, residual autocovariances
  g_e(k) = (1 + r²) g(k) - r (g(k-1) + g(k+1)), and
  Omega = [g_e(0) + 2 sum_{k=1..L} (1 - k/(L+1)) g_e(k)] / (1 - r)².
- The relative lift is d̄/c̄ with the delta method: the same estimator applied to
  the linearised series ((d_m - d̄) - q (c_m - c̄))/c̄, q = d̄/c̄.
- Sequential: the confidence sequence of tsmetrics.analysis.sequential with
  N = M minutes and per-unit variance Omega. The time-uniform central limit
  theory behind it rests on a strong invariance principle, which weakly
  dependent stationary series satisfy with the long-run variance in place of
  the variance (Wu 2007, Ann. Probab. 35(6)). Fixed: t = d̄/sqrt(Omega/M) with
  M - 1 degrees of freedom.
- Fewer than MIN_MINUTES paired minutes: no inference (the HAC estimate is
  too noisy).

The A/A simulations in tests/analysis/test_inference_simulations.py and
bench/bench_inference.py measure the error rates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tsmetrics.analysis import sequential

MIN_MINUTES = 30
PREWHITEN_CAP = 0.97  # Andrews & Monahan's cap on the AR(1) coefficient
MINUTE = 60


@dataclass(frozen=True)
class PairedMinutes:
    """Per-minute means of control and treatment at the minutes both have samples."""

    minutes: np.ndarray  # epoch seconds of each minute's start, oldest first
    control: np.ndarray
    treatment: np.ndarray


def _minute_means(rows) -> tuple[np.ndarray, np.ndarray]:
    table = np.array([tuple(row) for row in rows], dtype=np.float64).reshape(-1, 3)
    keep = table[:, 1] > 0
    return table[keep, 0].astype(np.int64), table[keep, 2] / table[keep, 1]


def pair_minutes(control_rows, treatment_rows) -> PairedMinutes:
    """From (minute, n, total) rows of each variant (1-minute rollups), any order."""
    (c_minutes, c_means), (t_minutes, t_means) = map(_minute_means, (control_rows, treatment_rows))
    common, at_c, at_t = np.intersect1d(c_minutes, t_minutes, return_indices=True)
    return PairedMinutes(common, c_means[at_c], t_means[at_t])


def bandwidth(minutes):
    """Newey & West's (1994) Bartlett bandwidth for M units: floor(4 (M/100)^(2/9))."""
    return np.floor(4 * (np.asarray(minutes, dtype=np.float64) / 100) ** (2 / 9)).astype(int)


def _prefix_products(x, y, at):
    # sum_(i <= a) x_i y_i for each a in `at`; one look (a comparison) needs no prefix array.
    if len(at) == 1:
        return np.einsum("...i,...i->...", x[..., : at[0] + 1], y[..., : at[0] + 1])[..., None]
    return np.cumsum(x * y, axis=-1)[..., at]


def cross_covariances(x, y, ends, lags: int) -> np.ndarray:
    """(1/M) sum (x_m - x̄)(y_(m-k) - ȳ) over each prefix ending at `ends`, k = 0..lags.

    x and y have shape (..., M); the result (..., len(ends), lags + 1).
    """
    # Shifting by a constant changes no covariance but keeps the sums small.
    x = x - x.mean(axis=-1, keepdims=True)
    y = y - y.mean(axis=-1, keepdims=True)
    size = x.shape[-1]
    sum_x, sum_y = np.cumsum(x, axis=-1), np.cumsum(y, axis=-1)
    count = ends + 1
    mean_x, mean_y = sum_x[..., ends] / count, sum_y[..., ends] / count
    out = np.zeros((*x.shape[:-1], len(ends), lags + 1))
    for k in range(min(lags, size - 1) + 1):
        valid = ends >= k
        at = ends[valid]
        products = _prefix_products(x[..., k:], y[..., : size - k], at - k)
        x_part = sum_x[..., at] - (sum_x[..., k - 1 : k] if k else 0.0)
        y_part = sum_y[..., at - k]
        mx, my = mean_x[..., valid], mean_y[..., valid]
        total = products - my * x_part - mx * y_part + (at - k + 1) * mx * my
        out[..., valid, k] = total / count[valid]
    return out


def long_run_variance(gamma: np.ndarray, minutes) -> np.ndarray:
    """Prewhitened Bartlett HAC from autocovariances g(0..K) (last axis), K >= L + 1."""
    lags = gamma.shape[-1] - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(gamma[..., 0] > 0, gamma[..., 1] / gamma[..., 0], 0.0)
    r = np.clip(r, -PREWHITEN_CAP, PREWHITEN_CAP)[..., None]
    before = np.concatenate([gamma[..., 1:2], gamma[..., : lags - 1]], axis=-1)
    residual = (1 + r * r) * gamma[..., :lags] - r * (before + gamma[..., 1:])
    k = np.arange(lags)
    width = bandwidth(minutes)[..., None]
    weights = np.clip(1 - k / (width + 1), 0.0, None) * np.where(k > 0, 2.0, 1.0)
    omega = np.maximum((weights * residual).sum(axis=-1), 0.0)
    return omega / (1 - r[..., 0]) ** 2


@dataclass(frozen=True)
class TimeLooks:
    """Lifts and their variances at each look (prefix of paired minutes), as arrays."""

    units: np.ndarray
    lift: np.ndarray
    variance: np.ndarray
    relative_lift: np.ndarray
    relative_variance: np.ndarray


def time_looks(control, treatment, ends=None, relative: bool = True) -> TimeLooks:
    """The paired-minute estimates at every prefix ending at `ends` (default: every one).

    control and treatment have shape (..., M): runs of simulations, or one series.
    """
    control = np.asarray(control, dtype=np.float64)
    d = np.asarray(treatment, dtype=np.float64) - control
    ends = np.arange(d.shape[-1]) if ends is None else np.asarray(ends, dtype=np.int64)
    units = ends + 1
    lags = int(bandwidth(units.max())) + 1
    lift = np.cumsum(d, axis=-1)[..., ends] / units
    gamma = cross_covariances(d, d, ends, lags)
    variance = long_run_variance(gamma, units) / units
    relative_lift = relative_variance = np.full(lift.shape, np.nan)
    if relative:
        base = np.cumsum(control, axis=-1)[..., ends] / units
        with np.errstate(divide="ignore", invalid="ignore"):
            q = (lift / base)[..., None]
            gamma = gamma - q * (
                cross_covariances(d, control, ends, lags)
                + cross_covariances(control, d, ends, lags)
            )
            gamma = (gamma + q * q * cross_covariances(control, control, ends, lags)) / (
                base * base
            )[..., None]
            relative_lift = lift / base
            relative_variance = long_run_variance(gamma, units) / units
    return TimeLooks(units, lift, variance, relative_lift, relative_variance)


def refusal(series: PairedMinutes) -> str | None:
    """Why the unit `time` cannot compare these variants yet, or None when it can."""
    if len(series.minutes) < MIN_MINUTES:
        return f"fewer than {MIN_MINUTES} minutes with samples in both variants"
    if not np.any(series.treatment - series.control != (series.treatment - series.control)[0]):
        return "the per-bucket difference never varies"
    return None


def inference_at(
    looks: TimeLooks, index: int, inference: str, tuning: sequential.Tuning
) -> sequential.Inference:
    """The comparison at look `index` of `looks` (its variance must be > 0)."""
    units = int(looks.units[index])
    relative = float(looks.relative_lift[..., index])
    relative_variance = float(looks.relative_variance[..., index])
    known = np.isfinite(relative) and np.isfinite(relative_variance)
    estimates = (
        float(looks.lift[..., index]),
        float(looks.variance[..., index]),
        relative if known else None,
        relative_variance if known else None,
        units,
    )
    if inference == "sequential":
        return sequential.from_estimates(*estimates, tuning, "time")
    if inference == "fixed":
        return sequential.fixed_from_estimates(*estimates, units - 1, tuning.alpha, "time")
    raise ValueError(f"unknown inference {inference!r}")


def infer_time(
    series: PairedMinutes, inference: str, tuning: sequential.Tuning, ends=None
) -> list[sequential.Inference]:
    """The comparison at each look (index of a look's last paired minute; default: the end).

    Looks with fewer than MIN_MINUTES minutes must be left out by the caller (see refusal).
    """
    ends = np.array([len(series.minutes) - 1] if ends is None else ends, dtype=np.int64)
    if ends.size and ends.min() + 1 < MIN_MINUTES:
        raise ValueError(f"a look needs at least {MIN_MINUTES} paired minutes")
    looks = time_looks(series.control, series.treatment, ends)
    return [inference_at(looks, index, inference, tuning) for index in range(len(ends))]
