"""Monte Carlo harness for the inference: A/A and power runs through the real functions.

Shared by tests/analysis/test_inference_simulations.py (thresholds) and
bench/bench_inference.py (the figures for bench/RESULTS.md). Every statistic is
computed by tsmetrics.analysis (sequential.sample_looks, sequential.fixed_looks,
time_unit.time_looks, sequential.sequence_looks), vectorised over runs x looks;
only the data and Student's t tail for the fixed figure (scipy, which
tests/analysis/test_stats.py shows equal to tsmetrics' own t_sf) come from here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal
from scipy import stats as scipy_stats

from tsmetrics.analysis import sequential, time_unit

ALPHA = 0.05
PER_LOOK = 100  # new samples per variant between looks, as in issue 12
READINGS_PER_MINUTE = 12  # a gauge read every 5 s
CHUNK = 250  # runs per batch: bounds memory to a few hundred MB


def mc_error(share: float, runs: int) -> float:
    """The Monte Carlo standard error of a share estimated from `runs` runs."""
    return float(np.sqrt(max(share * (1 - share), 1e-12) / runs))


@dataclass(frozen=True)
class Calls:
    """Per run: the first look called significant (-1: never), and in which direction."""

    first: np.ndarray
    sign: np.ndarray

    @property
    def ever(self) -> float:
        """Share of runs called better or worse at some look."""
        return float(np.mean(self.first >= 0))

    def detected(self, direction: int = 1) -> np.ndarray:
        """Per run: called in `direction` (1 up, -1 down) at its first call."""
        return (self.first >= 0) & (self.sign == direction)


def _first_call(significant: np.ndarray, lift: np.ndarray) -> Calls:
    ever = significant.any(axis=-1)
    first = np.where(ever, significant.argmax(axis=-1), -1)
    sign = np.sign(np.take_along_axis(lift, np.maximum(first, 0)[..., None], -1)[..., 0])
    return Calls(first, np.where(ever, sign, 0).astype(int))


def fixed_p(t: np.ndarray, df: np.ndarray) -> np.ndarray:
    """Two-sided p-values of Welch's t (scipy's t tail, vectorised)."""
    return np.minimum(1.0, 2 * scipy_stats.t.sf(np.abs(t), df))


def normal_moments(rng, runs: int, looks: int, mean: float, sd: float):
    """Cumulative (n, mean, variance) per look of PER_LOOK normal samples per look.

    Drawn exactly in distribution: a block's mean is normal and its sum of
    squared deviations sd² times a chi-squared with PER_LOOK - 1 df.
    """
    k = PER_LOOK
    block_mean = rng.normal(mean, sd / np.sqrt(k), (runs, looks))
    block_ss = sd * sd * rng.chisquare(k - 1, (runs, looks))
    n = k * np.arange(1, looks + 1, dtype=np.float64)
    total = np.cumsum(k * block_mean, axis=-1)
    running_mean = total / n
    # Sum of squared deviations about the running mean: within blocks plus between.
    ss = np.cumsum(block_ss + k * (block_mean - mean) ** 2, axis=-1)
    ss -= n * (running_mean - mean) ** 2
    return np.broadcast_to(n, (runs, looks)), running_mean, ss / (n - 1)


def normal_runs(rng, runs, looks, effect, tuning, mean=100.0, sd=100.0):
    """Sequential and fixed calls per run for normal data with treatment mean + effect."""
    control = normal_moments(rng, runs, looks, mean, sd)
    treatment = normal_moments(rng, runs, looks, mean + effect, sd)
    seq = sequential.sample_looks(*control, *treatment, tuning)
    t, df = sequential.fixed_looks(*control, *treatment)
    fixed = _first_call(fixed_p(t, df) < ALPHA, t)
    return _first_call(seq.p_value < ALPHA, seq.lift), fixed, fixed_p(t[:, -1], df[:, -1])


def ar1(rng, runs: int, length: int, phi: float) -> np.ndarray:
    """Stationary AR(1) series with unit variance: x_i = phi x_(i-1) + sqrt(1-phi²) e_i."""
    shocks = rng.standard_normal((runs, length)) * np.sqrt(1 - phi * phi)
    shocks[:, 0] = rng.standard_normal(runs)
    return signal.lfilter([1.0], [1.0, -phi], shocks, axis=-1)


@dataclass(frozen=True)
class GaugeCalls:
    """Calls for one batch of gauge runs under each unit and inference."""

    sample_sequential: Calls
    sample_sequential_end: np.ndarray  # significant at the last look (one look only)
    sample_fixed_end: np.ndarray
    time_sequential: Calls
    time_sequential_end: np.ndarray
    time_fixed_end: np.ndarray


def gauge_runs(rng, runs, minutes, phi, effect, looks_from=time_unit.MIN_MINUTES):
    """A/B runs of AR(1) gauges (READINGS_PER_MINUTE per minute), looked at every minute.

    Returns each unit's calls; sequential tuned at N* = the whole run.
    """
    k = READINGS_PER_MINUTE
    ends = np.arange(looks_from - 1, minutes)
    per_minute = []
    for shift in (0.0, effect):
        x = ar1(rng, runs, minutes * k, phi).reshape(runs, minutes, k) + shift
        per_minute.append((x.sum(-1), (x * x).sum(-1)))
    moments = []
    for total, total_sq in per_minute:
        n = k * (ends + 1.0)
        s, sq = np.cumsum(total, -1)[:, ends], np.cumsum(total_sq, -1)[:, ends]
        moments += [np.broadcast_to(n, s.shape), s / n, (sq - s * s / n) / (n - 1)]
    sample_tuning = sequential.Tuning.at(2 * k * minutes, ALPHA)
    seq = sequential.sample_looks(*moments, sample_tuning)
    t, df = sequential.fixed_looks(*(m[:, -1] for m in moments))
    means = [total / k for total, _ in per_minute]
    looks = time_unit.time_looks(means[0], means[1], ends, relative=False)
    nan = np.full(looks.lift.shape, np.nan)
    tseq = sequential.sequence_looks(
        looks.lift, looks.variance, nan, nan, looks.units, sequential.Tuning.at(minutes, ALPHA)
    )
    t_time = looks.lift[:, -1] / np.sqrt(looks.variance[:, -1])
    return GaugeCalls(
        _first_call(seq.p_value < ALPHA, seq.lift),
        seq.p_value[:, -1] < ALPHA,
        fixed_p(t, df) < ALPHA,
        _first_call(tseq.p_value < ALPHA, tseq.lift),
        tseq.p_value[:, -1] < ALPHA,
        fixed_p(t_time, np.full(runs, minutes - 1.0)) < ALPHA,
    )


def gauge_batches(rng, runs, minutes, phi, effect=0.0) -> GaugeCalls:
    """gauge_runs in batches of CHUNK runs, joined."""
    parts = [
        gauge_runs(rng, min(CHUNK, runs - done), minutes, phi, effect)
        for done in range(0, runs, CHUNK)
    ]
    joined = {}
    for field in GaugeCalls.__dataclass_fields__:
        values = [getattr(part, field) for part in parts]
        if isinstance(values[0], Calls):
            values = Calls(
                *(np.concatenate([getattr(v, f) for v in values]) for f in ("first", "sign"))
            )
        else:
            values = np.concatenate(values)
        joined[field] = values
    return GaugeCalls(**joined)


def family_calls(rng, runs, looks, metrics, tuning):
    """Per run: ever any A/A metric significant, uncorrected, with Holm and with BH."""
    p = np.stack(
        [
            sequential.sample_looks(
                *normal_moments(rng, runs, looks, 100.0, 100.0),
                *normal_moments(rng, runs, looks, 100.0, 100.0),
                tuning,
            ).p_value
            for _ in range(metrics)
        ],
        axis=-1,
    )
    ordered = np.sort(p, axis=-1)
    ranks = np.arange(1, metrics + 1)
    # Holm rejects anything iff its smallest p <= alpha/m; BH iff some p_(k) <= k alpha/m.
    return {
        "none": float(np.mean((ordered[..., 0] < ALPHA).any(-1))),
        "holm": float(np.mean((ordered[..., 0] * metrics < ALPHA).any(-1))),
        "bh": float(np.mean((ordered * metrics / ranks < ALPHA).any(-1).any(-1))),
    }, p


ONE_LOOK_MINUTES = 417  # 5,004 readings per variant: issue 12's single-look setting
MANY_LOOKS = 1000


def _share(calls: np.ndarray | Calls) -> dict:
    runs = len(calls.first) if isinstance(calls, Calls) else len(calls)
    share = calls.ever if isinstance(calls, Calls) else float(np.mean(calls))
    return {"share": share, "mc_error": mc_error(share, runs), "runs": runs}


def aa_normal(seed: int, runs: int = 2000, looks: int = MANY_LOOKS) -> dict:
    """A/A on normal data, PER_LOOK new samples per variant between looks."""
    tuning = sequential.Tuning.at(2 * PER_LOOK * looks, ALPHA)
    seq, fixed, _ = normal_runs(np.random.default_rng(seed), runs, looks, 0.0, tuning)
    return {
        "looks": looks,
        "samples_per_variant_per_look": PER_LOOK,
        "n_star": tuning.n_star,
        "sequential_ever": _share(seq),
        "fixed_ever": _share(fixed),
    }


def aa_gauges(seed: int, phi: float, runs: int = 2000) -> dict:
    """A/A on AR(1) gauges: one look at 417 minutes, and 1,000 looks (every minute)."""
    rng = np.random.default_rng(seed)
    one = gauge_batches(rng, runs, ONE_LOOK_MINUTES, phi)
    many = gauge_batches(rng, runs, MANY_LOOKS + time_unit.MIN_MINUTES - 1, phi)
    return {
        "phi": phi,
        "readings_per_minute": READINGS_PER_MINUTE,
        "one_look_minutes": ONE_LOOK_MINUTES,
        "many_looks": MANY_LOOKS,
        "time_sequential_one_look": _share(one.time_sequential_end),
        "time_fixed_one_look": _share(one.time_fixed_end),
        "time_sequential_many_looks": _share(many.time_sequential),
        "sample_sequential_one_look": _share(one.sample_sequential_end),
        "sample_fixed_one_look": _share(one.sample_fixed_end),
        "sample_sequential_many_looks": _share(many.sample_sequential),
    }


def _detection(calls: Calls) -> dict:
    hits = calls.detected(1)
    first = calls.first[hits] + 1
    median = float(np.median(first)) if first.size else None
    return {
        **_share(hits),
        "median_looks_to_detection": median,
        "median_samples_per_variant": None if median is None else median * PER_LOOK,
    }


def power_normal(seed: int, relative: float, runs: int = 2000, looks: int = MANY_LOOKS) -> dict:
    """Power at a true relative effect (mean 100, sd 100), sequential and fixed at the end."""
    tuning = sequential.Tuning.at(2 * PER_LOOK * looks, ALPHA)
    rng = np.random.default_rng(seed)
    seq, _, p_end = normal_runs(rng, runs, looks, 100.0 * relative, tuning)
    se = 100.0 * np.sqrt(2 / (PER_LOOK * looks))
    z = scipy_stats.norm.isf(ALPHA / 2)
    return {
        "relative_effect": relative,
        "looks": looks,
        "sequential": _detection(seq),
        "fixed_at_end": _share(p_end < ALPHA),
        "fixed_at_end_theory": float(scipy_stats.norm.sf(z - 100.0 * relative / se)),
    }


def power_cost_of_time(seed: int, runs: int = 2000, effect: float = 0.03) -> dict:
    """Power of `time` against `sample` on independent readings (sd 1), same data."""
    calls = gauge_batches(np.random.default_rng(seed), runs, 1030, 0.0, effect)
    return {
        "effect_in_sd": effect,
        "minutes": 1030,
        "sample_fixed_one_look": _share(calls.sample_fixed_end),
        "time_fixed_one_look": _share(calls.time_fixed_end),
        "sample_sequential_ever": _share(calls.sample_sequential.detected(1)),
        "time_sequential_ever": _share(calls.time_sequential.detected(1)),
    }
