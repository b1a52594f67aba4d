"""Guardrail evaluation from the database, against an independent computation.

The reference is computed here from the raw samples with numpy: means and
variances, the confidence sequence of Waudby-Smith et al. (arXiv:2103.06476,
eq. 9) and its always-valid p-value written out again, and Holm's correction;
also gbstats (GrowthBook's engine) where it is installed. A clearly worse
treatment must raise; A/A data must stay clear at every look.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from tests.guardrails.conftest import add, make_guarded, sample_rows, worse_data
from tests.support.helpers import store
from tsmetrics.guardrails.evaluate import evaluate_test
from tsmetrics.store import catalogue
from tsmetrics.store import guardrails as guardrail_store

ALPHA = 0.05
FOURTEEN_DAYS = 14 * 86400


def _half_width_and_p(lift: float, se: float, units: int, n_star: float) -> tuple[float, float]:
    """The sequence's half-width and always-valid p at N = units, tuned to be tightest at n_star."""
    rho2 = (-2 * math.log(ALPHA) + math.log(1 - 2 * math.log(ALPHA))) / n_star
    u = units * rho2
    half = se * math.sqrt(2 * (u + 1) / u * math.log(math.sqrt(u + 1) / ALPHA))
    log_e = (lift / se) ** 2 / 2 * u / (u + 1) - math.log(u + 1) / 2
    return half, min(1.0, math.exp(-log_e))


def _holm(p: list[float]) -> list[float]:
    order = sorted(range(len(p)), key=p.__getitem__)
    adjusted, running = [0.0] * len(p), 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[index]))
        adjusted[index] = running
    return adjusted


def _evaluate(db, now: datetime):
    by_test = defaultdict(list)
    for guardrail in guardrail_store.running_guardrails(db):
        by_test[guardrail.abtest_id].append(guardrail)
    return {ids: evaluate_test(db, rows, now) for ids, rows in by_test.items()}


def _window_seconds(start: datetime, now: datetime) -> int:
    low = math.floor(start.timestamp() / 60) * 60
    return math.ceil(now.timestamp() / 60) * 60 - low


def _gbstats(control, treatment, n_star):
    try:
        from gbstats.frequentist import tests
        from gbstats.models.statistics import SampleMeanStatistic
    except ImportError:
        return None
    a, b = (
        SampleMeanStatistic(n=len(x), sum=float(x.sum()), sum_squares=float((x * x).sum()))
        for x in (control, treatment)
    )
    config = tests.SequentialConfig(
        difference_type="absolute", alpha=ALPHA, sequential_tuning_parameter=n_star
    )
    return tests.SequentialTwoSidedTTest(a, b, config).compute_result()


def test_sample_unit_matches_an_independent_computation(db):
    """response_time (lower is better) clearly worse; conversion (higher is better) a bit up."""
    g = make_guarded(db)
    conversion = catalogue.ensure_metric(db, "conversion", unit="%", higher_is_better=True)
    db.execute(
        "INSERT INTO abtest_metric_plans (abtest_id, metric_id, guardrail) VALUES (%s, %s, true)",
        [g.test.id, conversion.id],
    )
    control, treatment = worse_data(seed=11, n=600)
    add(db, g, 0, control)
    add(db, g, 1, treatment)
    rng = np.random.default_rng(12)
    samples = {0: rng.normal(5.0, 2.0, 400), 1: rng.normal(5.3, 2.0, 400)}
    for variant, values in samples.items():
        add(db, replace(g, metric=conversion), variant, values)
    now = datetime.now(UTC)
    (evaluation,) = _evaluate(db, now).values()
    outcomes = {o.guardrail.metric_name: o for o in evaluation.outcomes}
    seconds = _window_seconds(g.start, now)

    expected_p = []
    for name, (c, t) in (
        ("response_time", (control, treatment)),
        ("conversion", (samples[0], samples[1])),
    ):
        result = outcomes[name].inference
        lift = t.mean() - c.mean()
        se = math.sqrt(c.var(ddof=1) / len(c) + t.var(ddof=1) / len(t))
        units = len(c) + len(t)
        n_star = units / seconds * FOURTEEN_DAYS  # the default: this rate for 14 days
        half, p = _half_width_and_p(lift, se, units, n_star)
        assert result.lift == pytest.approx(lift, rel=1e-9)
        assert result.lift_interval.low == pytest.approx(lift - half, rel=1e-9)
        assert result.lift_interval.high == pytest.approx(lift + half, rel=1e-9)
        assert result.p_value == pytest.approx(p, rel=1e-9, abs=1e-300)
        assert result.units == units and result.tuning.n_star == pytest.approx(n_star, rel=1e-12)
        assert outcomes[name].tuning_source == "default"
        reference = _gbstats(c, t, n_star)
        if reference is not None:
            assert result.lift_interval.low == pytest.approx(reference.ci[0], rel=1e-6)
            assert result.lift_interval.high == pytest.approx(reference.ci[1], rel=1e-6)
        expected_p.append(p)

    holm = _holm(expected_p)
    assert outcomes["response_time"].adjusted_p == pytest.approx(holm[0], rel=1e-9, abs=1e-300)
    assert outcomes["conversion"].adjusted_p == pytest.approx(holm[1], rel=1e-9)
    assert evaluation.family_size == 2
    assert outcomes["response_time"].state == "raised"
    assert outcomes["conversion"].state == "clear"  # higher and better: never an alert


def test_aa_guardrails_stay_clear_at_every_look(db):
    """Three A/A guardrails x two treatments, looked at after each of 40 batches of samples."""
    rng = np.random.default_rng(2024)
    metrics = ["latency", "errors", "cpu"]
    guarded = [make_guarded(db, "aa", name, variants=("control", "b", "c")) for name in metrics]
    start = guarded[0].start
    for look in range(40):
        now = start + timedelta(minutes=4 * (look + 1))
        rows = []
        for g in guarded:
            window = replace(g, start=now - timedelta(minutes=4), end=now)
            for variant in range(3):
                rows += sample_rows(window, variant, rng.lognormal(3.0, 0.8, 50))
        store(db, rows)
        (evaluation,) = _evaluate(db, now).values()
        assert evaluation.family_size == 6
        assert {o.state for o in evaluation.outcomes} == {"clear"}, look


def _gauge(rng, minutes: int, level: float, phi: float = 0.9, per_minute: int = 12):
    """An AR(1) gauge read every 5 s (stationary sd 10), around `level`."""
    noise = rng.normal(0.0, 10.0 * math.sqrt(1 - phi * phi), minutes * per_minute)
    x = np.empty_like(noise)
    x[0] = rng.normal(0.0, 10.0)
    for i in range(1, len(x)):
        x[i] = phi * x[i - 1] + noise[i]
    return level + x


@pytest.mark.parametrize(
    ("planned_days", "width", "n_star", "source"),
    [(None, 300, 14 * 86400 / 300, "default"), (2, 60, 2 * 86400 / 60, "plannedEnd")],
)
def test_time_unit_pairs_bucket_means_of_the_planned_width(db, planned_days, width, n_star, source):
    """cpu_usage (unit time), 30 points worse: raised; lift = mean of per-bucket differences.

    A 14-day plan (the default) pairs 5-minute means, a 2-day plan 1-minute means,
    and N* is the planned duration in those units.
    """
    g = make_guarded(db, metric="cpu_usage", unit="time")
    if planned_days:
        planned_end = g.start + timedelta(days=planned_days)
        db.execute("UPDATE abtests SET planned_end = %s WHERE id = %s", [planned_end, g.test.id])
    minutes = int((g.end - g.start).total_seconds() // 60)
    g = replace(g, end=g.start + timedelta(minutes=minutes))
    rng = np.random.default_rng(5)
    control, treatment = _gauge(rng, minutes, 40.0), _gauge(rng, minutes, 70.0)
    add(db, g, 0, control)
    add(db, g, 1, treatment)
    now = datetime.now(UTC)
    (evaluation,) = _evaluate(db, now).values()
    (outcome,) = evaluation.outcomes
    # Readings land every 5 s from 2.5 s after the start; numpy groups them by bucket and
    # keeps the whole buckets inside the window (whole minutes from the start to now).
    stamps = g.start.timestamp() + (np.arange(len(control)) + 0.5) * 5.0
    low = -(-math.floor(g.start.timestamp() / 60) * 60 // width) * width
    high = math.ceil(now.timestamp() / 60) * 60 // width * width
    keys = (stamps // width * width).astype(int)
    inside = (keys >= low) & (keys + width <= high)
    _, bucket = np.unique(keys[inside], return_inverse=True)
    counts = np.bincount(bucket)
    means = [np.bincount(bucket, weights=v[inside]) / counts for v in (control, treatment)]
    assert outcome.inference.unit == "time"
    assert outcome.inference.units == len(means[0])
    assert outcome.inference.lift == pytest.approx(float(np.mean(means[1] - means[0])), rel=1e-9)
    assert outcome.state == "raised" and outcome.tuning_source == source
    assert outcome.unit_seconds == width
    assert outcome.inference.tuning.n_star == pytest.approx(n_star, rel=1e-12)


def test_too_little_data_keeps_no_state(db):
    g = make_guarded(db)
    add(db, g, 0, [100.0, 101.0, 99.0])
    add(db, g, 1, [120.0])
    (evaluation,) = _evaluate(db, datetime.now(UTC)).values()
    (outcome,) = evaluation.outcomes
    assert outcome.state is None and outcome.refusal == "fewer than 2 samples in a variant"
    assert evaluation.family_size == 0


def test_planned_samples_and_n_star_setting_tune_the_sequence(db):
    g = make_guarded(db)
    control, treatment = worse_data()
    add(db, g, 0, control)
    add(db, g, 1, treatment)
    db.execute(
        "UPDATE abtests SET planned_samples = 6000, expected_split = '{1, 2}' WHERE id = %s",
        [g.test.id],
    )
    (outcome,) = next(iter(_evaluate(db, datetime.now(UTC)).values())).outcomes
    # The planned samples of every variant; the two compared here are all of them.
    assert (outcome.inference.tuning.n_star, outcome.tuning_source) == (6000, "plannedSamples")
    db.execute("UPDATE abtests SET sequential_n_star = 800 WHERE id = %s", [g.test.id])
    (outcome,) = next(iter(_evaluate(db, datetime.now(UTC)).values())).outcomes
    assert (outcome.inference.tuning.n_star, outcome.tuning_source) == (800, "setting")


def test_only_running_tests_and_flagged_metrics_are_evaluated(db):
    g = make_guarded(db)
    other = make_guarded(db, "paused_one")
    db.execute("UPDATE abtests SET status = 'paused' WHERE id = %s", [other.test.id])
    unflagged = catalogue.ensure_metric(db, "unflagged", unit="")
    db.execute(
        "INSERT INTO abtest_metric_plans (abtest_id, metric_id, mde_relative)"
        " VALUES (%s, %s, 0.01)",
        [g.test.id, unflagged.id],
    )
    found = guardrail_store.running_guardrails(db)
    assert [(r.abtest_name, r.metric_name) for r in found] == [("checkout", "response_time")]
    assert found[0].started_at == g.start
