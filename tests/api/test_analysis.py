"""GET /abtest/{name}/compare and /compare/over-time with always-valid inference (issue 12).

The sequential numbers are checked against the confidence sequence written out
here from its paper (Waudby-Smith et al. 2023, arXiv:2103.06476 eq. 9 and 155;
Howard et al. 2021) with numpy on the raw samples, independently of
tsmetrics.analysis; the unit `time` lift and unit count against numpy's
per-minute means of the raw samples.
"""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pytest

from tests.support.helpers import at, store
from tsmetrics.store import catalogue

START = at("2025-11-01 00:00:00")
HOURS = 6
WINDOW = "start=2025-11-01T00:00:00Z&end=2025-11-01T06:00:00Z"
PLANNED = timedelta(hours=36)  # 2,160 minutes: the unit `time` pairs 1-minute means
ALPHA = 0.05


@pytest.fixture
def data(db):
    """exp: latency (unit sample, treatment 2% slower) and cpu (unit time, an AR(1) gauge)."""
    test = catalogue.create_abtest(
        db, "exp", variants=["control", "treatment"], planned_end=START + PLANNED
    )
    latency = catalogue.create_metric(db, "latency", unit="ms")
    cpu = catalogue.create_metric(db, "cpu", unit="%", analysis_unit="time")
    rng = np.random.default_rng(12)
    seconds = np.arange(0, HOURS * 3600, 5)
    variant = rng.integers(0, 2, len(seconds))
    latency_values = np.round(rng.normal(100 * (1 + 0.02 * variant), 15), 3)
    noise = np.zeros(len(seconds))
    for k in range(1, len(seconds)):
        noise[k] = 0.9 * noise[k - 1] + rng.normal(0, 1)
    cpu_values = np.round(40 + 0.5 * variant + noise, 3)
    rows = []
    for s, v, x, y in zip(seconds, variant, latency_values, cpu_values, strict=True):
        moment = START + timedelta(seconds=int(s))
        rows += [(moment, float(x), test.id, latency.id, int(v))]
        rows += [(moment, float(y), test.id, cpu.id, int(v))]
    store(db, rows)
    return {"seconds": seconds, "variant": variant, "latency": latency_values, "cpu": cpu_values}


def _sequence(n_units: float, n_star: float):
    """c(N) and the always-valid p-value's E as functions, written from the paper."""
    rho2 = (-2 * math.log(ALPHA) + math.log(1 - 2 * math.log(ALPHA))) / n_star
    u = n_units * rho2
    c = math.sqrt(2 * (u + 1) / u * math.log(math.sqrt(u + 1) / ALPHA))
    return c, rho2, lambda z: min(1.0, math.exp(-(z * z / 2 * u / (u + 1) - math.log(u + 1) / 2)))


def test_sequential_compare_matches_the_confidence_sequence_on_raw_samples(client, data):
    body = client.get(f"/abtest/exp/compare?metric=latency&{WINDOW}").get_json()
    assert set(body) == {
        "abTest", "control", "start", "end", "alpha", "inference", "validity",
        "correction", "expectedSplit", "srm", "metrics",
    }  # fmt: skip
    assert (body["inference"], body["validity"]) == (
        "sequential",
        "Always valid: you may look at any time.",
    )
    (metric,) = body["metrics"]
    assert metric["analysisUnit"] == "sample"
    (c,) = metric["comparisons"]
    assert set(c) == {
        "variant", "lift", "liftCi", "relativeLift", "relativeLiftCi", "statistic", "t", "df",
        "pValue", "units", "adjustedPValue", "verdict", "refusal", "inference",
    }  # fmt: skip
    control, treatment = (data["latency"][data["variant"] == v] for v in (0, 1))
    n = len(control) + len(treatment)
    n_star = n / (HOURS * 3600) * PLANNED.total_seconds()  # the observed rate x the plan
    multiplier, rho2, p_of = _sequence(n, n_star)
    vc, vt = control.var(ddof=1) / len(control), treatment.var(ddof=1) / len(treatment)
    lift = treatment.mean() - control.mean()
    half = multiplier * math.sqrt(vc + vt)
    ratio = treatment.mean() / control.mean()
    relative_half = multiplier * math.sqrt(vt + vc * ratio**2) / control.mean()
    assert c["inference"] == {
        "method": "sequential",
        "unit": "sample",
        "unitSeconds": None,
        "tuning": {
            "nStar": pytest.approx(n_star, rel=1e-12),
            "rho": pytest.approx(math.sqrt(rho2), rel=1e-12),
            "source": "plannedEnd",
        },
        "validity": "Always valid: you may look at any time.",
    }
    assert c["units"] == n
    assert c["lift"] == pytest.approx(lift, rel=1e-10)
    assert c["liftCi"] == [pytest.approx(lift - half, rel=1e-9), pytest.approx(lift + half)]
    assert c["relativeLiftCi"][1] - c["relativeLift"] == pytest.approx(relative_half, rel=1e-9)
    z = lift / math.sqrt(vc + vt)
    assert c["statistic"] == pytest.approx(z, rel=1e-9)
    assert c["pValue"] == pytest.approx(p_of(z), rel=1e-8)
    assert (c["t"], c["df"]) == (None, None)  # the fixed horizon's numbers only
    assert c["verdict"] == ("worse" if c["pValue"] < ALPHA else "inconclusive")


def test_unit_time_pairs_the_minute_means_of_the_raw_samples(client, data):
    body = client.get(f"/abtest/exp/compare?metric=cpu&{WINDOW}").get_json()
    (metric,) = body["metrics"]
    assert metric["analysisUnit"] == "time"
    (c,) = metric["comparisons"]
    minute = data["seconds"] // 60
    means = [
        {m: data["cpu"][(minute == m) & (data["variant"] == v)].mean() for m in np.unique(minute)
         if np.any((minute == m) & (data["variant"] == v))}
        for v in (0, 1)
    ]  # fmt: skip
    both = sorted(set(means[0]) & set(means[1]))
    differences = np.array([means[1][m] - means[0][m] for m in both])
    assert c["units"] == len(both)
    assert c["lift"] == pytest.approx(differences.mean(), rel=1e-9)
    base = np.mean([means[0][m] for m in both])
    assert c["relativeLift"] == pytest.approx(differences.mean() / base, rel=1e-9)
    assert c["inference"]["unit"] == "time" and c["inference"]["unitSeconds"] == 60
    assert c["inference"]["tuning"]["nStar"] == PLANNED.total_seconds() / 60
    low, high = c["liftCi"]
    assert high - c["lift"] == pytest.approx(c["lift"] - low, rel=1e-9)
    assert (low > 0 or high < 0) == (c["pValue"] < ALPHA)
    # Fixed, for the same unit: the paired t interval, narrower than the sequence.
    fixed = client.get(f"/abtest/exp/compare?metric=cpu&{WINDOW}&inference=fixed").get_json()
    (f,) = fixed["metrics"][0]["comparisons"]
    assert (f["inference"]["method"], f["inference"]["tuning"], f["df"]) == ("fixed", None, 359)
    assert f["lift"] == c["lift"] and f["liftCi"][1] - f["lift"] < high - c["lift"]


def test_corrections_act_on_the_always_valid_p_values(client, data):
    query = f"/abtest/exp/compare?metric=latency&metric=cpu&{WINDOW}"
    plain = client.get(query).get_json()
    holm = client.get(query + "&correction=holm").get_json()
    p = [m["comparisons"][0]["pValue"] for m in plain["metrics"]]
    adjusted = [m["comparisons"][0]["adjustedPValue"] for m in holm["metrics"]]
    low, high = sorted(range(2), key=lambda i: p[i])
    want = [0.0, 0.0]
    want[low] = min(1.0, 2 * p[low])
    want[high] = max(want[low], min(1.0, p[high]))
    assert adjusted == [pytest.approx(w, rel=1e-12) for w in want]


def test_over_time_points_are_looks_by_the_same_inference(client, data):
    query = f"metric=latency&metric=cpu&{WINDOW}&granularity=30m"
    for inference in ("sequential", "fixed"):
        series = client.get(f"/abtest/exp/compare/over-time?{query}&inference={inference}")
        whole = client.get(f"/abtest/exp/compare?{query[:-16]}&inference={inference}")
        series, whole = series.get_json(), whole.get_json()
        assert series["inference"] == inference and series["validity"] == whole["validity"]
        for timeline, result in zip(series["metrics"], whole["metrics"], strict=True):
            (treatment,) = timeline["treatments"]
            (comparison,) = result["comparisons"]
            assert timeline["analysisUnit"] == result["analysisUnit"]
            assert treatment["inference"] == comparison["inference"]
            points = treatment["points"]
            assert len(points) == 12
            assert set(points[0]) == {
                "t", "controlCount", "treatmentCount", "lift", "liftCi", "relativeLift",
                "relativeLiftCi", "pValue", "units", "refusal",
            }  # fmt: skip
            last = points[-1]
            assert last["units"] == comparison["units"]
            for key in ("lift", "pValue"):
                assert last[key] == pytest.approx(comparison[key], rel=1e-9), key
            assert last["liftCi"] == pytest.approx(comparison["liftCi"], rel=1e-9)
    # The unit `time` needs 30 paired minutes: looks before half an hour are refusals.
    query = f"metric=cpu&{WINDOW}&granularity=5m"
    cpu = client.get(f"/abtest/exp/compare/over-time?{query}").get_json()["metrics"][0]
    points = cpu["treatments"][0]["points"]
    assert {p["refusal"] for p in points[:5]} == {
        "fewer than 30 1-minute buckets with samples in both variants (unit time)"
    }
    assert points[0]["lift"] is None and points[0]["units"] is None
    assert (points[5]["refusal"], points[5]["units"]) == (None, 30)


@pytest.mark.parametrize(
    "path",
    ["compare", "compare/over-time", "plan"],
)
def test_bad_inference_is_a_400_problem(client, data, path):
    response = client.get(f"/abtest/exp/{path}?inference=always")
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert body["errors"] == {"inference": ["Must be one of: sequential, fixed."]}
    assert body["detail"] == "Invalid input: inference."


def test_the_tests_own_inference_is_the_default(client, data):
    client.patch("/abtest/exp", json={"inference": "fixed"})
    body = client.get(f"/abtest/exp/compare?metric=latency&{WINDOW}").get_json()
    assert body["inference"] == "fixed"
    assert body["validity"] == (
        "Fixed horizon: valid at the planned end on 2025-11-02 12:00 UTC, preliminary before."
    )
    assert body["metrics"][0]["comparisons"][0]["inference"]["tuning"] is None
    over = client.get(f"/abtest/exp/compare/over-time?metric=latency&{WINDOW}").get_json()
    assert over["inference"] == "fixed"
    query = f"/abtest/exp/compare?metric=latency&{WINDOW}&inference=sequential"
    assert client.get(query).get_json()["inference"] == "sequential"
