"""The CSV twins of /metrics, the comparison, over-time and the overview (issue 15).

Each CSV is parsed and checked cell by cell against its JSON twin, read
independently here from the JSON body (numbers compared exactly, as doubles).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from tests.support.helpers import at, store
from tsmetrics.api.csv_responses import safe_cell
from tsmetrics.store import catalogue

START = at("2025-11-01 00:00:00")
DAYS = 2
LONG_DAYS = 8  # 11,520 one-minute buckets: more than one JSON page of 10,000
WINDOW = f"start=2025-11-01T00:00:00Z&end=2025-11-{1 + DAYS:02d}T00:00:00Z"
TITLE = '=HYPERLINK("http://x")'
METRICS = "/metrics?abTestName=exp&metricName=latency&" + WINDOW
PROBLEM = "application/problem+json"


def _seed(client, db, days: int) -> catalogue.ABTest:
    """exp (control and `-cmd`, titled like a formula): latency every minute, about 0 +- 50."""
    created = client.post(
        "/abtest", json={"name": "exp", "title": TITLE, "variants": ["control", "-cmd"]}
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    test = catalogue.get_abtest(db, "exp")
    metric = catalogue.create_metric(db, "latency", unit="ms")
    rng = np.random.default_rng(15)
    minutes = days * 24 * 60
    values = np.round(rng.normal(0, 50, minutes), 3)
    rows = [
        (START + timedelta(minutes=m, seconds=7), float(values[m]), test.id, metric.id, m % 2)
        for m in range(minutes)
    ]
    store(db, rows)
    return test


def _seed_spread(client, db, count: int, every: int) -> None:
    """exp with no latency, and `spread`, a distribution metric: `count` lognormal samples."""
    test = _seed(client, db, 0)
    metric = catalogue.create_metric(db, "spread", unit="ms", distribution=True)
    values = np.random.default_rng(count).lognormal(3, 1, count)
    store(db, [(START + timedelta(seconds=every * i), float(v), test.id, metric.id, i % 2)
               for i, v in enumerate(values)])  # fmt: skip


@pytest.fixture
def exp(client, db) -> catalogue.ABTest:
    """exp over DAYS days."""
    return _seed(client, db, DAYS)


def _csv(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    assert response.mimetype_params["charset"] == "utf-8"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    assert "Accept" in response.vary
    assert response.is_streamed
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def _json(response) -> dict:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    assert "Accept" in response.vary
    return response.get_json()


def _number(cell: str) -> float | int | None:
    """A numeric cell as written: empty for null, else the exact number."""
    if cell == "":
        return None
    return int(cell) if cell.lstrip("-").isdigit() else float(cell)


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_metrics_csv_is_every_bucket_of_the_json_pages(client, db):
    _seed(client, db, LONG_DAYS)
    query = METRICS.replace("-03T", f"-{1 + LONG_DAYS:02d}T") + "&granularity=1m"
    response = client.get(query + "&format=csv")
    rows = _csv(response)
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="exp_latency_all_1m_20251101T000000Z_20251109T000000Z.csv"'
    )
    first = _json(client.get(query))
    second = _json(client.get(query + "&skip=10000"))
    assert (first["isComplete"], second["isComplete"]) == (False, True)
    points = first["datapoints"] + second["datapoints"]
    assert len(points) == LONG_DAYS * 1440 == len(rows)
    assert list(rows[0]) == ["t", "time", "mean", "min", "max"]
    for row, point in zip(rows, points, strict=True):
        assert [_number(row[k]) for k in ("t", "mean", "min", "max")] == [
            point["t"], point["a"], point["l"], point["h"],
        ]  # fmt: skip
        assert row["time"] == _iso(point["t"])
    assert any(row["mean"].startswith("-") for row in rows)  # numbers are never escaped


@pytest.mark.parametrize(
    "query",
    [
        "&granularity=5m&variant=-cmd&skip=7&limit=30",
        "&granularity=auto&variant=control",
        "&granularity=1h&limit=3",
    ],
)
def test_metrics_csv_by_accept_equals_its_json_page(client, exp, query):
    rows = _csv(client.get(METRICS + query, headers={"Accept": "text/csv"}))
    body = _json(client.get(METRICS + query))
    expected = [[p["t"], p["a"], p["l"], p["h"]] for p in body["datapoints"]]
    assert [[_number(r[k]) for k in ("t", "mean", "min", "max")] for r in rows] == expected


def test_metrics_csv_has_a_column_per_percentile_asked_for(client, db):
    _seed_spread(client, db, count=600, every=7)
    query = METRICS.replace("latency", "spread") + "&granularity=30m&quantiles=p50,p99.9"
    rows = _csv(client.get(query + "&format=csv"))
    body = _json(client.get(query))
    assert list(rows[0]) == ["t", "time", "mean", "min", "max", "p50", "p99.9"]
    assert len(rows) == len(body["datapoints"]) > 1
    for row, point in zip(rows, body["datapoints"], strict=True):
        assert [_number(row[k]) for k in ("t", "mean", "p50", "p99.9")] == [
            point["t"], point["a"], point["q"]["p50"], point["q"]["p99.9"],
        ]  # fmt: skip


def test_format_wins_over_accept_and_json_stays_the_default(client, exp):
    query = METRICS + "&granularity=1d"
    assert _json(client.get(query + "&format=json", headers={"Accept": "text/csv"}))["count"]
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    assert _json(client.get(query, headers={"Accept": browser}))["count"] == DAYS
    assert len(_csv(client.get(query, headers={"Accept": "text/csv, */*;q=0.1"}))) == DAYS


def test_metrics_json_and_csv_do_not_share_a_conditional_answer(client, exp):
    query = METRICS + "&granularity=1d"
    first = client.get(query)
    etag = first.headers["ETag"]
    assert client.get(query, headers={"If-None-Match": etag}).status_code == 304
    again = client.get(query + "&format=csv", headers={"If-None-Match": etag})
    assert len(_csv(again)) == DAYS
    assert "ETag" not in again.headers
    assert again.headers["Cache-Control"] == first.headers["Cache-Control"]


@pytest.mark.parametrize(
    ("path", "headers", "status", "field"),
    [
        ("/metrics?abTestName=nope&metricName=latency&format=csv", {}, 404, "abTestName"),
        (METRICS + "&format=xlsx", {}, 400, "format"),
        (METRICS + "&granularity=weekly", {"Accept": "text/csv"}, 400, "granularity"),
        ("/abtest/nope/compare?format=csv", {}, 404, "name"),
        ("/abtest/exp/compare/over-time?format=csv&granularity=1m", {}, 400, "granularity"),
        ("/overview?format=csv&status=sleeping", {}, 400, "status"),
    ],
)
def test_errors_stay_problem_json(client, exp, path, headers, status, field):
    response = client.get(path, headers=headers)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    assert field in response.get_json()["errors"]


def test_compare_csv_equals_json_and_escapes_a_formula_like_variant(client, exp):
    query = f"/abtest/exp/compare?{WINDOW}&correction=holm&inference=fixed"
    rows = _csv(client.get(query + "&format=csv"))
    body = _json(client.get(query))
    (metric,) = body["metrics"]
    (comparison,) = metric["comparisons"]
    assert [row["variant"] for row in rows] == ["control", "'-cmd"]
    assert comparison["variant"] == "-cmd"
    for row, variant in zip(rows, metric["variants"], strict=True):
        assert (row["metric"], row["unit"], row["kind"]) == ("latency", "ms", "mean")
        for key in ("count", "mean", "sd", "min", "max", "sum", "ratePerMinute"):
            assert _number(row[key]) == variant[key], key
        assert [_number(row["meanCiLow"]), _number(row["meanCiHigh"])] == variant["meanCi"]
        assert _number(row["srmPValue"]) == metric["srm"]["pValue"]
        assert row["srmFlagged"] == str(metric["srm"]["flagged"]).lower()
    control, treatment = rows
    assert all(control[key] == "" for key in ("lift", "pValue", "verdict", "inference"))
    for key in ("lift", "relativeLift", "statistic", "t", "df", "pValue", "adjustedPValue"):
        assert _number(treatment[key]) == comparison[key], key
    for key in ("liftCi", "relativeLiftCi"):
        assert [_number(treatment[key + "Low"]), _number(treatment[key + "High"])] == (
            comparison[key]
        )
    assert _number(treatment["units"]) == comparison["units"]
    assert (treatment["verdict"], treatment["inference"]) == (comparison["verdict"], "fixed")
    assert treatment["refusal"] == ""


def test_compare_csv_has_each_percentile_asked_for(client, db):
    _seed_spread(client, db, count=4000, every=20)
    query = f"/abtest/exp/compare?{WINDOW}&metric=spread&inference=fixed&quantiles=p50,p95"
    rows = _csv(client.get(query + "&format=csv"))
    block = _json(client.get(query))["metrics"][0]["quantiles"]
    assert list(rows[0])[-28:-14] == ["p50", "p50CiLow", "p50CiHigh", "p50Difference",
        "p50DifferenceCiLow", "p50DifferenceCiHigh", "p50RelativeDifference",
        "p50RelativeDifferenceCiLow", "p50RelativeDifferenceCiHigh", "p50Statistic",
        "p50PValue", "p50AdjustedPValue", "p50Verdict", "p50Refusal"]  # fmt: skip
    for row, variant in zip(rows, block["variants"], strict=True):
        for value in variant["quantiles"]:
            q = value["quantile"]
            assert [_number(row[q + k]) for k in ("", "CiLow", "CiHigh")] == [
                value["value"], *value["ci"],
            ]  # fmt: skip
    control, treatment = rows
    assert control["p95Difference"] == control["p95Verdict"] == ""
    for c in block["comparisons"]:
        q = c["quantile"]
        assert _number(treatment[q + "Difference"]) == c["difference"]
        assert [
            _number(treatment[q + "DifferenceCiLow"]),
            _number(treatment[q + "DifferenceCiHigh"]),
        ] == c["differenceCi"]
        assert _number(treatment[q + "PValue"]) == c["pValue"]
        assert treatment[q + "Verdict"] == c["verdict"]


def test_over_time_csv_equals_json(client, exp):
    query = f"/abtest/exp/compare/over-time?{WINDOW}&granularity=6h"
    rows = _csv(client.get(query, headers={"Accept": "text/csv"}))
    body = _json(client.get(query))
    ((treatment,),) = [m["treatments"] for m in body["metrics"]]
    assert len(rows) == len(treatment["points"]) == DAYS * 4
    for row, point in zip(rows, treatment["points"], strict=True):
        assert [row[k] for k in ("metric", "variant", "inference")] == [
            "latency",
            "'-cmd",
            "sequential",
        ]
        assert row["time"] == _iso(point["t"])
        for key in ("t", "controlCount", "treatmentCount", "lift", "relativeLift", "pValue"):
            assert _number(row[key]) == point[key], key
        for key in ("liftCi", "relativeLiftCi"):
            pair = [_number(row[key + "Low"]), _number(row[key + "High"])]
            assert pair == (point[key] or [None, None]), key
        assert _number(row["units"]) == point["units"]
        assert row["refusal"] == (point["refusal"] or "")


def test_overview_csv_equals_json_and_escapes_the_title(client, exp, db):
    catalogue.ensure_abtest(db, "plain", variants=["a", "b"], title="@import, +1 and - more")
    response = client.get("/overview?format=csv")
    rows = _csv(response)
    assert response.headers["Content-Disposition"] == 'attachment; filename="overview.csv"'
    body = _json(client.get("/overview"))
    assert [row["name"] for row in rows] == [test["name"] for test in body["abTests"]]
    assert [row["title"] for row in rows] == ["'" + TITLE, "'@import, +1 and - more"]
    for row, test in zip(rows, body["abTests"], strict=True):
        assert row["variants"] == " ".join(test["variants"])
        assert row["metrics"] == " ".join(test["metrics"])
        assert (row["status"], row["since"]) == (test["status"], body["since"])
        assert _number(row["recentSamples"]) == test["recentSamples"]
        assert row["latestSampleAt"] == (test["latestSampleAt"] or "")
        assert _number(row["guardrailAlerts"]) == len(test["guardrailAlerts"])


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_text_that_a_spreadsheet_would_run_is_escaped(start):
    assert safe_cell(start + "cmd|' /C calc'!A0") == "'" + start + "cmd|' /C calc'!A0"


def test_numbers_and_plain_text_are_written_as_they_are():
    assert [safe_cell(v) for v in (-3.5, 0, 12, "control", "a=b", "", None)] == [
        -3.5, 0, 12, "control", "a=b", "", "",
    ]  # fmt: skip


def test_openapi_documents_the_csv_twins(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    for path in ("/metrics", "/overview", "/abtest/{name}/compare"):
        get = paths[path]["get"]
        assert set(get["responses"]["200"]["content"]) == {"application/json", "text/csv"}
        assert "Content-Disposition" in get["responses"]["200"]["headers"]
        (fmt,) = [p for p in get["parameters"] if p["name"] == "format"]
        assert fmt["schema"]["enum"] == ["json", "csv"]
    over_time = paths["/abtest/{name}/compare/over-time"]["get"]
    assert "text/csv" in over_time["responses"]["200"]["content"]
    assert "text/csv" not in paths["/abtest/{name}/plan"]["get"]["responses"]["200"]["content"]
