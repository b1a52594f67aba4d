"""GET /metrics?quantiles=: every percentile within 1% of numpy's exact one on the raw samples.

The reference is numpy.quantile(values, q, method="lower") over the raw samples
of each bucket, read back from the `samples` table; the data goes in through
the real write path (tsmetrics.store.samples.insert_samples, or POST /ingest).
"""

from __future__ import annotations

import time
from collections import defaultdict

import numpy as np
import orjson
import pytest

from tests.support.helpers import at
from tsmetrics.granularity import GRANULARITIES
from tsmetrics.sketches import QUANTILES
from tsmetrics.store import catalogue, catalogue_updates
from tsmetrics.store.samples import SampleColumns, insert_samples

PROBLEM = "application/problem+json"
START = int(at("2025-11-09 00:00:00").timestamp())
SPAN = 2 * 86_400
ASKED = ("p1", "p5", "p25", "p50", "p75", "p95", "p99", "p99.9")
RAW = """
SELECT extract(epoch FROM time)::float8, value FROM samples
WHERE abtest_id = %s AND metric_id = %s AND (%s::int IS NULL OR variant = %s)
"""


@pytest.fixture
def exp(db):
    """An A/B test, three distribution metrics and a counter without one."""
    test = catalogue.create_abtest(db, "exp", variants=["control", "treatment"], status="running")
    metrics = {
        name: catalogue.create_metric(db, name, unit="ms", distribution=True)
        for name in ("normal", "lognormal", "pareto")
    }
    metrics["clicks"] = catalogue.create_metric(db, "clicks", kind="sum")
    return test, metrics


def _values(rng, name: str, count: int) -> np.ndarray:
    if name == "normal":
        return rng.normal(100, 30, count)  # some negatives
    if name == "lognormal":
        return rng.lognormal(0, 3, count)  # from ~1e-6 to ~1e6
    return (rng.pareto(1.2, count) + 1) * 1e-3


def _skewed(rng, test, metric, name) -> list[SampleColumns]:
    """3 samples in every 5-minute bucket, 5,000 in one, odd values, a late batch."""
    starts = np.arange(START, START + SPAN, 300)
    times = np.concatenate([np.repeat(starts, 3) + rng.uniform(0, 300, 3 * len(starts))])
    crowded = START + 86_400 + 3_600 + rng.uniform(0, 300, 5_000)
    odd = [0.0, 0.0, -0.0, -5.0, 1e-9, -1e-9, 1e12, -1e12, 7.0]
    odd_times = START + 7_200 + rng.uniform(0, 600, len(odd))
    late = START + 3_600 + rng.uniform(0, 900, 400)  # into buckets written already
    parts = [(times, _values(rng, name, len(times))), (crowded, _values(rng, name, 5_000))]
    parts += [(odd_times, np.array(odd)), (late, _values(rng, name, 400))]
    return [
        SampleColumns.from_seconds(t, v, test.id, metric.id, rng.integers(0, 2, len(t)))
        for t, v in parts
    ]


def _raw_by_bucket(db, test, metric, variant, seconds) -> dict[int, np.ndarray]:
    index = None if variant is None else test.variants.index(variant)
    rows = db.execute(RAW, [test.id, metric.id, index, index]).fetchall()
    found = defaultdict(list)
    for t, value in rows:
        found[int(t) - int(t) % seconds].append(value)
    return {bucket: np.array(values) for bucket, values in found.items()}


def _within(shown: float, exact: float) -> bool:
    # 1% relative, after the 3-decimal rounding that a, l and h get too.
    return abs(shown - exact) <= 0.01 * abs(exact) + 0.0005 + 1e-12


def _get(client, metric, start, end, granularity, variant=None, quantiles=ASKED):
    query = f"/metrics?abTestName=exp&metricName={metric}&granularity={granularity}"
    query += f"&start={_iso(start)}&end={_iso(end)}"
    if quantiles:
        query += "&quantiles=" + ",".join(quantiles)
    if variant:
        query += f"&variant={variant}"
    response = client.get(query)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _check(body, raw: dict[int, np.ndarray]) -> int:
    """Every datapoint's percentiles against numpy; returns how many were checked."""
    checked = 0
    for point in body["datapoints"]:
        values = raw[point["t"]]
        assert point["q"] is not None
        assert list(point["q"]) == list(body["quantiles"])
        for name, shown in point["q"].items():
            exact = float(np.quantile(values, QUANTILES[name], method="lower"))
            assert _within(shown, exact), (point["t"], name, shown, exact, len(values))
            checked += 1
    return checked


@pytest.mark.slow
@pytest.mark.parametrize("name", ["normal", "lognormal", "pareto"])
def test_every_percentile_of_every_bucket_within_one_percent(client, db, exp, name):
    """Skewed counts, late data, 0, negatives, 1e-9 and 1e12: each granularity, variant, range."""
    test, metrics = exp
    metric = metrics[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    for batch in _skewed(rng, test, metric, name):
        insert_samples(db, batch)
    # A range that cuts buckets at both ends: the buckets it touches come whole.
    ranges = [(START, START + SPAN), (START + 3_700, START + 86_400 + 3_650)]
    checked = 0
    for granularity, seconds in GRANULARITIES.items():
        for variant in (None, "control", "treatment"):
            raw = _raw_by_bucket(db, test, metric, variant, seconds)
            for start, end in ranges:
                body = _get(client, name, start, end, granularity, variant).get_json()
                assert body["count"] == len({t for t in raw if start - seconds < t < end})
                checked += _check(body, raw)
    assert checked > 10_000


def test_without_the_parameter_the_body_is_as_before(client, db, exp):
    """No `quantiles`: not a byte more than the answer had before distributions."""
    test, metrics = exp
    rng = np.random.default_rng(1)
    for batch in _skewed(rng, test, metrics["normal"], "normal")[:2]:
        insert_samples(db, batch)
    plain = _get(client, "normal", START, START + 86_400, "1h", quantiles=())
    asked = _get(client, "normal", START, START + 86_400, "1h", quantiles=("p50", "p99")).get_json()
    assert asked["quantiles"] == ["p50", "p99"]
    del asked["quantiles"]
    for point in asked["datapoints"]:
        assert set(point.pop("q")) == {"p50", "p99"}
    assert plain.data == orjson.dumps(asked)


def test_repeated_names_count_once_in_the_order_given(client, db, exp):
    """`p99,p50,p99` answers p99 then p50."""
    test, metrics = exp
    insert_samples(db, _skewed(np.random.default_rng(2), test, metrics["normal"], "normal")[0])
    body = _get(client, "normal", START, START + 3_600, "1h", quantiles=("p99", "p50", "p99"))
    assert body.get_json()["quantiles"] == ["p99", "p50"]
    assert list(body.get_json()["datapoints"][0]["q"]) == ["p99", "p50"]


@pytest.mark.parametrize("bad", ["p100", "p0", "p99.99", "p50,", "median", "P50", "p5O", ""])
def test_unknown_percentile_names_are_a_400_naming_the_field(client, exp, bad):
    """Only p1 ... p99 and p99.9, comma-separated."""
    response = client.get(f"/metrics?abTestName=exp&metricName=normal&quantiles={bad}")
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    assert "quantiles" in response.get_json()["errors"]


def test_a_metric_without_distribution_is_a_400_saying_why(client, exp):
    """The counter keeps no sketches: the answer names it and the catalogue field."""
    response = client.get("/metrics?abTestName=exp&metricName=clicks&quantiles=p50")
    assert response.status_code == 400
    assert response.mimetype == PROBLEM
    message = response.get_json()["errors"]["quantiles"][0]
    assert "'clicks'" in message and "distribution" in message


def test_buckets_from_before_the_switch_answer_null(client, db, exp):
    """Switched on at 01:00: a bucket holding samples from before has q null."""
    test, metrics = exp
    metric = metrics["normal"]
    catalogue_updates.update_metric(db, metric.id, {"distribution": False})
    rng = np.random.default_rng(3)

    def batch(first: int, count: int) -> SampleColumns:
        times = first + rng.uniform(0, 3_600, count)
        return SampleColumns.from_seconds(times, rng.normal(100, 5, count), test.id, metric.id, 0)

    insert_samples(db, batch(START, 50))
    catalogue_updates.update_metric(db, metric.id, {"distribution": True})
    insert_samples(db, batch(START + 3_600, 50))
    insert_samples(db, batch(START, 10))  # late, into a bucket from before the switch
    hours = _get(client, "normal", START, START + 7_200, "1h").get_json()["datapoints"]
    assert hours[0]["q"] is None
    raw = _raw_by_bucket(db, test, metric, None, 3_600)
    assert _check({"datapoints": hours[1:], "quantiles": list(ASKED)}, raw) == len(ASKED)
    (day,) = _get(client, "normal", START, START + 86_400, "1d").get_json()["datapoints"]
    assert day["q"] is None and day["a"] is not None


def test_through_post_ingest_with_late_and_redelivered_batches(client, db, exp):
    """The real ingest path: a late batch, and one delivered twice (stored once): exact."""
    rng = np.random.default_rng(4)
    now = int(time.time()) // 3_600 * 3_600 - 3_600  # a whole hour, an hour ago

    def post(key: str, first: int, count: int, variant: str) -> int:
        samples = [
            {"metric": "lognormal", "value": float(v), "time": first + float(t)}
            for v, t in zip(rng.lognormal(3, 1, count), rng.uniform(0, 1_800, count), strict=True)
        ]
        body = {"abTest": "exp", "variant": variant, "samples": samples}
        response = client.post(
            "/ingest", data=orjson.dumps(body), content_type="application/json",
            headers={"Idempotency-Key": key},
        )  # fmt: skip
        return response.status_code

    assert post("a", now + 1_800, 400, "control") == 201
    assert post("b", now + 1_800, 300, "treatment") == 201
    assert post("late", now, 200, "control") == 201  # before what came first
    # Redelivered: the same key again stores nothing (its samples differ, so a
    # second store would show in the counts and the percentiles).
    assert post("b", now + 1_800, 300, "treatment") == 200
    test, metrics = exp
    assert db.execute("SELECT count(*) FROM samples").fetchone()[0] == 900
    for granularity, seconds in (("1m", 60), ("30m", 1_800), ("1h", 3_600), ("1d", 86_400)):
        for variant in (None, "control", "treatment"):
            raw = _raw_by_bucket(db, test, metrics["lognormal"], variant, seconds)
            body = _get(client, "lognormal", now, now + 3_600, granularity, variant).get_json()
            assert (
                sum(len(raw[p["t"]]) for p in body["datapoints"])
                == {None: 900, "control": 600, "treatment": 300}[variant]
            )
            assert _check(body, raw) == len(body["datapoints"]) * len(ASKED)
