"""The statistics against scipy (a test-only dependency), to far better than 1e-9 relative."""

from __future__ import annotations

import itertools
import math
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats as scipy_stats  # the test extra's reference, never at run time

from tsmetrics.analysis import distributions, stats

REL = 1e-12  # the bar is 1e-9; the pure-Python functions do far better
# Small df, the switch-over between methods near 60, and the millions of
# degrees of freedom that a month of samples gives; fractional df from Welch.
DFS = [0.5, 1, 1.5, 2, 3, 4.7, 10, 29.9, 30, 59.9, 60, 61, 100, 333.3, 1e3, 1e4, 1e5, 1e6, 1e7, 1e9]
TS = [1e-6, 0.1, 0.5, 1, 1.5, 1.73, 1.96, 2.2, 3, 5, 8, 10, 20, 40, 100, 1e3, 1e5]


def _close(got: float, want: float, rel: float = REL) -> bool:
    return got == pytest.approx(want, rel=rel, abs=0)


def _t_sf_reference(t: float, df: float) -> float:
    # Closed forms where scipy itself is off (it gives 0.49999968167597 for
    # df = 1, t = 1e-6, where 1/2 - atan(t)/pi = 0.49999968169011).
    if df == 1:
        return math.atan2(1, t) / math.pi
    if df == 2:
        root = math.sqrt(2 + t * t)
        return 0.5 - t / (2 * root) if t < 1 else 1 / (root * (root + t))
    return scipy_stats.t.sf(t, df)


@pytest.mark.parametrize("df", DFS)
def test_t_survival_function_matches_scipy(df):
    for t in [*TS, *(-t for t in TS)]:
        want = _t_sf_reference(t, df)
        if want < 1e-290:  # below the float range both round to 0 or subnormals
            continue
        assert _close(distributions.t_sf(t, df), want), (t, df)


def test_t_survival_function_on_random_arguments():
    rng = np.random.default_rng(7)
    dfs = [*rng.uniform(0.5, 80, 100), *(10 ** rng.uniform(1, 9.5, 200))]
    for df in dfs:
        for t in [*rng.uniform(-6, 6, 3), *(10 ** rng.uniform(-5, 2.5, 3))]:
            want = scipy_stats.t.sf(t, df)
            if want > 1e-290:
                assert _close(distributions.t_sf(t, df), want), (t, df)


@pytest.mark.parametrize("df", DFS)
def test_t_quantiles_match_scipy(df):
    for p in (0.4999, 0.4, 0.25, 0.1, 0.05, 0.025, 0.01, 1e-3, 1e-5, 1e-10, 1e-20, 1e-50):
        assert _close(distributions.t_isf(p, df), scipy_stats.t.isf(p, df)), (p, df)
    assert distributions.t_isf(0.5, df) == 0.0


def test_t_density_matches_scipy():
    for df, t in itertools.product(DFS, [0, 0.5, 2, 10]):
        assert _close(distributions.t_pdf(t, df), scipy_stats.t.pdf(t, df), 1e-11), (t, df)


@pytest.mark.parametrize("df", range(1, 25))
def test_chi_squared_survival_matches_scipy(df):
    for x in (1e-6, 0.01, 0.5, 1, 2, 3, 5, 10, 15, 20, 30, 50, 100, 200, 500, 1000):
        want = scipy_stats.chi2.sf(x, df)
        if want > 1e-290:
            assert _close(distributions.chi2_sf(x, df), want), (x, df)


def test_distribution_arguments_are_checked():
    for call in (
        lambda: distributions.t_sf(1, 0),
        lambda: distributions.t_sf(math.nan, 3),
        lambda: distributions.t_isf(0, 3),
        lambda: distributions.t_isf(1, 3),
        lambda: distributions.chi2_sf(1, -1),
    ):
        with pytest.raises(ValueError):
            call()
    assert distributions.t_sf(math.inf, 3) == 0.0
    assert distributions.t_sf(-math.inf, 3) == 1.0
    assert distributions.chi2_sf(0, 2) == 1.0


def moments(values) -> stats.Moments:
    """Moments as the rollups hold them: exact decimal sums of the values."""
    decimals = [Decimal(repr(float(v))) for v in values]
    return stats.Moments.from_sums(len(decimals), sum(decimals), sum(d * d for d in decimals))


def _samples(seed: int, n: int, mean: float, sd: float) -> np.ndarray:
    # Three decimals, as real metrics carry: the decimal sums are then exact.
    return np.round(np.random.default_rng(seed).normal(mean, sd, n), 3)


@pytest.mark.parametrize(
    ("nc", "nt", "shift", "sd_t"),
    [(300, 200, 3.0, 25.0), (50, 5000, -1.0, 5.0), (2, 3, 10.0, 20.0), (10_000, 9_000, 0.2, 20.0)],
)
def test_welch_matches_scipy(nc, nt, shift, sd_t):
    control, treatment = _samples(1, nc, 100, 20), _samples(2, nt, 100 + shift, sd_t)
    got = stats.welch(moments(control), moments(treatment))
    want = scipy_stats.ttest_ind(treatment, control, equal_var=False)
    interval = want.confidence_interval(0.95)
    se = math.sqrt(control.var(ddof=1) / nc + treatment.var(ddof=1) / nt)
    # numpy's float sums carry ~1e-16 relative error, ours none: allow 1e-11.
    assert _close(got.t, want.statistic, 1e-11)
    assert _close(got.df, want.df, 1e-11)
    assert _close(got.p_value, want.pvalue, 1e-10)
    assert got.lift == pytest.approx(treatment.mean() - control.mean(), rel=1e-11, abs=1e-12 * se)
    assert got.lift_interval.low == pytest.approx(interval.low, rel=1e-11, abs=1e-11 * se)
    assert got.lift_interval.high == pytest.approx(interval.high, rel=1e-11, abs=1e-11 * se)


def test_relative_lift_is_the_delta_method_interval():
    control, treatment = _samples(3, 800, 50, 10), _samples(4, 700, 52, 12)
    got = stats.welch(moments(control), moments(treatment))
    mc, mt = control.mean(), treatment.mean()
    vc, vt = control.var(ddof=1) / 800, treatment.var(ddof=1) / 700
    ratio = mt / mc
    var = (vt + ratio**2 * vc) / mc**2
    df = (vt + ratio**2 * vc) ** 2 / (vt**2 / 699 + ratio**4 * vc**2 / 799)
    half = scipy_stats.t.isf(0.025, df) * math.sqrt(var)
    assert _close(got.relative_lift, ratio - 1, 1e-11)
    assert _close(got.relative_interval.low, ratio - 1 - half, 1e-11)
    assert _close(got.relative_interval.high, ratio - 1 + half, 1e-11)


def test_mean_interval_matches_scipy():
    values = _samples(5, 40, 10, 2)
    got = stats.mean_interval(moments(values))
    low, high = scipy_stats.t.interval(
        0.95, len(values) - 1, loc=values.mean(), scale=scipy_stats.sem(values)
    )
    assert (_close(got.low, low, 1e-11), _close(got.high, high, 1e-11)) == (True, True)


def test_variance_is_exact_for_a_large_mean_with_a_small_spread():
    # 1e9 + k/1000: the naive float formula E[x²] - E[x]² loses every digit here.
    rng = np.random.default_rng(11)
    decimals = [Decimal(1_000_000_000) + Decimal(int(k)) / 1000 for k in rng.integers(0, 50, 5000)]
    m = stats.Moments.from_sums(len(decimals), sum(decimals), sum(d * d for d in decimals))
    exact = [Fraction(d) for d in decimals]
    mean = sum(exact) / len(exact)
    truth = sum((x - mean) ** 2 for x in exact) / (len(exact) - 1)
    assert m.variance == truth
    floats = np.array([float(d) for d in decimals])
    naive = (np.sum(floats**2) - np.sum(floats) ** 2 / len(floats)) / (len(floats) - 1)
    assert abs(naive - float(truth)) / float(truth) > 1e-3  # the test would catch a naive formula


def test_welch_refuses_what_it_cannot_test():
    one, two = moments([1.0]), moments([1.0, 1.0])
    with pytest.raises(ValueError):
        stats.welch(one, moments([1.0, 2.0]))
    with pytest.raises(ValueError):
        stats.welch(two, moments([3.0, 3.0]))
    # One constant variant is fine: the other carries the variance.
    assert stats.welch(two, moments([2.0, 4.0])).p_value > 0


def test_chi_squared_matches_scipy():
    for observed, weights in (
        ([5050, 4950], [1, 1]),
        ([1000, 3100], [1, 3]),
        ([500, 520, 480, 610], [1, 1, 1, 1]),
        ([10, 0, 5], [0.2, 0.3, 0.5]),
        ([500_123, 499_000], [50, 50]),
    ):
        got = stats.chi_squared(observed, weights)
        total = sum(observed)
        expected = [total * w / sum(weights) for w in weights]
        want = scipy_stats.chisquare(observed, expected)
        assert _close(got.statistic, want.statistic, 1e-12)
        assert _close(got.p_value, want.pvalue, 1e-11)
        assert got.df == len(observed) - 1
    with pytest.raises(ValueError):
        stats.chi_squared([0, 0], [1, 1])


P_VALUES = [
    [0.01, 0.04, 0.03, 0.005],
    [0.2, 0.2, 0.01, 0.9, 0.049, 0.0001],
    [0.5],
    [1e-10, 0.04, 0.04, 0.04],
]


@pytest.mark.parametrize("p_values", P_VALUES)
def test_benjamini_hochberg_matches_scipy(p_values):
    want = scipy_stats.false_discovery_control(p_values, method="bh")
    assert stats.benjamini_hochberg(p_values) == pytest.approx(list(want), rel=1e-15)


def _holm_by_definition(p_values: list[float]) -> list[float]:
    # The adjusted p-value of H_(i) is max over j <= i of (m - j + 1) p_(j), capped at 1.
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    return [
        min(1.0, max((m - j) * p_values[order[j]] for j in range(order.index(i) + 1)))
        for i in range(m)
    ]


@pytest.mark.parametrize("p_values", P_VALUES)
def test_holm_matches_its_definition(p_values):
    assert stats.holm(p_values) == pytest.approx(_holm_by_definition(p_values), rel=1e-15)
    # And the decisions match Holm's step-down procedure at several levels.
    for alpha in (0.01, 0.05, 0.1):
        order = sorted(range(len(p_values)), key=lambda i: p_values[i])
        rejected = set()
        for rank, index in enumerate(order):
            if p_values[index] > alpha / (len(p_values) - rank):
                break
            rejected.add(index)
        adjusted = stats.holm(p_values)
        assert {i for i, p in enumerate(adjusted) if p <= alpha} == rejected


def test_adjust_and_verdict():
    assert stats.adjust([0.01, 0.02], "none") == [0.01, 0.02]
    with pytest.raises(ValueError):
        stats.adjust([0.01], "bonferroni")
    assert stats.verdict(-3.0, 0.001, higher_is_better=False) == "better"
    assert stats.verdict(-3.0, 0.001, higher_is_better=True) == "worse"
    assert stats.verdict(3.0, 0.001, higher_is_better=True) == "better"
    assert stats.verdict(3.0, 0.2, higher_is_better=True) == "inconclusive"
