"""GET /abtest/{name}/compare with `quantiles` (issue 13) against numpy on the raw samples.

The references are written out here, independently of tsmetrics.analysis: the
exact quantile is numpy.quantile(samples, q, method="lower"); the exact-sample
interval takes the order statistics at ranks floor(nq - z·s - 1/2) and
ceil(nq + z·s - 1/2), s = sqrt(nq(1 - q)); the standard error is the spread of
the values at q(n - 1) ± z·s over 2z; the difference's interval and p-value
follow from the normal distribution (scipy), or from the confidence sequence
written from its paper. The answers, read from the sketches within their bins,
must be within 1% of those: every point estimate and every interval end of
numpy's, and the difference's interval as wide as the exact samples' give
plus the read noise (between 0.9 and 1.2 times theirs here).
"""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pytest
from scipy import stats as scipy_stats

from tests.support.helpers import at
from tsmetrics.store import catalogue
from tsmetrics.store.samples import SampleColumns, insert_samples

START = at("2025-11-01 00:00:00")
HOURS = 3
WINDOW = "start=2025-11-01T00:00:00Z&end=2025-11-01T03:00:00Z"
PLANNED = timedelta(hours=36)
ALPHA = 0.05
Z = scipy_stats.norm.isf(ALPHA / 2)
EPS = 0.01  # the most a percentile read within the sketches' bins may be off, relative


@pytest.fixture
def data(db):
    """exp: latency (lognormal, treatment's tail longer), cpu (unit time), clicks (no sketch)."""
    test = catalogue.create_abtest(
        db, "exp", variants=["control", "treatment"], planned_end=START + PLANNED
    )
    latency = catalogue.create_metric(db, "latency", unit="ms", distribution=True)
    cpu = catalogue.create_metric(db, "cpu", unit="%", analysis_unit="time", distribution=True)
    clicks = catalogue.create_metric(db, "clicks", kind="sum")
    rng = np.random.default_rng(13)
    seconds = START.timestamp() + np.arange(0, HOURS * 3600, 1.0)
    variant = rng.integers(0, 2, len(seconds)).astype(np.int16)
    values = {
        "latency": rng.lognormal(4.6, 0.5 + 0.1 * variant),
        "cpu": 40 + variant + rng.normal(0, 3, len(seconds)),
        "clicks": rng.poisson(1, len(seconds)).astype(float),
    }
    for metric in (latency, cpu, clicks):
        every = 10 if metric is clicks else 1  # clicks only need to be there
        columns = SampleColumns.from_seconds(
            seconds[::every], values[metric.name][::every], test.id, metric.id, variant[::every]
        )
        insert_samples(db, columns)
    return {"seconds": seconds, "variant": variant, **values}


def _exact(x: np.ndarray, q: float) -> dict:
    """Point, exact-sample interval and standard error of quantile q, from sorted samples."""
    x = np.sort(x)
    n = len(x)
    s = math.sqrt(n * q * (1 - q))
    low, high = math.floor(n * q - Z * s - 0.5), math.ceil(n * q + Z * s - 0.5)
    spread = np.interp([q * (n - 1) - Z * s, q * (n - 1) + Z * s], np.arange(n), x)
    return {
        "value": np.quantile(x, q, method="lower"),
        "ci": (x[low], x[high]),
        "se": (spread[1] - spread[0]) / (2 * Z),
    }


def _samples(data, metric):
    return [data[metric][data["variant"] == v] for v in (0, 1)]


def _sequence_multiplier(n_units: float, n_star: float) -> float:
    rho2 = (-2 * math.log(ALPHA) + math.log(1 - 2 * math.log(ALPHA))) / n_star
    u = n_units * rho2
    return math.sqrt(2 * (u + 1) / u * math.log(math.sqrt(u + 1) / ALPHA))


@pytest.mark.parametrize("inference", ["fixed", "sequential"])
def test_quantiles_and_differences_hold_the_exact_samples_answers(client, data, inference):
    query = f"/abtest/exp/compare?metric=latency&quantiles=p50,p95,p99&inference={inference}"
    body = client.get(f"{query}&{WINDOW}").get_json()
    (metric,) = body["metrics"]
    block = metric["quantiles"]
    assert block["relativeError"] == EPS and block["refusal"] is None
    samples = _samples(data, "latency")
    exact = {q: [_exact(x, q) for x in samples] for q in (0.5, 0.95, 0.99)}
    for v, variant in enumerate(block["variants"]):
        assert variant["count"] == len(samples[v])
        assert [x["quantile"] for x in variant["quantiles"]] == ["p50", "p95", "p99"]
        for x, q in zip(variant["quantiles"], exact, strict=True):
            want = exact[q][v]
            assert abs(x["value"] - want["value"]) <= EPS * want["value"]
            for ours, theirs in zip(x["ci"], want["ci"], strict=True):
                assert abs(ours - theirs) <= EPS * abs(theirs)
    n = sum(len(x) for x in samples)
    n_star = n / (HOURS * 3600) * PLANNED.total_seconds()  # as the means' tuning
    k = Z if inference == "fixed" else _sequence_multiplier(n, n_star)
    assert [c["quantile"] for c in block["comparisons"]] == ["p50", "p95", "p99"]
    for c, q in zip(block["comparisons"], exact, strict=True):
        control, treatment = exact[q]
        d = treatment["value"] - control["value"]
        se = math.hypot(control["se"], treatment["se"])
        assert abs(c["difference"] - d) <= EPS * (abs(treatment["value"]) + abs(control["value"]))
        low, high = c["differenceCi"]
        assert low < c["difference"] < high
        assert 0.9 <= (high - low) / (2 * k * se) <= 1.2, (q, high - low, 2 * k * se)
        assert (c["pValue"] < ALPHA) == (low > 0 or high < 0)
        ratio = c["relativeDifference"] + 1
        assert ratio == pytest.approx(treatment["value"] / control["value"], rel=3 * EPS)
        assert c["relativeDifferenceCi"][0] < c["relativeDifference"] < c["relativeDifferenceCi"][1]
        assert c["units"] == n and c["refusal"] is None
        assert c["inference"]["method"] == inference
        assert c["inference"]["assumption"].startswith("Independent samples")
        assert c["verdict"] == ("worse" if c["pValue"] < ALPHA else "inconclusive")
    # The tail is longer in treatment (p99 +26%): p99 is found worse.
    assert block["comparisons"][2]["verdict"] == "worse"
    means = metric["comparisons"][0]["inference"]
    assert block["comparisons"][0]["inference"]["tuning"] == means["tuning"]


def test_without_quantiles_the_body_is_unchanged(client, data):
    body = client.get(f"/abtest/exp/compare?metric=latency&{WINDOW}").get_json()
    assert "quantiles" not in body["metrics"][0]
    assert body["correction"]["comparisons"] == 1


def test_unnamed_metrics_without_distributions_get_null(client, data):
    body = client.get(f"/abtest/exp/compare?quantiles=p50&{WINDOW}").get_json()
    found = {m["metric"]: m["quantiles"] for m in body["metrics"]}
    assert found["clicks"] is None and found["latency"]["variants"][0]["quantiles"][0]["value"]


def test_unit_time_gives_points_only_and_says_why(client, data):
    body = client.get(f"/abtest/exp/compare?metric=cpu&quantiles=p50&{WINDOW}").get_json()
    block = body["metrics"][0]["quantiles"]
    for v, variant in enumerate(block["variants"]):
        (x,) = variant["quantiles"]
        want = np.quantile(_samples(data, "cpu")[v], 0.5, method="lower")
        assert abs(x["value"] - want) <= EPS * abs(want) and x["ci"] is None
    (c,) = block["comparisons"]
    assert c["difference"] is None and c["verdict"] == "inconclusive"
    assert "independent samples" in c["refusal"] and "by time" in c["refusal"]


def test_too_few_samples_for_p99_9_is_refused_with_the_count_it_needs(client, data):
    window = "start=2025-11-01T00:00:00Z&end=2025-11-01T01:00:00Z"
    body = client.get(f"/abtest/exp/compare?metric=latency&quantiles=p99,p99.9&{window}")
    block = body.get_json()["metrics"][0]["quantiles"]
    p99, p999 = block["comparisons"]
    assert p99["refusal"] is None and p99["pValue"] is not None
    assert p999["refusal"] == "fewer than 4,786 samples in control, which p99.9 needs"
    assert p999["pValue"] is None and p999["adjustedPValue"] is None
    point = block["variants"][0]["quantiles"][1]
    assert point["ci"] is None and point["value"] is not None


def test_the_correction_adjusts_means_and_quantiles_together(client, data):
    query = f"/abtest/exp/compare?metric=latency&quantiles=p50,p95,p99&inference=fixed&{WINDOW}"
    plain = client.get(query).get_json()["metrics"][0]
    holm = client.get(query + "&correction=holm").get_json()
    assert holm["correction"] == {"method": "holm", "comparisons": 4}
    metric = holm["metrics"][0]
    p = [plain["comparisons"][0]["pValue"]] + [
        c["pValue"] for c in plain["quantiles"]["comparisons"]
    ]
    got = [metric["comparisons"][0]["adjustedPValue"]]
    got += [c["adjustedPValue"] for c in metric["quantiles"]["comparisons"]]
    order = sorted(range(4), key=lambda i: p[i])
    want, running = [0.0] * 4, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (4 - rank) * p[i]))
        want[i] = running
    assert got == [pytest.approx(w, rel=1e-12, abs=1e-300) for w in want]


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ("metric=clicks&quantiles=p50", "quantiles", "'clicks' keeps no distribution"),
        ("metric=latency&quantiles=p100", "quantiles", "Unknown percentile 'p100': use p1 to p99"),
        ("metric=latency&quantiles=p50,p99.99", "quantiles", "Unknown percentile 'p99.99'"),
        ("metric=latency&quantiles=", "quantiles", "Unknown percentile ''"),
    ],
)
def test_bad_quantiles_are_a_400_problem_naming_the_field(client, data, query, field, words):
    response = client.get(f"/abtest/exp/compare?{query}&{WINDOW}")
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert list(body["errors"]) == [field]
    assert words in " ".join(body["errors"][field])


def test_a_window_from_before_the_distribution_has_no_quantiles(client, data, db):
    """Samples written while the metric kept no distribution: the window's sketches miss them."""
    latency = catalogue.get_metric(db, "latency")
    test = catalogue.get_abtest(db, "exp")
    client.patch("/metrics/catalogue/latency", json={"distribution": False})
    early = START.timestamp() - 3600 + np.arange(0, 600.0)
    zeros = np.zeros(600, np.int16)
    insert_samples(db, SampleColumns.from_seconds(early, np.ones(600), test.id, latency.id, zeros))
    client.patch("/metrics/catalogue/latency", json={"distribution": True})
    window = "start=2025-10-31T23:00:00Z&end=2025-11-01T03:00:00Z"
    body = client.get(f"/abtest/exp/compare?metric=latency&quantiles=p50&{window}").get_json()
    block = body["metrics"][0]["quantiles"]
    assert "before the metric kept distributions" in block["refusal"]
    assert block["comparisons"] == [] and block["variants"][0]["quantiles"][0]["value"] is None
    later = client.get(f"/abtest/exp/compare?metric=latency&quantiles=p50&{WINDOW}").get_json()
    assert later["metrics"][0]["quantiles"]["refusal"] is None


def test_every_treatment_of_three_variants_against_control(client, db):
    test = catalogue.create_abtest(db, "abc", variants=["a", "b", "c"])
    latency = catalogue.create_metric(db, "latency", unit="ms", distribution=True)
    rng = np.random.default_rng(14)
    seconds = START.timestamp() + np.arange(0, 3000, 1.0)
    variant = rng.integers(0, 3, len(seconds)).astype(np.int16)
    values = rng.lognormal(4.6 + 0.3 * (variant == 2), 0.5)
    insert_samples(db, SampleColumns.from_seconds(seconds, values, test.id, latency.id, variant))
    query = "metric=latency&quantiles=p50,p95&inference=fixed&start=2025-11-01T00:00:00Z"
    block = client.get(f"/abtest/abc/compare?{query}").get_json()["metrics"][0]["quantiles"]
    assert [v["variant"] for v in block["variants"]] == ["a", "b", "c"]
    pairs = [(c["variant"], c["quantile"]) for c in block["comparisons"]]
    assert pairs == [("b", "p50"), ("b", "p95"), ("c", "p50"), ("c", "p95")]
    for c in block["comparisons"]:
        q = {"p50": 0.5, "p95": 0.95}[c["quantile"]]
        want = [
            np.quantile(values[variant == v], q, method="lower")
            for v in (0, "bc".index(c["variant"]) + 1)
        ]
        assert abs(c["difference"] - (want[1] - want[0])) <= EPS * 1.01 * (want[0] + want[1])
    verdicts = {(c["variant"], c["quantile"]): c["verdict"] for c in block["comparisons"]}
    assert verdicts[("c", "p50")] == "worse" and verdicts[("b", "p50")] == "inconclusive"


@pytest.mark.parametrize(
    ("name", "draw"),
    [
        ("zeros", lambda rng, n, v: np.zeros(n)),
        ("negative", lambda rng, n, v: -rng.lognormal(0, 1, n) * (1 + 0.5 * v)),
        ("tiny", lambda rng, n, v: rng.lognormal(0, 1, n) * 1e-9),
        ("huge", lambda rng, n, v: 1e12 + rng.normal(0, 1e9, n)),
    ],
)
def test_zero_negative_tiny_and_huge_values(client, db, name, draw):
    test = catalogue.create_abtest(db, "odd", variants=["a", "b"])
    metric = catalogue.create_metric(db, "odd", distribution=True)
    rng = np.random.default_rng(15)
    seconds = START.timestamp() + np.arange(0, 2000, 1.0)
    variant = (np.arange(2000) % 2).astype(np.int16)
    values = np.where(variant == 1, draw(rng, 2000, 1), draw(rng, 2000, 0))
    insert_samples(db, SampleColumns.from_seconds(seconds, values, test.id, metric.id, variant))
    query = "metric=odd&quantiles=p50,p95&inference=fixed&start=2025-11-01T00:00:00Z"
    block = client.get(f"/abtest/odd/compare?{query}").get_json()["metrics"][0]["quantiles"]
    for v, variant_block in enumerate(block["variants"]):
        for x in variant_block["quantiles"]:
            q = {"p50": 0.5, "p95": 0.95}[x["quantile"]]
            want = np.quantile(values[variant == v], q, method="lower")
            assert abs(x["value"] - want) <= EPS * abs(want)
            assert x["ci"][0] <= x["value"] <= x["ci"][1]
    for c in block["comparisons"]:
        if name == "zeros":
            assert c["refusal"] == f"no spread around {c['quantile']} in either variant"
            assert c["pValue"] is None
        else:
            assert c["refusal"] is None and c["differenceCi"][0] <= c["difference"]
    if name == "negative":  # b's values are 1.5 times a's, below 0: its quantiles are lower
        assert block["comparisons"][0]["verdict"] == "better"
