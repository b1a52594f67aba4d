"""End to end: samples through POST /ingest, looks through GET /abtest/{name}/compare/over-time.

An A/A test (both variants drawn alike) is looked at 24 times, once an hour,
with a latency (unit `sample`) and an autocorrelated gauge (unit `time`): under
`sequential` no look calls it better or worse (no interval leaves 0, no p-value
falls under alpha). A test with a strong effect on both metrics is detected.
The statistical guarantee itself (at most alpha over any number of looks) is
measured by the A/A simulations in tests/analysis/test_inference_simulations.py.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import numpy as np
import orjson
import pytest

LOOKS = 24
HOUR = 3600
NOW = int(time.time()) // HOUR * HOUR  # the last whole hour: every sample is in the past
START = NOW - LOOKS * HOUR
STEP = 6  # one request, and one gauge reading, every 6 s


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def _setup(client, name: str) -> None:
    # A 36-hour plan: the unit `time` pairs 1-minute means (2,160 planned).
    plan = {"plannedEnd": _iso(START + 36 * 3600)}
    assert client.post("/abtest", json={"name": name, **plan}).status_code == 201


def _ingest(client, name: str, lift: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """24 hours of requests split at random between the variants, an hour per batch."""
    rng = np.random.default_rng(seed)
    seconds = np.arange(START, NOW, STEP)
    variant = rng.integers(0, 2, len(seconds))
    latency = rng.lognormal(np.log(100.0), 0.3, len(seconds)) * (1 + lift * variant)
    gauge = np.zeros(len(seconds))
    for position in (0, 1):
        # Each variant's instance: an AR(1) reading, 0.9 between readings.
        chosen = np.flatnonzero(variant == position)
        noise = rng.normal(0, 1, len(chosen))
        for k in range(1, len(chosen)):
            noise[k] += 0.9 * noise[k - 1]
        gauge[chosen] = 40 * (1 + lift * position) + noise
    for hour in range(START, NOW, HOUR):
        for position, variant_name in enumerate(("control", "treatment")):
            chosen = np.flatnonzero(
                (seconds >= hour) & (seconds < hour + HOUR) & (variant == position)
            )
            samples = [
                {"metric": metric, "value": round(float(values[i]), 4), "time": int(seconds[i])}
                for i in chosen
                for metric, values in (("latency", latency), ("cpu", gauge))
            ]
            body = {"abTest": name, "variant": variant_name, "samples": samples}
            response = client.post(
                "/ingest", data=orjson.dumps(body), content_type="application/json"
            )
            assert response.status_code == 201, response.get_data(as_text=True)
    return seconds, variant


def _looks(client, name: str, inference: str = "sequential") -> dict:
    query = (
        f"metric=latency&metric=cpu&start={_iso(START)}&end={_iso(NOW)}"
        f"&granularity=1h&inference={inference}"
    )
    response = client.get(f"/abtest/{name}/compare/over-time?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


@pytest.fixture
def catalogue_entries(client, db):
    """The two metrics, latency per request and a CPU gauge analysed by time."""
    client.post("/metrics/catalogue", json={"name": "latency", "unit": "ms"})
    client.post("/metrics/catalogue", json={"name": "cpu", "unit": "%", "analysisUnit": "time"})


def test_an_aa_test_is_never_called_at_any_of_24_looks(client, catalogue_entries):
    _setup(client, "aa")
    _ingest(client, "aa", lift=0.0, seed=2024)
    body = _looks(client, "aa")
    assert body["inference"] == "sequential"
    assert body["validity"] == "Always valid: you may look at any time."
    for metric in body["metrics"]:
        (treatment,) = metric["treatments"]
        method = treatment["inference"]
        assert (method["method"], method["unit"]) == (
            "sequential",
            "time" if metric["metric"] == "cpu" else "sample",
        )
        assert method["tuning"]["source"] == "plannedEnd"
        points = treatment["points"]
        assert len(points) == LOOKS
        judged = [p for p in points if p["refusal"] is None]
        assert len(judged) == LOOKS  # an hour holds 60 paired minutes: every look judges
        for point in judged:
            low, high = point["liftCi"]
            assert low <= 0 <= high, (metric["metric"], point)
            assert point["pValue"] >= 0.05, (metric["metric"], point)
    # The whole window, as the results panel shows it: inconclusive.
    query = f"start={_iso(START)}&end={_iso(NOW)}&correction=holm"
    verdicts = [
        c["verdict"]
        for m in client.get(f"/abtest/aa/compare?{query}").get_json()["metrics"]
        for c in m["comparisons"]
    ]
    assert verdicts == ["inconclusive", "inconclusive"]


def test_a_strong_effect_is_detected(client, catalogue_entries):
    _setup(client, "strong")
    _ingest(client, "strong", lift=0.05, seed=7)
    body = _looks(client, "strong")
    for metric in body["metrics"]:
        points = metric["treatments"][0]["points"]
        last = points[-1]
        assert last["liftCi"][0] > 0 and last["pValue"] < 0.05, (metric["metric"], last)
        assert last["relativeLift"] == pytest.approx(0.05, abs=0.02)
    query = f"start={_iso(START)}&end={_iso(NOW)}"
    compared = client.get(f"/abtest/strong/compare?{query}").get_json()
    assert [m["comparisons"][0]["verdict"] for m in compared["metrics"]] == ["worse", "worse"]


def test_the_window_holds_what_was_ingested(client, catalogue_entries):
    _setup(client, "counted")
    seconds, variant = _ingest(client, "counted", lift=0.0, seed=1)
    body = _looks(client, "counted", inference="fixed")
    (latency, cpu) = body["metrics"]
    last = latency["treatments"][0]["points"][-1]
    assert (last["controlCount"], last["treatmentCount"]) == (
        int(np.sum(variant == 0)),
        int(np.sum(variant == 1)),
    )
    paired = set(seconds[variant == 0] // 60) & set(seconds[variant == 1] // 60)
    assert cpu["treatments"][0]["points"][-1]["units"] == len(paired)
    assert body["inference"] == "fixed" and body["validity"].startswith("Fixed horizon: valid at")
    assert datetime.fromisoformat(body["end"]) == datetime.fromtimestamp(NOW, UTC)
    assert timedelta(seconds=NOW - START) == timedelta(hours=LOOKS)
