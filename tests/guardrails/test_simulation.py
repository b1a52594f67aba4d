"""Monte Carlo through the guardrail decision itself: evaluate.sample_outcome and evaluate.judge.

Each run is an A/B test with 2 guardrail metrics and 2 treatments sharing one
control (a family of 4, correlated through the control), looked at after each
of 40 batches of 100 samples per variant. The reference is the simulation:
under A/A the share of runs ever raised must stay at most alpha (Holm over
always-valid p-values), and a treatment 3% worse must be caught.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from tsmetrics.analysis import stats
from tsmetrics.guardrails.evaluate import judge, sample_outcome
from tsmetrics.store.guardrails import Guardrail

RUNS, LOOKS, PER_LOOK = 1000, 40, 100
METRICS, VARIANTS = 2, 3
MEAN, SD = 100.0, 20.0


def _guardrail(metric: int) -> Guardrail:
    return Guardrail(
        abtest_id=1,
        abtest_name="simulated",
        abtest_title="",
        variants=["control", "t1", "t2"],
        expected_split=None,
        started_at=None,
        planned_end=None,
        # All variants' samples at the last look: N* is the two compared, the last look's N.
        planned_samples=VARIANTS * PER_LOOK * LOOKS,
        sequential_n_star=None,
        metric_id=metric,
        metric_name=f"m{metric}",
        metric_unit="",
        higher_is_better=False,
        analysis_unit="sample",
    )


def _cumulative_sums(rng, effects: np.ndarray):
    """Per (run, metric, variant, look): n, sum and sum of squares of normal samples so far.

    A batch's mean is normal and its squared deviations sd² x chi-squared(k - 1): the
    same distribution as drawing the samples.
    """
    shape = (RUNS, METRICS, VARIANTS, LOOKS)
    means = MEAN + effects[None, :, :, None]
    batch_mean = rng.normal(means, SD / np.sqrt(PER_LOOK), shape)
    batch_ss = SD * SD * rng.chisquare(PER_LOOK - 1, shape)
    total = np.cumsum(PER_LOOK * batch_mean, axis=-1)
    total_sq = np.cumsum(batch_ss + PER_LOOK * batch_mean**2, axis=-1)
    return total, total_sq


def _raised_at(effects: np.ndarray, seed: int) -> np.ndarray:
    """Per run: the first look at which any guardrail was raised (-1: never)."""
    total, total_sq = _cumulative_sums(np.random.default_rng(seed), effects)
    guardrails = [_guardrail(m) for m in range(METRICS)]
    first = np.full(RUNS, -1)
    for run in range(RUNS):
        for look in range(LOOKS):
            n = PER_LOOK * (look + 1)

            def moments(m: int, v: int, run=run, look=look, n=n) -> stats.Moments:
                cell = (run, m, v, look)
                return stats.Moments(n, Fraction(total[cell]), Fraction(total_sq[cell]))

            outcomes = [
                sample_outcome(g, v, moments(g.metric_id, 0), moments(g.metric_id, v), (0, 60))
                for g in guardrails
                for v in (1, 2)
            ]
            if any(o.state == "raised" for o in judge(outcomes)):
                first[run] = look
                break
    return first


@pytest.mark.slow
def test_aa_family_is_rarely_raised_and_a_worse_treatment_is_caught():
    aa = _raised_at(np.zeros((METRICS, VARIANTS)), seed=31)
    share = float(np.mean(aa >= 0))
    error = np.sqrt(max(share * (1 - share), 1e-4) / RUNS)
    print(f"A/A: ever raised in {share:.2%} of {RUNS} runs (Monte Carlo error {error:.2%})")
    assert share <= 0.05

    worse = np.zeros((METRICS, VARIANTS))
    worse[1, 2] = 0.03 * MEAN  # t2 is 3% slower on the second guardrail
    caught = _raised_at(worse, seed=32)
    power = float(np.mean(caught >= 0))
    looks = caught[caught >= 0] + 1
    print(f"3% worse: raised in {power:.1%} of runs, median at look {np.median(looks):.0f}")
    assert power >= 0.9
