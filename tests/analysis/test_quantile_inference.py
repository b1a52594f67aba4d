"""Quantile intervals and comparisons against independent references.

References: numpy on the raw samples (point estimates, method="lower"), scipy's
exact binomial distribution (the coverage of the rank interval), scipy's
`quantile_test` (the exact order-statistic interval), scipy's Maritz-Jarrett
standard error (`mstats.mjci`) and scipy's bootstrap (the difference's
interval). The samples are exact sorted arrays (`Sorted`), or real sketches
read as the API reads them (`Merged`, within their bins), against numpy on
the same samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from scipy import stats as scipy_stats
from scipy.stats import mstats

from tsmetrics import sketches
from tsmetrics.analysis import quantile_inference as qi
from tsmetrics.analysis import sequential
from tsmetrics.analysis.quantile_compare import Merged

QS = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 0.999)


@dataclass(frozen=True)
class Sorted:
    """Exact samples: the reference implementation of qi.Ranked."""

    values: np.ndarray

    @classmethod
    def of(cls, values) -> Sorted:
        """From samples in any order."""
        return cls(np.sort(np.asarray(values, dtype=np.float64)))

    @property
    def count(self) -> int:
        """How many samples."""
        return len(self.values)

    def value_at_rank(self, k: int) -> float:
        """The k-th smallest (0-based)."""
        return float(self.values[k])


def test_point_is_numpy_lower_quantile():
    rng = np.random.default_rng(1)
    for n in (1, 2, 3, 10, 999, 2000, 20001):
        x = rng.lognormal(3, 1, n)
        for q in (*QS, 0.0, 1.0, 0.123):
            assert qi.point(Sorted.of(x), q) == np.quantile(x, q, method="lower"), (n, q)
    assert qi.point(Sorted.of([]), 0.5) is None


@pytest.mark.parametrize("q", QS)
def test_rank_interval_covers_at_least_95_percent_exactly(q):
    """Coverage P(low < B <= high), B ~ Binomial(n, q) below the true quantile (scipy)."""
    first = qi.min_count(q)
    assert qi.fits(first, q) and not qi.fits(first - 1, q)
    for n in sorted({first, first + 1, 2 * first, 700, 2000, 20_000, 200_000}):
        if not qi.fits(n, q):
            continue
        r = qi.ranks(n, q)
        coverage = scipy_stats.binom.cdf(int(r.high), n, q) - scipy_stats.binom.cdf(
            int(r.low), n, q
        )
        assert 0.95 <= coverage <= 0.985, (n, coverage)


@pytest.mark.parametrize("q", (0.05, 0.5, 0.95, 0.99))
def test_interval_is_scipy_exact_order_statistic_interval_within_one_rank(q):
    rng = np.random.default_rng(2)
    x = rng.normal(100, 30, 2000)
    exact = np.sort(x)
    got = qi.estimate(Sorted(exact), q)
    ci = scipy_stats.quantile_test(x, q=0, p=q).confidence_interval(0.95)
    for ours, theirs in ((got.interval.low, ci.low), (got.interval.high, ci.high)):
        assert abs(np.searchsorted(exact, ours) - np.searchsorted(exact, theirs)) <= 1


@pytest.mark.parametrize("q", (0.5, 0.95, 0.99))
def test_standard_error_agrees_with_maritz_jarrett(q):
    rng = np.random.default_rng(3)
    ratios = []
    for _ in range(20):
        x = rng.lognormal(4.6, 0.5, 2000)
        ratios.append(qi.estimate(Sorted.of(x), q).se / mstats.mjci(x, prob=[q])[0])
    assert 0.9 <= np.mean(ratios) <= 1.1, ratios


@pytest.mark.parametrize("q", (0.5, 0.95))
def test_difference_interval_agrees_with_bootstrap(q):
    rng = np.random.default_rng(4)
    c, t = rng.normal(100, 30, 2000), rng.normal(102, 30, 2000)

    def difference(a, b, axis):
        return np.quantile(b, q, axis=axis, method="lower") - np.quantile(
            a, q, axis=axis, method="lower"
        )

    boot = scipy_stats.bootstrap(
        (c, t), difference, n_resamples=2000, method="percentile", rng=rng
    ).confidence_interval
    ours = _compare(Sorted.of(c), Sorted.of(t), q, "fixed").lift_interval
    ratio = (ours.high - ours.low) / (boot.high - boot.low)
    assert 0.85 <= ratio <= 1.15, (ours, boot)


def _compare(c, t, q, inference, n_star=4000):
    control, treatment = qi.estimate(c, q), qi.estimate(t, q)
    return qi.compare(control, treatment, inference, sequential.Tuning.at(n_star))


def test_fixed_is_the_normal_test_on_exact_samples():
    rng = np.random.default_rng(5)
    c, t = Sorted.of(rng.normal(100, 30, 3000)), Sorted.of(rng.normal(101, 30, 2500))
    control, treatment = qi.estimate(c, 0.5), qi.estimate(t, 0.5)
    got = qi.compare(control, treatment, "fixed", sequential.Tuning.at(5500))
    d = treatment.value - control.value
    se = math.hypot(control.se, treatment.se)
    assert got.lift == d and got.units == 5500 and got.tuning is None and got.df is None
    assert got.p_value == pytest.approx(2 * scipy_stats.norm.sf(abs(d) / se), rel=1e-12)
    half = scipy_stats.norm.isf(0.025) * se
    assert got.lift_interval.high - d == pytest.approx(half, rel=1e-12)
    ratio = treatment.value / control.value
    rel_se = math.sqrt(treatment.se**2 + ratio**2 * control.se**2) / control.value
    assert got.relative_lift == pytest.approx(ratio - 1, rel=1e-12)
    assert got.relative_interval.low == pytest.approx(ratio - 1 - 1.959963984540054 * rel_se)


def test_sequential_uses_the_confidence_sequence_of_means():
    rng = np.random.default_rng(6)
    c, t = Sorted.of(rng.normal(100, 30, 3000)), Sorted.of(rng.normal(101, 30, 2500))
    control, treatment = qi.estimate(c, 0.95), qi.estimate(t, 0.95)
    tuning = sequential.Tuning.at(20_000)
    got = qi.compare(control, treatment, "sequential", tuning)
    se = math.hypot(control.se, treatment.se)
    z = got.lift / se
    assert got.statistic == pytest.approx(z, rel=1e-12) and got.tuning == tuning
    assert got.p_value == pytest.approx(float(sequential.always_valid_p(z, 5500, tuning)))
    half = float(sequential.multiplier(5500, tuning)) * se
    assert got.lift_interval.high - got.lift == pytest.approx(half, rel=1e-12)


@pytest.mark.parametrize("inference", ("fixed", "sequential"))
def test_p_value_is_below_alpha_exactly_when_the_interval_excludes_zero(inference):
    rng = np.random.default_rng(7)
    seen = set()
    for case in range(300):
        shift = rng.normal(0, 1.5)
        read = Sorted.of if case % 2 else _sketched  # exact samples, and through sketches
        c = read(rng.normal(100, 30, 2000))
        t = read(rng.normal(100 + shift, 30, 2000))
        got = _compare(c, t, 0.5, inference)
        excludes = got.lift_interval.low > 0 or got.lift_interval.high < 0
        assert (got.p_value < 0.05) == excludes, (got, read)
        seen.add(excludes)
    assert seen == {True, False}


def _sketched(values) -> Merged:
    return Merged.of(sketches.Sketch.from_values(np.asarray(values, dtype=np.float64)))


def test_a_reading_within_its_bin_is_within_one_percent_of_every_value_the_bin_holds():
    """Bins span 1.005%: the reading, wherever in the bin, stays within 1% of both edges."""
    rng = np.random.default_rng(8)
    values = np.concatenate([rng.lognormal(0, 20, 2000), -rng.lognormal(0, 20, 2000)])
    bins = sketches.ordinals(values)
    edges = np.abs(sketches.within_bins(bins, np.zeros(len(bins))))
    for position in np.linspace(0, 1, 41):
        read = sketches.within_bins(bins, np.full(len(bins), position))
        assert (np.sign(read) == np.sign(values)).all()
        # The bin's magnitudes: (lower, lower·GAMMA]; the lowest and the highest it holds.
        lower = np.exp((np.abs(bins) - sketches.BIN_SHIFT - 1) * math.log(sketches.GAMMA))
        for edge in (lower * (1 + 1e-12), lower * sketches.GAMMA):
            assert (np.abs(np.abs(read) - edge) <= 0.01 * edge).all(), position
    assert np.allclose(
        edges[bins > 0],
        np.exp((bins[bins > 0] - sketches.BIN_SHIFT - 1) * math.log(sketches.GAMMA)),
    )


def test_read_noise_measures_how_far_the_exact_values_are():
    """Over many ranks of real sketches, (exact - read)/noise has a spread close to 1."""
    rng = np.random.default_rng(9)
    data = {
        "normal": rng.normal(100, 30, 20_000),
        "lognormal": rng.lognormal(4.6, 0.5, 20_000),
        "pareto": (rng.pareto(1.5, 20_000) + 1) * 10,
        "negative": -rng.lognormal(0, 1, 2000),
        "few": rng.normal(100, 30, 300),
    }
    for name, x in data.items():
        exact, read = np.sort(x), _sketched(x)
        ks = rng.integers(0, len(x), 400)
        noise = np.array([read.noise_at_rank(int(k)) for k in ks])
        errors = (exact[ks] - np.array(read.values_at_ranks(ks.tolist()))) / noise
        assert 0.5 <= np.sqrt(np.mean(errors**2)) <= 1.3, name


def test_too_few_samples_give_no_interval():
    for q in (0.5, 0.99, 0.999):
        first = qi.min_count(q)
        rng = np.random.default_rng(9)
        assert qi.estimate(_sketched(rng.normal(size=first - 1)), q) is None
        got = qi.estimate(_sketched(rng.normal(size=first)), q)
        assert got is not None and got.count == first
    assert qi.min_count(0.99) == 476 and qi.min_count(0.999) == 4786
    assert qi.estimate(Sorted.of([]), 0.5) is None


def test_no_spread_and_zero_control_have_no_statistic_or_relative():
    flat = Sorted.of(np.zeros(1000))
    assert _compare(flat, flat, 0.5, "fixed") is None
    assert _compare(_sketched(np.zeros(1000)), _sketched(np.zeros(1000)), 0.5, "sequential") is None
    rng = np.random.default_rng(10)
    # Control's median exactly 0 (half the samples are 0): no relative difference.
    c = Sorted.of(np.concatenate([np.zeros(1001), rng.normal(5, 1, 999)]))
    t = Sorted.of(rng.normal(0.5, 1, 2000))
    got = _compare(c, t, 0.5, "fixed")
    assert got is not None and got.relative_lift is None and got.relative_interval is None


def test_vectorised_looks_equal_the_scalar_comparison():
    rng = np.random.default_rng(11)
    runs = [
        (Sorted.of(rng.normal(100, 30, 2000)), Sorted.of(rng.normal(101, 30, 2000)))
        for _ in range(5)
    ]
    tuning = sequential.Tuning.at(4000)
    for inference in ("fixed", "sequential"):
        reads = [[qi.estimate(x, 0.95) for x in pair] for pair in runs]
        stacked = [
            qi.Estimates(
                *(np.array([getattr(r[v], f) for r in reads]) for f in ("value",)),
                np.array([r[v].interval.low for r in reads]),
                np.array([r[v].interval.high for r in reads]),
                np.array([r[v].se for r in reads]),
                np.array([r[v].noise for r in reads]),
            )
            for v in (0, 1)
        ]
        looks = qi.difference_looks(*stacked, np.full(5, 4000), inference, tuning)
        for k, (c, t) in enumerate(reads):
            one = qi.compare(c, t, inference, tuning)
            assert looks.p_value[k] == pytest.approx(one.p_value, rel=1e-12)
            assert looks.difference[k] + looks.half_width[k] == pytest.approx(
                one.lift_interval.high
            )
    with pytest.raises(ValueError, match="unknown inference"):
        qi.difference_looks(*stacked, np.full(5, 4000), "bayesian", tuning)


@pytest.mark.parametrize("inference", ("fixed", "sequential"))
def test_real_sketches_read_within_one_percent_of_the_exact_samples(inference):
    """tsmetrics.sketches read as the comparison reads them: points and interval ends within
    1% of numpy's on the same samples; the difference's interval about as wide as the
    exact samples' (the SE read through bins, plus the read noise)."""
    rng = np.random.default_rng(12)
    data = {
        "normal": lambda n: rng.normal(100, 30, n),
        "lognormal": lambda n: rng.lognormal(4.6, 0.5, n),
        "negative": lambda n: -rng.lognormal(0, 1, n),
        "around zero": lambda n: rng.normal(0, 1e-9, n),
        "huge": lambda n: rng.lognormal(27, 0.1, n),
    }
    for name, draw in data.items():
        for n in (2000, 20_000):
            c, t = draw(n), draw(n) * 1.002
            exact = [Sorted.of(x) for x in (c, t)]
            sketched = [_sketched(x) for x in (c, t)]
            for q in (0.5, 0.95, 0.99):
                for x, e, s in zip((c, t), exact, sketched, strict=True):
                    inner, outer = qi.estimate(e, q), qi.estimate(s, q)
                    truth = np.quantile(x, q, method="lower")
                    assert abs(outer.value - truth) <= 0.01 * abs(truth), (name, q)
                    for end in ("low", "high"):
                        ours, theirs = getattr(outer.interval, end), getattr(inner.interval, end)
                        assert abs(ours - theirs) <= 0.01 * abs(theirs), (name, q)
                want, got = _compare(*exact, q, inference), _compare(*sketched, q, inference)
                width = got.lift_interval.high - got.lift_interval.low
                exact_width = want.lift_interval.high - want.lift_interval.low
                assert width >= exact_width * 0.8, (name, q)
