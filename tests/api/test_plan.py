"""GET /abtest/{name}/plan against a power calculation done here with scipy on the raw samples.

Fixed horizon: the effect reported as detectable now has two-sided power 0.80
by scipy's normal distribution (both tails), and the sample size at which the
planned MDE becomes detectable solves that power equation (scipy's brentq).
Sequential: the sequence's half-width c(N)·se is written out from its paper
(Waudby-Smith et al., arXiv:2103.06476 eq. 9), and the effect detected at this
look with probability 0.80 is found with scipy alike. The time is the window's
end plus the missing units at the observed rate (units / window length).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np
import pytest
from scipy import optimize
from scipy import stats as scipy_stats  # the test extra's reference, never at run time

from tests.support.helpers import at, store
from tsmetrics.store import catalogue, plans

START = at("2025-11-01 00:00:00")
HOURS = 6
END = START + timedelta(hours=HOURS)
WINDOW = "start=2025-11-01T00:00:00Z&end=2025-11-01T06:00:00Z"
PLANNED = timedelta(hours=36)  # the unit `time` pairs 1-minute means
ALPHA, POWER = 0.05, 0.8
MDE = 0.01


@pytest.fixture
def data(db):
    """A running test: latency (MDE 1%), clicks (no plan), cpu (unit time, MDE 1%)."""
    test = catalogue.ensure_abtest(
        db,
        "exp",
        variants=["control", "treatment"],
        status="running",
        started_at=START,
        planned_end=START + PLANNED,
    )
    metrics = {
        name: catalogue.create_metric(db, name, analysis_unit=unit)
        for name, unit in (("latency", "sample"), ("clicks", "sample"), ("cpu", "time"))
    }
    plans.set_metric_plans(
        db, test.id, {metrics["latency"].id: (MDE, False), metrics["cpu"].id: (MDE, True)}
    )
    rng = np.random.default_rng(5)
    seconds = np.arange(0, HOURS * 3600, 5)
    variant = rng.integers(0, 2, len(seconds))
    values = {
        "latency": np.round(rng.normal(100, 15, len(seconds)), 3),
        "clicks": rng.poisson(3, len(seconds)).astype(float),
        "cpu": np.round(40 + rng.normal(0, 2, len(seconds)), 3),
    }
    rows = [
        (START + timedelta(seconds=int(s)), float(x), test.id, metrics[name].id, int(v))
        for name, series in values.items()
        for s, v, x in zip(seconds, variant, series, strict=True)
    ]
    store(db, rows)
    return {"variant": variant, **values}


def _power(effect: float, se: float) -> float:
    z = scipy_stats.norm.isf(ALPHA / 2)
    return scipy_stats.norm.sf(z - effect / se) + scipy_stats.norm.cdf(-z - effect / se)


def _c(units: float, n_star: float) -> float:
    rho2 = (-2 * math.log(ALPHA) + math.log(1 - 2 * math.log(ALPHA))) / n_star
    u = units * rho2
    return math.sqrt(2 * (u + 1) / u * math.log(math.sqrt(u + 1) / ALPHA))


def _raw(data, name):
    control, treatment = (data[name][data["variant"] == v] for v in (0, 1))
    units = len(control) + len(treatment)
    s2 = units * (control.var(ddof=1) / len(control) + treatment.var(ddof=1) / len(treatment))
    return control, units, s2


def _treatment(body, metric):
    (found,) = [m for m in body["metrics"] if m["metric"] == metric]
    (treatment,) = found["treatments"]
    return found, treatment


def test_fixed_plan_matches_scipy(client, data):
    body = client.get(f"/abtest/exp/plan?{WINDOW}&inference=fixed").get_json()
    assert (body["inference"], body["alpha"], body["power"]) == ("fixed", ALPHA, POWER)
    metric, plan = _treatment(body, "latency")
    assert metric["mdeRelative"] == MDE and metric["analysisUnit"] == "sample"
    control, units, s2 = _raw(data, "latency")
    se = math.sqrt(s2 / units)
    assert plan["units"] == units
    assert plan["unitsPerHour"] == pytest.approx(units / HOURS, rel=1e-12)
    now = plan["detectableNow"]
    assert _power(now["absolute"], se) == pytest.approx(POWER, abs=1e-6)
    assert now["relative"] == pytest.approx(now["absolute"] / control.mean(), rel=1e-12)
    effect = MDE * control.mean()
    needed = optimize.brentq(
        lambda n: _power(effect, math.sqrt(s2 / n)) - POWER, 10, 1e9, xtol=1e-6, rtol=1e-12
    )
    assert plan["mde"]["relative"] == MDE
    assert plan["mde"]["unitsNeeded"] == pytest.approx(needed, rel=1e-5)
    assert plan["mde"]["when"] == "later"
    at_time = END + timedelta(hours=(needed - units) / (units / HOURS))
    got = datetime.fromisoformat(plan["mde"]["detectableAt"])
    assert abs((got - at_time).total_seconds()) < 1
    assert _treatment(body, "clicks")[1]["mde"] is None


def test_sequential_plan_matches_the_sequence_by_scipy(client, data):
    body = client.get(f"/abtest/exp/plan?{WINDOW}").get_json()
    assert body["inference"] == "sequential"
    _, plan = _treatment(body, "latency")
    control, units, s2 = _raw(data, "latency")
    n_star = plan["inference"]["tuning"]["nStar"]
    assert n_star == pytest.approx(units / (HOURS * 3600) * PLANNED.total_seconds(), rel=1e-12)
    se = math.sqrt(s2 / units)
    absolute = plan["detectableNow"]["absolute"]
    # Detected at this look: the estimate beyond c(N)·se, with probability 0.8.
    detected = scipy_stats.norm.sf(_c(units, n_star) - absolute / se)
    assert detected == pytest.approx(POWER, abs=1e-9)
    effect = MDE * control.mean()
    needed = optimize.brentq(
        lambda n: scipy_stats.norm.sf(_c(n, n_star) - effect / math.sqrt(s2 / n)) - POWER,
        units,
        1e9,
        rtol=1e-12,
    )
    assert plan["mde"]["unitsNeeded"] == pytest.approx(needed, rel=1e-6)
    # Wider than the fixed horizon's: the price of looking at any time.
    fixed = _treatment(
        client.get(f"/abtest/exp/plan?{WINDOW}&inference=fixed").get_json(), "latency"
    )
    assert absolute > fixed[1]["detectableNow"]["absolute"]


def test_unit_time_plans_in_paired_buckets(client, data):
    body = client.get(f"/abtest/exp/plan?{WINDOW}").get_json()
    metric, plan = _treatment(body, "cpu")
    assert (metric["analysisUnit"], plan["inference"]["unitSeconds"]) == ("time", 60)
    assert plan["units"] == HOURS * 60
    assert plan["unitsPerHour"] == pytest.approx(60, rel=1e-12)
    assert plan["detectableNow"]["relative"] > 0 and plan["mde"]["when"] in ("now", "later")


def test_not_running_means_not_at_the_current_rate(client, data):
    client.patch("/abtest/exp", json={"status": "paused"})
    _, plan = _treatment(client.get(f"/abtest/exp/plan?{WINDOW}").get_json(), "latency")
    assert plan["unitsPerHour"] == 0
    assert (plan["mde"]["when"], plan["mde"]["detectableAt"]) == ("not at the current rate", None)
    assert plan["detectableNow"]["absolute"] > 0


def test_a_metric_without_samples_is_refused(client, data, db):
    catalogue.create_metric(db, "empty")
    body = client.get(f"/abtest/exp/plan?{WINDOW}&metric=empty").get_json()
    _, plan = _treatment(body, "empty")
    assert plan["refusal"] == "no samples in the window"
    assert plan["detectableNow"] is None and plan["mde"] is None
