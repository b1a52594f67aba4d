"""Planning numbers against an independent power calculation (scipy) and a simulation.

Fixed: the detectable effect has power 0.80 by scipy's normal two-sided power
(both tails), and the sample size needed solves scipy's power equation
(brentq). Sequential: the detectable effect is detected at the current look in
80% of simulated runs (normal data through sequential.sample_looks), within
three Monte Carlo standard errors.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize
from scipy import stats as scipy_stats  # the test extra's reference, never at run time

from tests.analysis import simulations
from tsmetrics.analysis import planning, sequential, stats, time_unit

TUNING = sequential.Tuning.at(20_000)


def _normal_power(effect: float, se: float, alpha: float = 0.05) -> float:
    z = scipy_stats.norm.isf(alpha / 2)
    return scipy_stats.norm.sf(z - effect / se) + scipy_stats.norm.cdf(-z - effect / se)


@pytest.mark.parametrize("s2, units", [(400.0, 10_000), (2.5, 64), (1e6, 3e6)])
def test_fixed_detectable_effect_has_80_percent_power(s2, units):
    effect = planning.detectable_effect(s2, units, "fixed", TUNING)
    assert _normal_power(effect, math.sqrt(s2 / units)) == pytest.approx(0.8, abs=1e-6)
    needed = planning.units_needed(s2, effect / 2, "fixed", TUNING)
    want = optimize.brentq(
        lambda n: _normal_power(effect / 2, math.sqrt(s2 / n)) - 0.8, units, 100 * units, xtol=1e-9
    )
    assert needed == pytest.approx(want, rel=1e-5)


def test_sequential_detectable_effect_is_detected_in_80_percent_of_runs():
    rng = np.random.default_rng(21)
    runs, per_variant, sd = 20_000, 2_000, 10.0
    s2 = 2 * per_variant * (2 * sd * sd / per_variant)  # N times the variance of the lift
    effect = planning.detectable_effect(s2, 2 * per_variant, "sequential", TUNING)
    moments = []
    for mean in (100.0, 100.0 + effect):
        x_bar = rng.normal(mean, sd / math.sqrt(per_variant), runs)
        var = sd * sd * rng.chisquare(per_variant - 1, runs) / (per_variant - 1)
        moments += [np.full(runs, per_variant), x_bar, var]
    looks = sequential.sample_looks(*moments, TUNING)
    share = float(np.mean((looks.p_value < 0.05) & (looks.lift > 0)))
    assert share == pytest.approx(0.8, abs=3 * simulations.mc_error(0.8, runs))
    # And wider than the fixed one: the price of looking at any time.
    assert effect > planning.detectable_effect(s2, 2 * per_variant, "fixed", TUNING)


def test_sequential_units_needed_inverts_the_detectable_effect():
    for s2, effect in ((400.0, 0.5), (1.0, 0.001), (1e4, 30.0)):
        needed = planning.units_needed(s2, effect, "sequential", TUNING)
        assert planning.detectable_effect(s2, needed, "sequential", TUNING) == pytest.approx(
            effect, rel=1e-9
        )


def test_plan_says_when_a_planned_effect_becomes_detectable():
    c = stats.Moments.from_sums(5000, 250_000, 5000 * (2500 + 100))  # mean 50, variance ~100
    t = stats.Moments.from_sums(5000, 250_500, 5000 * (2510.01 + 100))
    s2, units = planning.sample_variance(c, t)
    assert units == 10_000 and s2 == pytest.approx(4 * 100, rel=1e-3)
    rate = units / 3600  # the samples came in over an hour
    for inference in ("fixed", "sequential"):
        plan = planning.plan(
            s2=s2,
            units=units,
            units_per_second=rate,
            control_mean=50.0,
            inference=inference,
            tuning=TUNING,
            planned_relative_effect=0.01,
        )
        assert plan.relative_detectable_now == pytest.approx(plan.detectable_now / 50)
        assert plan.seconds_to_detectable == pytest.approx((plan.units_needed - units) / rate)
        later = planning.plan(
            s2=s2,
            units=plan.units_needed * 1.01,
            units_per_second=rate,
            control_mean=50.0,
            inference=inference,
            tuning=TUNING,
            planned_relative_effect=0.01,
        )
        assert later.seconds_to_detectable == 0.0
        assert later.detectable_now < 0.5
    stalled = planning.plan(
        s2=s2,
        units=units,
        units_per_second=0.0,
        control_mean=50.0,
        inference="fixed",
        tuning=TUNING,
        planned_relative_effect=0.001,
    )
    assert stalled.units_needed > units and stalled.seconds_to_detectable is None
    unplanned = planning.plan(
        s2=s2,
        units=units,
        units_per_second=rate,
        control_mean=0.0,
        inference="sequential",
        tuning=TUNING,
        planned_relative_effect=0.01,
    )
    assert (unplanned.relative_detectable_now, unplanned.units_needed) == (None, None)
    with pytest.raises(ValueError, match="unknown inference"):
        planning.detectable_effect(s2, units, "bayes", TUNING)


def test_time_unit_variance_is_the_long_run_variance_per_minute():
    rng = np.random.default_rng(22)
    c = 40 + rng.normal(0, 1, 500)
    series = time_unit.PairedMinutes(np.arange(500) * 60, c, c + rng.normal(0, 2, 500))
    s2, units = planning.time_variance(series)
    looks = time_unit.time_looks(series.control, series.treatment)
    assert units == 500 and s2 == pytest.approx(looks.variance[-1] * 500, rel=1e-12)
