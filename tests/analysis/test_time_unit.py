"""The unit `time` (paired minutes, prewhitened HAC) against direct computations.

References: brute-force sums for the autocovariances, the closed-form long-run
variance of an AR(1) process, an explicit delta-method series for the relative
lift, and scipy's Student t for the fixed test.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from scipy import signal
from scipy import stats as scipy_stats  # the test extra's reference, never at run time

from tsmetrics.analysis import sequential, time_unit


def _brute_covariance(x, y, k):
    x, y = x - x.mean(), y - y.mean()
    return float((x[k:] * y[: len(x) - k]).sum() / len(x)) if k < len(x) else 0.0


def test_cross_covariances_equal_direct_sums_at_every_prefix():
    rng = np.random.default_rng(0)
    x = rng.normal(1e6, 1, (3, 60))  # a large level: the shift must keep the digits
    y = rng.normal(-20, 3, (3, 60))
    ends = np.array([0, 1, 4, 17, 59])
    got = time_unit.cross_covariances(x, y, ends, 6)
    for run in range(3):
        for i, end in enumerate(ends):
            for k in range(7):
                want = _brute_covariance(x[run, : end + 1], y[run, : end + 1], k)
                assert got[run, i, k] == pytest.approx(want, rel=1e-7, abs=1e-9)


def _hac_direct(z):
    """The prewhitened Bartlett estimate written out on the series itself."""
    m = len(z)
    gamma = np.array([_brute_covariance(z, z, k) for k in range(m)])
    r = np.clip(gamma[1] / gamma[0], -0.97, 0.97)
    width = int(np.floor(4 * (m / 100) ** (2 / 9)))
    ge = [(1 + r * r) * gamma[k] - r * (gamma[abs(k - 1)] + gamma[k + 1]) for k in range(width + 1)]
    omega = ge[0] + 2 * sum((1 - k / (width + 1)) * ge[k] for k in range(1, width + 1))
    return omega / (1 - r) ** 2


def test_lift_and_relative_lift_variances_equal_the_direct_estimator():
    rng = np.random.default_rng(1)
    c = 50 + signal.lfilter([1], [1, -0.6], rng.normal(0, 1, 700))
    t = c * 1.02 + signal.lfilter([1], [1, -0.4], rng.normal(0, 0.5, 700))
    looks = time_unit.time_looks(c, t, np.array([99, 699]))
    for i, m in enumerate((100, 700)):
        d = t[:m] - c[:m]
        assert looks.lift[i] == pytest.approx(d.mean(), rel=1e-12)
        assert looks.variance[i] == pytest.approx(_hac_direct(d) / m, rel=1e-9)
        q = d.mean() / c[:m].mean()
        z = ((d - d.mean()) - q * (c[:m] - c[:m].mean())) / c[:m].mean()
        assert looks.relative_lift[i] == pytest.approx(q, rel=1e-12)
        assert looks.relative_variance[i] == pytest.approx(_hac_direct(z) / m, rel=1e-9)


@pytest.mark.parametrize("phi", [0.0, 0.5, 0.9])
def test_long_run_variance_of_an_ar1_process(phi):
    rng = np.random.default_rng(2)
    x = signal.lfilter([1], [1, -phi], rng.normal(0, 1, 100_000))
    looks = time_unit.time_looks(np.zeros_like(x), x, relative=False, ends=[len(x) - 1])
    # Innovation variance 1: long-run variance 1/(1 - phi)².
    assert looks.variance[0] * len(x) == pytest.approx(1 / (1 - phi) ** 2, rel=0.05)


def test_pair_minutes_keeps_the_minutes_both_variants_have():
    control = [(120, 2, Decimal("3.5")), (0, 1, Decimal(1)), (180, 0, Decimal(0)), (60, 4, 2)]
    treatment = [(180, 3, Decimal(3)), (60, 1, Decimal(2)), (0, 2, Decimal(5))]
    paired = time_unit.pair_minutes(control, treatment)
    assert paired.minutes.tolist() == [0, 60]
    assert paired.control.tolist() == [1.0, 0.5]
    assert paired.treatment.tolist() == [2.5, 2.0]
    empty = time_unit.pair_minutes([], treatment)
    assert len(empty.minutes) == 0
    assert time_unit.refusal(empty) == "fewer than 30 minutes with samples in both variants"


def test_inference_at_looks_and_refusals():
    rng = np.random.default_rng(3)
    c = 40 + rng.normal(0, 1, 200)
    series = time_unit.PairedMinutes(np.arange(200) * 60, c, c + 0.3 + rng.normal(0, 1, 200))
    tuning = sequential.Tuning.at(1440)
    assert time_unit.refusal(series) is None
    seq = time_unit.infer_time(series, "sequential", tuning, ends=[49, 199])
    assert [s.units for s in seq] == [50, 200]
    assert {(s.inference, s.unit, s.tuning) for s in seq} == {("sequential", "time", tuning)}
    fixed = time_unit.infer_time(series, "fixed", tuning)[0]
    looks = time_unit.time_looks(series.control, series.treatment)
    se = np.sqrt(looks.variance[-1])
    t = looks.lift[-1] / se
    assert (fixed.statistic, fixed.df) == (pytest.approx(t, rel=1e-12), 199)
    assert fixed.p_value == pytest.approx(2 * scipy_stats.t.sf(abs(t), 199), rel=1e-9)
    half = scipy_stats.t.isf(0.025, 199) * se
    assert fixed.lift_interval.high == pytest.approx(looks.lift[-1] + half, rel=1e-9)
    assert seq[-1].lift_interval.high - seq[-1].lift > half
    with pytest.raises(ValueError, match="at least 30 paired minutes"):
        time_unit.infer_time(series, "sequential", tuning, ends=[28])
    with pytest.raises(ValueError, match="unknown inference"):
        time_unit.infer_time(series, "bayes", tuning)
    flat = time_unit.PairedMinutes(series.minutes, c, c + 1)
    assert time_unit.refusal(flat) == "the per-bucket difference never varies"


def test_pairing_cancels_a_shared_daily_cycle():
    rng = np.random.default_rng(4)
    minutes = np.arange(3 * 1440)
    cycle = 30 * np.sin(2 * np.pi * minutes / 1440)
    c = 50 + cycle + rng.normal(0, 1, len(minutes))
    t = 50.5 + cycle + rng.normal(0, 1, len(minutes))
    looks = time_unit.time_looks(c, t, ends=[len(minutes) - 1])
    # Only the independent noise is left: sd of the lift close to sqrt(2/M).
    assert np.sqrt(looks.variance[0]) == pytest.approx(np.sqrt(2 / len(minutes)), rel=0.15)
