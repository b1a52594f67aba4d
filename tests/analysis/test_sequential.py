"""The always-valid inference against gbstats, GrowthBook's own engine: the independent reference.

gbstats 0.8.0 (SequentialTwoSidedTTest and TwoSidedTTest) computes the same
asymptotic confidence sequence, relative lift and always-valid p-value from
n, sum and sum of squares; these tests match it to 1e-6 relative on generated
moments. gbstats pins numpy < 2, so it is installed beside the project with
`pip install --no-deps gbstats==0.8.0` (its frequentist module needs only numpy,
scipy and pydantic); where it is missing, the live comparison skips and the
same comparison runs against gbstats outputs recorded in
tests/analysis/data/gbstats_reference.json (which the live test also checks).
"""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from tsmetrics.analysis import sequential, stats

REL = 1e-6
RECORDED = Path(__file__).parent / "data" / "gbstats_reference.json"


def _cases() -> list[dict]:
    """Moments of normal samples: sizes from 20 to a million, spreads, N*, alpha."""
    rng = np.random.default_rng(1212)
    cases = []
    for index in range(60):
        row = {"n_star": float(10 ** rng.uniform(2, 6.5)), "alpha": [0.05, 0.1, 0.01][index % 3]}
        base = rng.uniform(-50, 200)
        spread = rng.uniform(0.5, 40)
        effect = rng.normal(0, spread) * [0.0, 0.02, 0.05, 0.1, 0.3][index % 5]
        for side, lift in (("a", 0.0), ("b", effect)):
            n = int(10 ** rng.uniform(1.3, 6))
            x = rng.normal(base + lift, spread * rng.uniform(0.8, 1.2), min(n, 5000))
            # Moments scaled up to n as if from n samples: what the rollups return.
            scale = n / len(x)
            row[side] = {
                "n": n,
                "sum": float(x.sum() * scale),
                "sum_squares": float((x * x).sum() * scale),
            }
        cases.append(row)
    return cases


def _gbstats_results(case: dict) -> dict:
    frequentist = pytest.importorskip(
        "gbstats.frequentist.tests",
        reason="gbstats is not installed (pip install --no-deps gbstats==0.8.0 pydantic)",
    )
    from gbstats.models.statistics import SampleMeanStatistic

    a, b = (SampleMeanStatistic(**case[side]) for side in ("a", "b"))
    out = {}
    with np.errstate(over="ignore"):  # gbstats' e-value overflows to inf (p = 0) on huge z
        for kind in ("absolute", "relative"):
            _gbstats_kind(frequentist, a, b, case, kind, out)
    return out


def _gbstats_kind(frequentist, a, b, case, kind, out) -> None:
    config = frequentist.SequentialConfig(
        difference_type=kind, alpha=case["alpha"], sequential_tuning_parameter=case["n_star"]
    )
    result = frequentist.SequentialTwoSidedTTest(a, b, config).compute_result()
    out[kind] = {"ci": list(result.ci), "p": result.p_value, "estimate": result.expected}
    fixed = frequentist.FrequentistConfig(difference_type=kind, alpha=case["alpha"])
    result = frequentist.TwoSidedTTest(a, b, fixed).compute_result()
    out[f"fixed_{kind}"] = {"ci": list(result.ci), "p": result.p_value}


def _moments(side: dict) -> stats.Moments:
    return stats.Moments(side["n"], Fraction(side["sum"]), Fraction(side["sum_squares"]))


def _close(got: float, want: float) -> bool:
    return got == pytest.approx(want, rel=REL, abs=1e-300)


def _close_p(got: float, want: float) -> bool:
    # gbstats computes 1 - cdf (absolute error ~1e-16) and 1/exp (0 past overflow).
    return _close(got, want) if want > 1e-10 else abs(got - want) < 1e-15


def _check(case: dict, reference: dict) -> None:
    tuning = sequential.Tuning.at(case["n_star"], case["alpha"])
    control, treatment = _moments(case["a"]), _moments(case["b"])
    ours = sequential.infer(control, treatment, "sequential", tuning)
    absolute, relative = reference["absolute"], reference["relative"]
    assert _close(ours.lift, absolute["estimate"])
    assert _close(ours.lift_interval.low, absolute["ci"][0])
    assert _close(ours.lift_interval.high, absolute["ci"][1])
    assert _close_p(ours.p_value, absolute["p"])
    assert _close(ours.relative_lift, relative["estimate"])
    assert _close(ours.relative_interval.low, relative["ci"][0])
    assert _close(ours.relative_interval.high, relative["ci"][1])
    # gbstats also gives the always-valid p-value of the relative lift.
    half = ours.relative_interval.high - ours.relative_lift
    z = ours.relative_lift / (half / float(sequential.multiplier(ours.units, tuning)))
    assert _close_p(float(sequential.always_valid_p(z, ours.units, tuning)), relative["p"])
    # Fixed: the same Welch test (gbstats' relative df differs from ours, so absolute only).
    fixed = sequential.infer(control, treatment, "fixed", tuning)
    assert _close(fixed.lift_interval.low, reference["fixed_absolute"]["ci"][0])
    assert _close(fixed.lift_interval.high, reference["fixed_absolute"]["ci"][1])
    assert _close_p(fixed.p_value, reference["fixed_absolute"]["p"])


def test_matches_gbstats_live():
    cases = _cases()
    for case in cases:
        _check(case, _gbstats_results(case))
    recorded = json.loads(RECORDED.read_text())
    live = [{"case": c, "gbstats": _gbstats_results(c)} for c in cases]
    # The last bits of gbstats' floats follow the installed numpy and scipy, so
    # the record is compared to 1e-9, far inside the tolerance of _check above.
    assert [r["case"] for r in recorded] == cases
    assert _leaves(recorded) == pytest.approx(_leaves(live), rel=1e-9, abs=1e-12), (
        "the recorded gbstats outputs are stale: rewrite them with write_reference()"
    )


def _leaves(tree) -> list:
    """Every number of a nested structure of dicts and lists, in a fixed order."""
    if isinstance(tree, dict):
        return [leaf for key in sorted(tree) for leaf in _leaves(tree[key])]
    if isinstance(tree, list):
        return [leaf for item in tree for leaf in _leaves(item)]
    return [tree]


def test_matches_recorded_gbstats_outputs():
    recorded = json.loads(RECORDED.read_text())
    assert [r["case"] for r in recorded] == _cases()
    for row in recorded:
        _check(row["case"], row["gbstats"])


def write_reference() -> None:
    """Record gbstats' outputs for _cases() (run by hand after changing the cases)."""
    rows = [{"case": c, "gbstats": _gbstats_results(c)} for c in _cases()]
    RECORDED.parent.mkdir(exist_ok=True)
    RECORDED.write_text(json.dumps(rows, indent=1) + "\n")


def test_p_value_is_the_smallest_alpha_whose_sequence_excludes_zero():
    rng = np.random.default_rng(5)
    tuning = sequential.Tuning.at(10_000)
    n = 10 ** rng.uniform(1, 7, 2000)
    z = rng.normal(0, 4, 2000)
    p = sequential.always_valid_p(z, n, tuning)
    assert np.all((p > 0) & (p <= 1))
    for share in (0.999, 1.001):
        # At alpha = p (rho held fixed) the boundary passes through the estimate.
        u = n * tuning.rho**2
        boundary = np.sqrt(2 * (u + 1) / u * (0.5 * np.log1p(u) - np.log(p * share)))
        inside = p < 1
        assert np.all((np.abs(z) > boundary)[inside] == (share > 1))


def test_tuning_makes_the_sequence_tightest_near_n_star():
    for n_star in (1e3, 1e5, 1e7):
        tuned = sequential.Tuning.at(n_star)
        rhos = tuned.rho * np.exp(np.linspace(-1, 1, 2001))
        widths = [
            float(sequential.multiplier(n_star, sequential.Tuning(n_star, r, 0.05))) for r in rhos
        ]
        best = rhos[int(np.argmin(widths))]
        assert best == pytest.approx(tuned.rho, rel=0.1)


def test_vectorised_looks_equal_the_scalar_inference():
    rng = np.random.default_rng(9)
    tuning = sequential.Tuning.at(5000)
    moments = []
    for _ in range(2):
        n = rng.integers(2, 10_000, 50).astype(float)
        moments += [n, rng.normal(10, 1, 50), rng.uniform(0.5, 5, 50)]
    looks = sequential.sample_looks(*moments, tuning)
    t, df = sequential.fixed_looks(*moments)
    for i in range(50):
        c, tr = (
            _from_mean_var(moments[0][i], moments[1][i], moments[2][i]),
            _from_mean_var(moments[3][i], moments[4][i], moments[5][i]),
        )
        one = sequential.sequential(c, tr, tuning)
        assert one.lift_interval.high - one.lift == pytest.approx(looks.half_width[i], rel=1e-9)
        assert one.relative_interval.high - one.relative_lift == pytest.approx(
            looks.relative_half_width[i], rel=1e-9
        )
        assert one.p_value == pytest.approx(looks.p_value[i], rel=1e-9, abs=1e-300)
        welch = stats.welch(c, tr)
        assert (welch.t, welch.df) == (pytest.approx(t[i], rel=1e-9), pytest.approx(df[i]))


def _from_mean_var(n: float, mean: float, var: float) -> stats.Moments:
    n, mean, var = int(n), Fraction(mean), Fraction(var)
    return stats.Moments(n, n * mean, var * (n - 1) + n * mean * mean)


def test_says_which_inference_and_tuning_made_the_numbers():
    c = stats.Moments.from_sums(1000, 100_000, 10_250_000)
    t = stats.Moments.from_sums(1000, 101_000, 10_450_000)
    tuning = sequential.Tuning.at(20_000)
    seq = sequential.infer(c, t, "sequential", tuning)
    assert (seq.inference, seq.unit, seq.tuning, seq.df, seq.units) == (
        "sequential",
        "sample",
        tuning,
        None,
        2000,
    )
    fixed = sequential.infer(c, t, "fixed", tuning)
    assert (fixed.inference, fixed.tuning, fixed.alpha) == ("fixed", None, 0.05)
    assert fixed.df == pytest.approx(stats.welch(c, t).df)
    # The sequence is wider than the fixed interval: the price of looking at any time.
    assert seq.lift_interval.low < fixed.lift_interval.low < fixed.lift_interval.high
    assert fixed.lift_interval.high < seq.lift_interval.high
    assert seq.p_value > fixed.p_value


def test_exact_moments_keep_a_small_lift_on_a_huge_mean():
    big = Fraction(10**12)
    c = stats.Moments(4, 4 * big + 2, 4 * big * big + 4 * big + 2)  # big + {0, 1, 0, 1}
    t = stats.Moments(4, 4 * big + 4, 4 * big * big + 8 * big + 6)  # big + {1, 2, 1, 0}
    result = sequential.infer(c, t, "sequential", sequential.Tuning.at(100))
    assert result.lift == 0.5
    assert result.relative_lift == pytest.approx(0.5e-12, rel=1e-12)


def test_refusals():
    tuning = sequential.Tuning.at(100)
    one = stats.Moments.from_sums(1, 1, 1)
    flat = stats.Moments.from_sums(3, 3, 3)
    some = stats.Moments.from_sums(3, 6, 14)
    with pytest.raises(ValueError, match="at least 2 samples"):
        sequential.infer(one, some, "sequential", tuning)
    with pytest.raises(ValueError, match="some variance"):
        sequential.infer(flat, flat, "sequential", tuning)
    with pytest.raises(ValueError, match="unknown inference"):
        sequential.infer(some, some, "bayesian", tuning)
    for bad in ((0, 0.05), (-1, 0.05), (10, 0), (10, 1), (math.nan, 0.05)):
        with pytest.raises(ValueError, match="N"):
            sequential.Tuning.at(*bad)
    zero_mean = stats.Moments.from_sums(3, 0, 2)  # -1, 0, 1
    result = sequential.infer(zero_mean, some, "sequential", tuning)
    assert (result.relative_lift, result.relative_interval) == (None, None)


def test_corrections_accept_always_valid_p_values():
    c = stats.Moments.from_sums(1000, 100_000, 10_250_000)
    tuning = sequential.Tuning.at(20_000)
    p = [
        sequential.infer(
            c,
            stats.Moments.from_sums(1000, 100_000 + d, 10_250_000 + 200 * d),
            "sequential",
            tuning,
        ).p_value
        for d in (0, 500, 1000, 2000, 3000)
    ]
    assert p[0] == 1.0 and p[-1] < 0.05
    holm, bh = stats.adjust(p, "holm"), stats.adjust(p, "bh")
    assert holm[0] == 1.0 and all(h >= q for h, q in zip(holm, p, strict=True))
    assert all(q <= b <= h for q, b, h in zip(p, bh, holm, strict=True))
