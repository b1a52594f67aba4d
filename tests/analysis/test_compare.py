"""A/B analysis through the API, on a real database, against scipy on the raw samples."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import numpy as np
import psycopg
import pytest
from scipy import stats as scipy_stats  # the test extra's reference, never at run time

from tests.support.helpers import at, store
from tsmetrics.demo import seed
from tsmetrics.store import catalogue, totals

PROBLEM = "application/problem+json"
DAY0 = at("2025-11-01 00:00:00")
# A ragged window: the API widens it to whole minutes, [00:03, 17:43) next day.
WINDOW = "start=2025-11-01T00:03:17Z&end=2025-11-02T17:42:05Z"
INSIDE = (at("2025-11-01 00:03:00"), at("2025-11-02 17:43:00"))


def strict_json(response) -> dict:
    """The body, refusing NaN and Infinity (which JSON does not have)."""

    def refuse(token):
        raise AssertionError(f"{token} in JSON")

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return json.loads(response.get_data(as_text=True), parse_constant=refuse)


@pytest.fixture
def names(db):
    """The A/B test `exp` (three variants, split 2:1:1) and two metrics, without samples."""
    test = catalogue.create_abtest(
        db, "exp", variants=["control", "a", "b"], expected_split=[2.0, 1.0, 1.0], status="running"
    )
    latency = catalogue.create_metric(db, "latency", unit="ms")
    clicks = catalogue.create_metric(db, "clicks", kind="sum", higher_is_better=True)
    return test, latency, clicks


@pytest.fixture
def dataset(db, names):
    """`exp` and its two metrics with samples from before to after the window."""
    test, latency, clicks = names
    rng = np.random.default_rng(2025)
    size = 6000
    seconds = rng.integers(-3 * 3600, 45 * 3600, size)
    variant = rng.choice(3, size, p=[0.5, 0.25, 0.25])
    shift = np.array([0.0, -4.0, 0.5])[variant]
    values = {
        latency.id: np.round(rng.normal(100 + shift, 20 + 5 * (variant == 2)), 3),
        clicks.id: rng.poisson(2 + 0.3 * (variant == 1)).astype(float),
    }
    rows = []
    for metric_id, series in values.items():
        for s, v, x in zip(seconds, variant, series, strict=True):
            rows.append((DAY0 + timedelta(seconds=int(s)), float(x), test.id, metric_id, int(v)))
    store(db, rows)
    times = np.array([DAY0 + timedelta(seconds=int(s)) for s in seconds])
    inside = (times >= INSIDE[0]) & (times < INSIDE[1])
    return {
        "raw": {
            name: [series[inside & (variant == v)] for v in range(3)]
            for name, series in (("latency", values[latency.id]), ("clicks", values[clicks.id]))
        },
    }


def _approx(value, rel=1e-10, abs_=0.0):
    return pytest.approx(value, rel=rel, abs=abs_)


def test_compare_matches_scipy_on_the_raw_samples(client, dataset):
    """Fixed horizon: Welch's test as scipy computes it on the raw samples."""
    query = f"/abtest/exp/compare?metric=latency&metric=clicks&{WINDOW}&inference=fixed"
    body = strict_json(client.get(query))
    assert (body["abTest"], body["control"]) == ("exp", "control")
    assert body["start"] == "2025-11-01T00:03:00+00:00"
    assert body["end"] == "2025-11-02T17:43:00+00:00"
    assert body["correction"] == {"method": "none", "comparisons": 4}
    assert body["expectedSplit"] == [0.5, 0.25, 0.25]
    assert [m["metric"] for m in body["metrics"]] == ["latency", "clicks"]
    for result in body["metrics"]:
        raw = dataset["raw"][result["metric"]]
        for summary, values in zip(result["variants"], raw, strict=True):
            low, high = scipy_stats.t.interval(
                0.95, len(values) - 1, loc=values.mean(), scale=scipy_stats.sem(values)
            )
            assert summary["count"] == len(values)
            assert summary["mean"] == _approx(values.mean())
            assert summary["sd"] == _approx(values.std(ddof=1))
            assert (summary["min"], summary["max"]) == (values.min(), values.max())
            assert summary["meanCi"] == [_approx(low), _approx(high)]
        for comparison, values in zip(result["comparisons"], raw[1:], strict=True):
            want = scipy_stats.ttest_ind(values, raw[0], equal_var=False)
            interval = want.confidence_interval(0.95)
            assert comparison["t"] == _approx(want.statistic)
            assert comparison["statistic"] == comparison["t"]
            assert comparison["df"] == _approx(want.df)
            assert comparison["units"] == len(values) + len(raw[0])
            assert comparison["inference"] == {
                "method": "fixed",
                "unit": "sample",
                "unitSeconds": None,
                "tuning": None,
                "validity": "Fixed horizon: valid at one look at a size fixed in advance"
                " (no planned end is set), preliminary before.",
            }
            assert comparison["pValue"] == _approx(want.pvalue)
            assert comparison["adjustedPValue"] == comparison["pValue"]
            assert comparison["liftCi"] == [_approx(interval.low), _approx(interval.high)]
            assert comparison["relativeLift"] == _approx(values.mean() / raw[0].mean() - 1)
        counts = [len(v) for v in raw]
        chi = scipy_stats.chisquare(counts, [sum(counts) * w for w in (0.5, 0.25, 0.25)])
        assert result["srm"]["observed"] == counts
        assert result["srm"]["chiSquared"] == _approx(chi.statistic)
        assert result["srm"]["pValue"] == _approx(chi.pvalue)
        assert result["srm"]["flagged"] is False


def test_counters_report_sum_and_rate_per_minute(client, dataset):
    body = strict_json(client.get(f"/abtest/exp/compare?metric=clicks&metric=latency&{WINDOW}"))
    minutes = (INSIDE[1] - INSIDE[0]).total_seconds() / 60
    clicks, latency = body["metrics"]
    for summary, values in zip(clicks["variants"], dataset["raw"]["clicks"], strict=True):
        assert summary["sum"] == values.sum()
        assert summary["ratePerMinute"] == _approx(values.sum() / minutes)
    assert all(v["sum"] is None and v["ratePerMinute"] is None for v in latency["variants"])
    # Treatment a has more clicks: higher is better.
    assert clicks["comparisons"][0]["verdict"] == "better"
    assert latency["comparisons"][0]["verdict"] == "better"  # lower latency


@pytest.mark.parametrize("method", ["holm", "bh"])
def test_corrections_adjust_every_comparison_of_the_response(client, dataset, method):
    query = f"/abtest/exp/compare?metric=latency&metric=clicks&{WINDOW}"
    plain = strict_json(client.get(query))
    adjusted = strict_json(client.get(query + f"&correction={method}"))
    assert adjusted["correction"] == {"method": method, "comparisons": 4}
    raw = [c["pValue"] for m in plain["metrics"] for c in m["comparisons"]]
    got = [c["adjustedPValue"] for m in adjusted["metrics"] for c in m["comparisons"]]
    if method == "bh":
        want = list(scipy_stats.false_discovery_control(raw, method="bh"))
    else:
        order = sorted(range(4), key=lambda i: raw[i])
        want = [
            min(1.0, max((4 - j) * raw[order[j]] for j in range(order.index(i) + 1)))
            for i in range(4)
        ]
    assert got == [_approx(w, 1e-14) for w in want]


def test_the_window_is_tiled_exactly_by_whole_buckets():
    day = 86_400
    for start, end in [(0, day), (60, 7 * day - 120), (3540, 3600 * 30 + 60), (600, 600)]:
        pieces = totals.tile(start, end)
        cursor = start
        for piece in pieces:
            assert piece.start == cursor and piece.start % piece.seconds == 0
            assert (piece.end - piece.start) % piece.seconds == 0
            cursor = piece.end
        assert cursor == end
    assert len(totals.tile(60, 30 * day - 60)) <= 11
    with pytest.raises(ValueError):
        totals.tile(30, 600)


def test_no_catastrophic_cancellation_for_a_large_mean_with_a_small_spread(client, db):
    test = catalogue.create_abtest(db, "big", variants=["control", "treatment"])
    metric = catalogue.create_metric(db, "offset", unit="ns")
    rng = np.random.default_rng(3)
    ticks = rng.integers(0, 50, (2, 400))
    decimals = [[Decimal(1_000_000_000) + Decimal(int(k)) / 1000 for k in row] for row in ticks]
    rows = [
        (DAY0 + timedelta(seconds=i), float(d), test.id, metric.id, v)
        for v, values in enumerate(decimals)
        for i, d in enumerate(values)
    ]
    store(db, rows)
    body = strict_json(client.get("/abtest/big/compare?start=2025-11-01T00:00:00Z"))
    for summary, values in zip(body["metrics"][0]["variants"], decimals, strict=True):
        exact = [Fraction(d) for d in values]
        mean = sum(exact) / len(exact)
        variance = sum((x - mean) ** 2 for x in exact) / (len(exact) - 1)
        assert summary["sd"] == pytest.approx(math.sqrt(variance), rel=1e-14)
    lift = Fraction(sum(decimals[1])) / 400 - Fraction(sum(decimals[0])) / 400
    assert body["metrics"][0]["comparisons"][0]["lift"] == pytest.approx(float(lift), rel=1e-12)


SPARSE = "start=2025-11-01T00:00:00Z&end=2025-11-02T00:00:00Z"


@pytest.fixture
def sparse(db):
    """A/B test `sparse`: control has samples, `lonely` one, `flat` equal values only."""
    test = catalogue.create_abtest(db, "sparse", variants=["control", "lonely", "flat"])
    metric = catalogue.create_metric(db, "m")
    const = catalogue.create_metric(db, "const")
    rows = [(DAY0 + timedelta(minutes=i), 10.0 + i, test.id, metric.id, 0) for i in range(5)]
    rows.append((DAY0, 3.0, test.id, metric.id, 1))
    rows += [(DAY0 + timedelta(minutes=i), 7.0, test.id, metric.id, 2) for i in range(4)]
    rows += [(DAY0 + timedelta(minutes=i), 7.0, test.id, const.id, i % 3) for i in range(9)]
    store(db, rows)


def test_refusals_say_why_with_null_numbers(client, sparse):
    body = strict_json(client.get(f"/abtest/sparse/compare?metric=m&metric=const&{SPARSE}"))
    m, const = body["metrics"]
    lonely, flat = m["comparisons"]
    assert lonely["refusal"] == "fewer than 2 samples in lonely"
    assert lonely["verdict"] == "inconclusive"
    assert all(lonely[k] is None for k in ("lift", "liftCi", "t", "df", "pValue", "adjustedPValue"))
    assert m["variants"][1] | {"meanCi": None} == {
        "variant": "lonely",
        "count": 1,
        "mean": 3.0,
        "sd": None,
        "min": 3.0,
        "max": 3.0,
        "meanCi": None,
        "sum": None,
        "ratePerMinute": None,
    }
    # One constant variant is comparable: the control carries the variance.
    assert flat["refusal"] is None and flat["pValue"] is not None
    assert [c["refusal"] for c in const["comparisons"]] == ["zero variance in both variants"] * 2
    assert body["correction"]["comparisons"] == 1


def test_a_window_without_data_is_a_refusal_not_an_error(client, sparse):
    empty = "start=2024-01-01T00:00:00Z&end=2024-01-02T00:00:00Z"
    body = strict_json(client.get(f"/abtest/sparse/compare?metric=m&{empty}"))
    (m,) = body["metrics"]
    assert [v["count"] for v in m["variants"]] == [0, 0, 0]
    assert all(v["mean"] is None for v in m["variants"])
    assert {c["refusal"] for c in m["comparisons"]} == {"no samples in the window"}
    assert m["srm"] == {
        "observed": [0, 0, 0],
        "expected": None,
        "chiSquared": None,
        "df": None,
        "pValue": None,
        "flagged": False,
        "refusal": "no samples in the window",
    }


def test_sample_ratio_mismatch_is_flagged(client, db):
    test = catalogue.create_abtest(db, "skewed", variants=["control", "treatment"])
    metric = catalogue.create_metric(db, "m")
    rows = [
        (DAY0 + timedelta(seconds=i), float(i % 7), test.id, metric.id, int(i % 5 == 0))
        for i in range(2000)
    ]
    store(db, rows)
    body = strict_json(client.get("/abtest/skewed/compare?start=2025-11-01T00:00:00Z"))
    assert body["srm"] == {"threshold": 0.001, "flagged": True, "metrics": ["m"]}
    assert body["metrics"][0]["srm"]["pValue"] < 1e-100
    # With the split the test was designed for (4:1), the same counts are fine.
    client.patch("/abtest/skewed", json={"expectedSplit": [4, 1]})
    body = strict_json(client.get("/abtest/skewed/compare?start=2025-11-01T00:00:00Z"))
    assert body["srm"]["flagged"] is False
    assert body["expectedSplit"] == [0.8, 0.2]


NOW = datetime(2025, 11, 10, 0, 0, tzinfo=UTC)
DEMO_WINDOW = "start=2025-11-09T00:00:00Z&end=2025-11-10T00:00:00Z"


@pytest.fixture
def demo(db, database_url):
    """One day of the demo data (a request every 10 s), ending at NOW."""
    seed.seed(
        lambda: psycopg.connect(database_url), days=1, interval=10, now=NOW, out=lambda _: None
    )


def _demo_verdicts(client, inference: str) -> dict[str, dict[str, str]]:
    verdicts = {}
    for name in ("feature_a", "feature_b"):
        query = f"{DEMO_WINDOW}&correction=holm&inference={inference}"
        body = strict_json(client.get(f"/abtest/{name}/compare?{query}"))
        assert body["srm"]["flagged"] is False
        assert body["inference"] == inference
        verdicts[name] = {m["metric"]: m["comparisons"][0]["verdict"] for m in body["metrics"]}
    return verdicts


def test_the_demo_effects_are_detected_and_the_aa_pair_is_not(client, demo):
    verdicts = _demo_verdicts(client, "fixed")
    assert verdicts["feature_a"] == {
        "add_to_cart": "better",
        "cpu_usage": "worse",
        "ram_usage": "worse",
        "response_time": "better",
    }
    assert verdicts["feature_b"] == {
        "add_to_cart": "inconclusive",
        "cpu_usage": "inconclusive",
        "ram_usage": "worse",
        "response_time": "inconclusive",
    }
    # Sequential, one day into a 15-day plan: the large effects already show; the 8%
    # more clicks not yet (the price of being right at every look).
    always = _demo_verdicts(client, "sequential")
    assert always["feature_b"] == verdicts["feature_b"]
    assert always["feature_a"] == verdicts["feature_a"] | {"add_to_cart": "inconclusive"}
    body = strict_json(client.get(f"/abtest/feature_a/compare?metric=response_time&{DEMO_WINDOW}"))
    relative = body["metrics"][0]["comparisons"][0]["relativeLiftCi"]
    assert relative[0] < -0.10 < relative[1]  # the demo's treatment is 10% faster


def test_over_time_ends_with_the_whole_window_comparison(client, demo):
    query = f"metric=response_time&metric=add_to_cart&{DEMO_WINDOW}"
    series = strict_json(client.get(f"/abtest/feature_a/compare/over-time?{query}&granularity=1h"))
    whole = strict_json(client.get(f"/abtest/feature_a/compare?{query}"))
    assert (series["granularity"], series["control"]) == ("1h", "control")
    for timeline, result in zip(series["metrics"], whole["metrics"], strict=True):
        (treatment,) = timeline["treatments"]
        points = treatment["points"]
        assert len(points) == 24
        assert [p["t"] for p in points] == [
            int((NOW - timedelta(hours=23 - i)).timestamp()) for i in range(24)
        ]
        counts = [p["controlCount"] for p in points]
        assert counts == sorted(counts)
        last, comparison = points[-1], result["comparisons"][0]
        for key in ("lift", "liftCi", "relativeLift", "relativeLiftCi", "pValue"):
            assert last[key] == comparison[key], key
    auto = strict_json(client.get(f"/abtest/feature_a/compare/over-time?{query}"))
    assert auto["granularity"] == "30m"  # the finest with at most 200 points


def test_over_time_refuses_early_points_it_cannot_compute(client, sparse):
    query = "metric=m&granularity=1m&start=2025-11-01T00:00:00Z&end=2025-11-01T01:00:00Z"
    body = strict_json(client.get(f"/abtest/sparse/compare/over-time?{query}"))
    lonely = body["metrics"][0]["treatments"][0]["points"]
    assert lonely[0]["refusal"] == "fewer than 2 samples in control"
    assert lonely[-1]["refusal"] == "fewer than 2 samples in lonely"
    assert lonely[-1]["lift"] is None


def _problem(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    return response.get_json(force=True)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("/abtest/exp/compare?correction=bonferroni", "correction"),
        ("/abtest/exp/compare?inference=bayes", "inference"),
        ("/abtest/exp/compare/over-time?inference=Sequential", "inference"),
        ("/abtest/exp/plan?inference=", "inference"),
        ("/abtest/exp/compare?start=2025-11-02T00:00:00Z&end=2025-11-01T00:00:00Z", "end"),
        ("/abtest/exp/compare?start=yesterday", "start"),
        ("/abtest/exp/compare?metric=Bad%20Name", "metric"),
        ("/abtest/exp/compare?colour=blue", "colour"),
        ("/abtest/exp/compare/over-time?granularity=7m", "granularity"),
        (f"/abtest/exp/compare/over-time?granularity=1m&{WINDOW}", "granularity"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(client, names, query, field):
    body = _problem(client.get(query), 400)
    assert field in body["errors"], body


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("/abtest/nope/compare", "name"),
        ("/abtest/exp/compare?metric=nope", "metric"),
        ("/abtest/nope/compare/over-time", "name"),
        ("/abtest/exp/compare/over-time?metric=nope", "metric"),
    ],
)
def test_unknown_names_are_404(client, names, query, field):
    body = _problem(client.get(query), 404)
    assert field in body["errors"]
    assert "'nope'" in body["detail"]


def test_default_window_and_metrics(client, dataset):
    body = strict_json(client.get("/abtest/exp/compare"))
    # started_at (now) is after every sample: a default window without data.
    assert {m["metric"] for m in body["metrics"]} == {"clicks", "latency"}
    assert all(v["count"] == 0 for m in body["metrics"] for v in m["variants"])
