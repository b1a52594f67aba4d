"""Monte Carlo harness for the quantile inference: coverage at one look and at every look.

Shared by tests/analysis/test_quantile_simulations.py (thresholds) and
bench/bench_quantile_inference.py (the figures for docs/analysis.md). Every
statistic is computed by tsmetrics.analysis.quantile_inference (ranks,
estimates, difference_looks), vectorised over runs (x looks); the samples are
exact sorted numpy arrays (relative error 0), and the true quantiles come from
scipy's normal distribution. Lognormal samples are exp of normal ones, and the
order statistics of a monotone transform are the transformed order statistics,
so one sort serves either distribution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats

from tsmetrics import sketches
from tsmetrics.analysis import quantile_inference as qi
from tsmetrics.analysis import sequential
from tsmetrics.analysis.quantile_compare import Merged

ALPHA = 0.05
QUANTILES = (0.5, 0.95, 0.99)
CHUNK = 250  # runs per batch: bounds memory


@dataclass(frozen=True)
class Distribution:
    """Control and treatment as transforms of standard normal draws."""

    name: str
    control: tuple[float, float]  # (location, scale) of the normal (of the log for lognormal)
    treatment: tuple[float, float]
    log: bool

    def values(self, z, variant: int):
        """Samples of variant 0 (control) or 1 (treatment) from standard normal `z`."""
        loc, scale = self.treatment if variant else self.control
        x = loc + scale * np.asarray(z, dtype=np.float64)
        return np.exp(x) if self.log else x

    def quantile(self, q: float, variant: int) -> float:
        """The true quantile q of a variant."""
        return float(self.values(scipy_stats.norm.ppf(q), variant))

    def difference(self, q: float) -> float:
        """The true treatment minus control at q."""
        return self.quantile(q, 1) - self.quantile(q, 0)

    def relative(self, q: float) -> float:
        """The true relative difference at q."""
        return self.quantile(q, 1) / self.quantile(q, 0) - 1

    def null(self) -> Distribution:
        """The A/A version: treatment equal to control."""
        return Distribution(self.name, self.control, self.control, self.log)


NORMAL = Distribution("normal", (100.0, 30.0), (103.0, 33.0), log=False)
LOGNORMAL = Distribution("lognormal", (4.6, 0.5), (4.55, 0.6), log=True)
DISTRIBUTIONS = {d.name: d for d in (NORMAL, LOGNORMAL)}


def mc_error(share: float, runs: int) -> float:
    """The Monte Carlo standard error of a share estimated from `runs` runs."""
    return float(np.sqrt(max(share * (1 - share), 1e-12) / runs))


def _at(rows: np.ndarray, rank: float) -> np.ndarray:
    k = int(np.floor(rank))
    nxt = min(k + 1, rows.shape[1] - 1)
    return rows[:, k] + (rank - k) * (rows[:, nxt] - rows[:, k])


def read(rows: np.ndarray, r: qi.Ranks, look: int | None = None) -> tuple:
    """The values at the ranks of `r` (its entry `look` for arrays) from sorted rows."""
    pick = (lambda a: a[look]) if look is not None else (lambda a: a)
    last = rows.shape[1] - 1  # ranks beyond the samples (no interval yet) read the ends

    def at(rank) -> np.ndarray:
        return rows[:, min(max(int(pick(rank)), 0), last)]

    return (
        at(r.low),
        at(r.point),
        at(r.high),
        _at(rows, float(pick(r.spread_low))),
        _at(rows, float(pick(r.spread_high))),
    )


def _share(hits: np.ndarray) -> dict:
    share = float(np.mean(hits))
    return {"share": share, "mc_error": mc_error(share, hits.size), "runs": int(hits.size)}


def fixed_coverage(seed: int, dist: Distribution, n: int, runs: int = 1000) -> dict:
    """Per quantile: coverage of the control interval, the difference and relative difference."""
    rng = np.random.default_rng(seed)
    hits = {q: {"control": [], "difference": [], "relative": []} for q in QUANTILES}
    tuning = sequential.Tuning.at(2 * n, ALPHA)
    for done in range(0, runs, CHUNK):
        size = min(CHUNK, runs - done)
        rows = [dist.values(np.sort(rng.standard_normal((size, n)), axis=1), v) for v in (0, 1)]
        for q in QUANTILES:
            r = qi.ranks(n, q, ALPHA)
            c, t = (qi.estimates(read(x, r), 0.0, ALPHA) for x in rows)
            looks = qi.difference_looks(c, t, np.full(size, 2 * n), "fixed", tuning)
            truth = dist.quantile(q, 0)
            hits[q]["control"].append((c.low <= truth) & (truth <= c.high))
            miss = np.abs(looks.difference - dist.difference(q))
            hits[q]["difference"].append(miss <= looks.half_width)
            miss = np.abs(looks.relative - dist.relative(q))
            hits[q]["relative"].append(miss <= looks.relative_half_width)
    return {
        f"p{round(100 * q)}": {k: _share(np.concatenate(v)) for k, v in parts.items()}
        for q, parts in hits.items()
    }


def _sorted_prefixes(rng, size: int, looks: int, block: int):
    """Yield, look by look, the sorted first (look + 1)·block standard normal draws per run."""
    blocks = np.sort(rng.standard_normal((size, looks, block)), axis=-1)
    prefix = np.empty((size, 0))
    for look in range(looks):
        # Timsort merges the two sorted runs in linear time.
        prefix = np.sort(np.concatenate([prefix, blocks[:, look]], axis=1), axis=1, kind="stable")
        yield prefix


def sequential_misses(
    seed: int, dist: Distribution, runs: int = 1000, looks: int = 100, block: int = 200
) -> dict:
    """Per quantile: share of runs whose confidence sequence misses the true difference at
    some look (block new samples per variant between looks), and share ever significant."""
    rng = np.random.default_rng(seed)
    n = block * np.arange(1, looks + 1)
    tuning = sequential.Tuning.at(2 * block * looks, ALPHA)
    misses = {q: [] for q in QUANTILES}
    ranks = {q: qi.ranks(n, q, ALPHA) for q in QUANTILES}
    calls = {q: [] for q in QUANTILES}
    for done in range(0, runs, CHUNK):
        size = min(CHUNK, runs - done)
        values = {q: [[], []] for q in QUANTILES}
        for variant in (0, 1):
            for look, prefix in enumerate(_sorted_prefixes(rng, size, looks, block)):
                for q in QUANTILES:
                    read_ = read(prefix, ranks[q], look)
                    values[q][variant].append([dist.values(v, variant) for v in read_])
        for q in QUANTILES:
            # per look a tuple of values over runs -> estimates over (runs, looks)
            c, t = (
                qi.estimates(tuple(np.stack(v, axis=1) for v in zip(*per, strict=True)), 0.0)
                for per in values[q]
            )
            looks_ = qi.difference_looks(
                c, t, np.broadcast_to(2 * n, (size, looks)), "sequential", tuning
            )
            valid = np.broadcast_to(qi.fits(n, q, ALPHA), (size, looks))
            miss = np.abs(looks_.difference - dist.difference(q)) > looks_.half_width
            misses[q].append((miss & valid).any(axis=1))
            calls[q].append(((looks_.p_value < ALPHA) & valid).any(axis=1))
    return {
        f"p{round(100 * q)}": {
            "ever_missed": _share(np.concatenate(misses[q])),
            "ever_significant": _share(np.concatenate(calls[q])),
            "looks": looks,
            "first_look": int(np.argmax(qi.fits(n, q, ALPHA))),
        }
        for q in QUANTILES
    }


def sketch_coverage(seed: int, dist: Distribution, n: int, runs: int = 1000) -> dict:
    """`fixed_coverage` read through tsmetrics.sketches as the API reads them (merged sketches
    read within their bins): coverage of the control's interval, the difference and the
    relative difference, and the mean half-width relative to the exact samples'."""
    rng = np.random.default_rng(seed)
    tuning = sequential.Tuning.at(2 * n, ALPHA)
    hits = {q: {"control": [], "difference": [], "relative": []} for q in QUANTILES}
    widths = {q: [] for q in QUANTILES}
    for _ in range(runs):
        samples = [dist.values(rng.standard_normal(n), v) for v in (0, 1)]
        sketched = [Merged.of(sketches.Sketch.from_values(x)) for x in samples]
        exact = [_Sorted(np.sort(x)) for x in samples]
        for q in QUANTILES:
            control = qi.estimate(sketched[0], q)
            got = qi.compare(control, qi.estimate(sketched[1], q), "fixed", tuning)
            want = qi.compare(*(qi.estimate(s, q) for s in exact), "fixed", tuning)
            low, high = got.lift_interval.low, got.lift_interval.high
            truth = dist.quantile(q, 0)
            hits[q]["control"].append(control.interval.low <= truth <= control.interval.high)
            hits[q]["difference"].append(low <= dist.difference(q) <= high)
            relative = got.relative_interval
            hits[q]["relative"].append(relative.low <= dist.relative(q) <= relative.high)
            widths[q].append((high - low) / (want.lift_interval.high - want.lift_interval.low))
    return {
        f"p{round(100 * q)}": {
            **{what: _share(np.array(hit)) for what, hit in hits[q].items()},
            "width_over_exact": float(np.mean(widths[q])),
        }
        for q in QUANTILES
    }


@dataclass(frozen=True)
class _Sorted:
    values: np.ndarray

    @property
    def count(self) -> int:
        return len(self.values)

    def value_at_rank(self, k: int) -> float:
        return float(self.values[k])
