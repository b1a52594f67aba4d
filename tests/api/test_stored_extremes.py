"""Samples near the float range, stored before the accepted value range existed (issue 14, item 1).

Such values are planted through the store's write path, past every check of the
two ingestion paths (as samples written before migration 0010, or through SQL,
would be). Every read endpoint must answer them: /metrics with every bucket's
numbers (a mean lies between the bucket's min and max, so it is always a
double), the analyses with null numbers and a reason where a statistic lies
beyond double precision, and the dashboard's pages and fragments with a page.
"""

from __future__ import annotations

import math
import sys
from datetime import UTC, datetime, timedelta

import numpy as np
import orjson
import pytest

from tests.support.helpers import at, store
from tsmetrics.analysis import stats
from tsmetrics.store import catalogue

START = at("2025-11-01 00:00:00")
MINUTES = 60
WINDOW = "start=2025-11-01T00:00:00Z&end=2025-11-01T01:00:00Z"
PLANTED_AT = START + timedelta(minutes=35, seconds=30)
BIGGEST = sys.float_info.max
# One planted value per case, or several: mixed signs, and a normal value alongside.
PLANTED = [
    (1e15,),
    (1e100,),
    (1e200,),
    (1e300,),
    (1.7e308,),
    (BIGGEST,),
    (-1e15,),
    (-1e200,),
    (-1.7e308,),
    (-BIGGEST,),
    (BIGGEST, -BIGGEST),
    (1e200, 123.456, -1e200),
    (BIGGEST, BIGGEST, 1e308),
]
METRICS = {
    "latency": {"unit": "ms"},
    "clicks": {"unit": "", "kind": "sum"},
    "cpu": {"unit": "%", "analysis_unit": "time"},
}
READS = [
    "/metrics?abTestName=exp&metricName={metric}&granularity=1m&" + WINDOW,
    "/metrics?abTestName=exp&metricName={metric}&granularity=1d&" + WINDOW,
    "/metrics?abTestName=exp&metricName={metric}&granularity=1m&variant=treatment&" + WINDOW,
    "/abtest/exp/compare?metric={metric}&" + WINDOW,
    "/abtest/exp/compare?metric={metric}&inference=fixed&" + WINDOW,
    "/abtest/exp/compare?metric={metric}&correction=holm&" + WINDOW,
    "/abtest/exp/compare/over-time?metric={metric}&" + WINDOW,
    "/abtest/exp/compare/over-time?metric={metric}&inference=fixed&" + WINDOW,
    "/abtest/exp/compare/over-time?metric={metric}&granularity=1m&" + WINDOW,
    "/abtest/exp/plan?metric={metric}&" + WINDOW,
    "/abtest/exp",
    "/abtest",
    "/overview",
    "/dashboard/",
    "/dashboard/abtests/exp",
    "/dashboard/abtests/exp?range=custom&start=2025-11-01T00:00&end=2025-11-01T01:00",
    "/dashboard/abtests/exp/charts/{metric}?range=custom&start=2025-11-01T00:00"
    "&end=2025-11-01T01:00",
    "/dashboard/abtests/exp/comparison?" + WINDOW,
    "/dashboard/abtests/exp/comparison?inference=fixed&" + WINDOW,
    "/dashboard/abtests/exp/lift/{metric}?" + WINDOW,
    "/dashboard/abtests/exp/lift/{metric}?inference=fixed&" + WINDOW,
    "/dashboard/abtests/exp/guardrails",
]


@pytest.fixture
def exp(db):
    """exp (running, planned for 36 hours) with a mean, a counter and a unit `time` metric."""
    test = catalogue.create_abtest(
        db,
        "exp",
        variants=["control", "treatment"],
        planned_end=START + timedelta(hours=36),
    )
    db.execute("UPDATE abtests SET status = 'running', started_at = %s", [START])
    metrics = {name: catalogue.create_metric(db, name, **kw) for name, kw in METRICS.items()}
    rng = np.random.default_rng(14)
    rows = []
    for minute in range(MINUTES):
        for second in range(0, 60, 20):
            moment = START + timedelta(minutes=minute, seconds=second)
            for variant in (0, 1):
                for metric in metrics.values():
                    value = round(float(rng.normal(100 + variant, 10)), 3)
                    rows.append((moment, value, test.id, metric.id, variant))
    store(db, rows)
    return test, metrics


def _plant(db, test, metric, values) -> None:
    # Both variants, so that every comparison and every paired bucket meets one.
    store(db, [(PLANTED_AT, v, test.id, metric.id, variant) for v in values for variant in (0, 1)])


def _numbers(body):
    """Every number in a JSON document."""
    if isinstance(body, dict):
        for value in body.values():
            yield from _numbers(value)
    elif isinstance(body, list):
        for value in body:
            yield from _numbers(value)
    elif isinstance(body, (int, float)) and not isinstance(body, bool):
        yield body


def _read_all(client, metric: str) -> dict[str, object]:
    answers = {}
    for template in READS:
        url = template.format(metric=metric)
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code, response.text[:500])
        if response.mimetype == "application/json":
            body = orjson.loads(response.data)  # refuses NaN and Infinity
            assert all(math.isfinite(x) for x in _numbers(body)), url
            answers[url] = body
    return answers


def test_normal_data_gives_every_number(client, exp):
    """The baseline the planted cases differ from: no refusal, no flag."""
    for metric in METRICS:
        answers = _read_all(client, metric)
        compared = answers[READS[3].format(metric=metric)]["metrics"][0]
        assert [c["refusal"] for c in compared["comparisons"]] == [None]
        assert all("unrepresentable" not in v for v in compared["variants"])
        assert b"unrepresentable" not in client.get(READS[0].format(metric=metric)).data


# Two cases in the quick lane, every one in the slow lane (about 40 x 22 requests).
QUICK = {(1e200,), (BIGGEST, -BIGGEST)}


@pytest.mark.parametrize("metric", list(METRICS))
@pytest.mark.parametrize(
    "planted",
    [pytest.param(values, marks=() if values in QUICK else pytest.mark.slow) for values in PLANTED],
    ids=lambda values: "_".join(map(repr, values)),
)
def test_every_read_answers_planted_values(client, db, exp, metric, planted):
    test, metrics = exp
    _plant(db, test, metrics[metric], planted)
    answers = _read_all(client, metric)

    buckets = answers[READS[0].format(metric=metric)]["datapoints"]
    (bucket,) = [b for b in buckets if b["t"] == int(PLANTED_AT.timestamp()) // 60 * 60]
    assert bucket["l"] == min(planted) or min(planted) > 0
    assert bucket["h"] == max(planted) or max(planted) < 0
    assert bucket["l"] <= bucket["a"] <= bucket["h"]

    compared = answers[READS[4].format(metric=metric)]["metrics"][0]
    (comparison,) = compared["comparisons"]
    huge = max(abs(v) for v in planted) >= 1e200
    if comparison["refusal"] is not None:
        # Refused only where a statistic lies beyond double precision, with null numbers.
        assert huge and comparison["refusal"] == stats.UNREPRESENTABLE
        assert comparison["lift"] is None and comparison["pValue"] is None
        assert comparison["verdict"] == "inconclusive"
    else:
        assert comparison["lift"] is not None and comparison["pValue"] is not None
    for variant in compared["variants"]:
        if variant.get("unrepresentable"):
            numbers = ("mean", "sd", "meanCi", "sum")
            assert huge and None in [variant[name] for name in numbers]
        else:
            assert variant["mean"] is not None and variant["meanCi"] is not None
    if max(abs(v) for v in planted) <= 1e100:
        assert comparison["refusal"] is None
    if metric == "clicks" and abs(sum(planted)) > BIGGEST:
        # A counter's sum past the largest double: null, and said so.
        for variant in compared["variants"]:
            assert variant["sum"] is None and variant["unrepresentable"] is True


def test_the_issue_repro_now_answers_200(client, db):
    """Issue 14 (1): ram_usage with 2e305 stored made /metrics answer 400 for good."""
    test = catalogue.create_abtest(db, "feature_b", variants=["control", "treatment"])
    metric = catalogue.create_metric(db, "ram_usage", unit="MB")
    now = datetime.now(UTC).replace(microsecond=0)
    moment = now - timedelta(minutes=10)  # both in one bucket, whatever the time of day
    store(db, [(moment, 512.0, test.id, metric.id, 0)])
    store(db, [(moment, 2e305, test.id, metric.id, 0)])
    response = client.get("/metrics?abTestName=feature_b&metricName=ram_usage&granularity=1d")
    assert response.status_code == 200, response.text
    (*_, bucket) = response.get_json()["datapoints"]
    assert (bucket["l"], bucket["h"]) == (512.0, 2e305)
    assert bucket["a"] == pytest.approx(1e305, rel=1e-14)
    for page in ("/dashboard/abtests/feature_b", "/dashboard/abtests/feature_b/charts/ram_usage"):
        assert client.get(page).status_code == 200
