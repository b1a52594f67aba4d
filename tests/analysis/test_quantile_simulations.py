"""Coverage of the quantile intervals by simulation (Monte Carlo reference).

At one look (`fixed`): 2,000 runs per case estimate a 95% coverage with a Monte
Carlo standard error of 0.49%; every case (normal and lognormal, 2,000 and
20,000 samples per variant, p50, p95 and p99, difference and relative
difference) must cover the true value 93-97% of the time. At every look
(`sequential`, 100 looks of 200 new samples per variant, up to 20,000): the
share of runs whose sequence misses the true difference at some look must be at
most 5% plus three Monte Carlo errors (7.1% at 1,000 runs), with a real effect
and A/A (where a miss is a false call). The quick lane runs fewer runs with
bounds widened to four Monte Carlo errors. Through real sketches read as the API
reads them (`sketch_coverage`, 1,000 runs per case, Monte Carlo error 0.69%): the
control's interval, the difference and the relative difference must cover 93-97%
too. bench/bench_quantile_inference.py prints the figures quoted in docs/analysis.md.
"""

from __future__ import annotations

import pytest

from tests.analysis import quantile_simulations as sim


def _within(figure: dict, low: float, high: float) -> None:
    assert low <= figure["share"] <= high, figure


def test_quick_fixed_coverage():
    figures = sim.fixed_coverage(seed=21, dist=sim.LOGNORMAL, n=2000, runs=500)
    for per_q in figures.values():
        for figure in per_q.values():
            _within(figure, 0.95 - 4 * 0.0098, 0.95 + 4 * 0.0098)


def test_quick_coverage_through_sketches():
    figures = sim.sketch_coverage(seed=23, dist=sim.NORMAL, n=20_000, runs=300)
    for per_q in figures.values():
        for what in ("control", "difference", "relative"):
            _within(per_q[what], 0.95 - 4 * 0.0126, 0.95 + 4 * 0.0126)


def test_quick_sequential_holds_at_every_look():
    figures = sim.sequential_misses(seed=22, dist=sim.NORMAL.null(), runs=250, looks=30)
    for per_q in figures.values():
        assert per_q["ever_missed"] == per_q["ever_significant"]  # A/A: a miss is a false call
        assert per_q["ever_missed"]["share"] <= 0.05 + 4 * 0.0138, per_q


@pytest.mark.slow
@pytest.mark.parametrize("name", ["normal", "lognormal"])
@pytest.mark.parametrize("n", [2000, 20_000])
def test_fixed_coverage_is_95_percent(name, n):
    figures = sim.fixed_coverage(seed=n + len(name), dist=sim.DISTRIBUTIONS[name], n=n, runs=2000)
    for q, per_q in figures.items():
        for what, figure in per_q.items():
            assert figure["runs"] == 2000
            assert 0.93 <= figure["share"] <= 0.97, (q, what, figure)


@pytest.mark.slow
@pytest.mark.parametrize("case", ["normal", "lognormal", "normal-aa", "lognormal-aa"])
def test_sequential_covers_at_every_look(case):
    name, _, aa = case.partition("-")
    dist = sim.DISTRIBUTIONS[name]
    figures = sim.sequential_misses(seed=len(case), dist=dist.null() if aa else dist, runs=1000)
    for q, per_q in figures.items():
        assert per_q["ever_missed"]["runs"] == 1000 and per_q["looks"] == 100
        assert per_q["ever_missed"]["share"] <= 0.071, (q, per_q)
        if not aa:  # the effects are large enough to be found
            assert per_q["ever_significant"]["share"] >= 0.9, (q, per_q)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["normal", "lognormal"])
@pytest.mark.parametrize("n", [2000, 20_000])
def test_coverage_through_sketches_is_95_percent(name, n):
    figures = sim.sketch_coverage(seed=7 * n + len(name), dist=sim.DISTRIBUTIONS[name], n=n)
    for q, per_q in figures.items():
        for what in ("control", "difference", "relative"):
            assert per_q[what]["runs"] == 1000
            assert 0.93 <= per_q[what]["share"] <= 0.97, (q, what, per_q)
