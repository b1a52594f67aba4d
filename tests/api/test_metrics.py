"""The JSON API contract: status, content type and exact JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.helpers import at, store
from tsmetrics import create_app

PROBLEM = "application/problem+json"
T0 = at("2025-11-09 12:00:00")
BASE = "/metrics?abTestName=feature_a&metricName=response_time"
RANGE = "&start=2025-11-09T12:00:00Z&end=2025-11-09T12:10:00Z"


@pytest.fixture
def known(db, feature_a):
    """Five samples over two 5-minute buckets, both variants, unequal counts."""
    test, metric = feature_a
    store(
        db,
        [
            (at("2025-11-09 12:00:10"), 100.0, test.id, metric.id, 0),
            (at("2025-11-09 12:01:00"), 110.0, test.id, metric.id, 0),
            (at("2025-11-09 12:02:00"), 50.0, test.id, metric.id, 1),
            (at("2025-11-09 12:05:00"), 10.0, test.id, metric.id, 0),
            (at("2025-11-09 12:06:30"), 20.5, test.id, metric.id, 1),
        ],
    )
    return test, metric


def _problem(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json(force=True)
    assert body["status"] == status
    assert body["title"]
    return body


def test_exact_contract(client, known):
    response = client.get(BASE + RANGE + "&granularity=5m")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    t0 = int(T0.timestamp())
    assert response.get_json() == {
        "abTest": "feature_a",
        "metric": "response_time",
        "unit": "ms",
        "skip": 0,
        "limit": 10000,
        "count": 2,
        "isComplete": True,
        "granularity": "5m",
        "variant": None,
        "datapoints": [
            {"t": t0, "a": 86.667, "l": 50.0, "h": 110.0},
            {"t": t0 + 300, "a": 15.25, "l": 10.0, "h": 20.5},
        ],
    }


def test_default_granularity_is_5m(client, known):
    body = client.get(BASE + RANGE).get_json()
    assert body["granularity"] == "5m"
    assert body["count"] == 2


def test_variant_filter(client, known):
    body = client.get(BASE + RANGE + "&variant=control").get_json()
    assert body["variant"] == "control"
    assert [(p["a"], p["l"], p["h"]) for p in body["datapoints"]] == [
        (105.0, 100.0, 110.0),
        (10.0, 10.0, 10.0),
    ]


def test_aliases_give_the_same_answer(client, known):
    canonical = client.get(BASE + RANGE).get_json()
    aliased = client.get("/metrics?abTest=feature_a&metric=response_time" + RANGE).get_json()
    assert aliased == canonical


def test_coarse_granularity_is_exact_not_a_mean_of_means(client, known):
    body = client.get(BASE + RANGE + "&granularity=1h").get_json()
    # (100 + 110 + 50 + 10 + 20.5) / 5 = 58.1; the mean of the 5m means would be 50.958.
    assert body["datapoints"] == [{"t": int(T0.timestamp()), "a": 58.1, "l": 10.0, "h": 110.0}]


def test_start_is_floored_to_the_bucket(client, known):
    body = client.get(BASE + "&start=2025-11-09T12:03:00Z&end=2025-11-09T12:06:00Z").get_json()
    assert [p["t"] for p in body["datapoints"]] == [int(T0.timestamp()), int(T0.timestamp()) + 300]


def test_offsets_and_unencoded_plus(client, known):
    encoded = client.get(BASE + "&start=2025-11-09T13:00:00%2B01:00&end=2025-11-09T12:10:00Z")
    unencoded = client.get(BASE + "&start=2025-11-09T13:00:00+01:00&end=2025-11-09T12:10:00Z")
    assert encoded.get_json()["count"] == unencoded.get_json()["count"] == 2


def test_pagination_and_is_complete(client, known):
    first = client.get(BASE + RANGE + "&limit=1").get_json()
    assert (first["count"], first["isComplete"], first["limit"]) == (1, False, 1)
    second = client.get(BASE + RANGE + "&limit=1&skip=1").get_json()
    assert (second["count"], second["isComplete"], second["skip"]) == (1, True, 1)
    assert second["datapoints"][0]["t"] == first["datapoints"][0]["t"] + 300
    past_end = client.get(BASE + RANGE + "&skip=5").get_json()
    assert (past_end["count"], past_end["isComplete"], past_end["datapoints"]) == (0, True, [])


def test_default_range_is_the_last_three_days(client, db, feature_a):
    test, metric = feature_a
    now = datetime.now(UTC)
    store(
        db,
        [
            (now - timedelta(hours=1), 1.0, test.id, metric.id, 0),
            (now - timedelta(days=4), 2.0, test.id, metric.id, 0),
        ],
    )
    body = client.get(BASE).get_json()
    assert [p["a"] for p in body["datapoints"]] == [1.0]


@pytest.mark.parametrize(
    ("span", "expected"),
    [
        ("&start=2025-11-09T00:00:00Z&end=2025-11-09T16:00:00Z", "1m"),
        ("&start=2025-11-09T00:00:00Z&end=2025-11-10T00:00:00Z", "5m"),
        ("&start=2025-10-10T00:00:00Z&end=2025-11-09T00:00:00Z", "1h"),
        ("&start=2024-11-09T00:00:00Z&end=2025-11-09T00:00:00Z", "1d"),
    ],
)
def test_auto_granularity_is_the_finest_within_1000_buckets(client, known, span, expected):
    body = client.get(BASE + span + "&granularity=auto").get_json()
    assert body["granularity"] == expected


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("/metrics?metricName=response_time", "abTestName"),
        ("/metrics?abTestName=feature_a", "metricName"),
        (BASE + "&granularity=7m", "granularity"),
        (BASE + "&granularity=", "granularity"),
        (BASE + "&skip=-1", "skip"),
        (BASE + "&skip=x", "skip"),
        (BASE + "&limit=0", "limit"),
        (BASE + "&limit=10001", "limit"),
        (BASE + "&limit=1.5", "limit"),
        (BASE + "&start=yesterday", "start"),
        (BASE + "&start=2025-11-09T12:00:00", "start"),
        (BASE + "&end=2025-11-09T12:00:00%2B25:00", "end"),
        (BASE + "&start=2025-11-09T12:00:00Z&end=2025-11-09T11:00:00Z", "end"),
        (BASE + "&start=2999-01-01T00:00:00Z", "start"),
        ("/metrics?abTestName=Feature%20A!&metricName=response_time", "abTestName"),
        ("/metrics?abTestName=" + "a" * 51 + "&metricName=response_time", "abTestName"),
        ("/metrics?abTestName=feature_a&metricName=x%00y", "metricName"),
        (BASE + "&variant=", "variant"),
        (BASE + "&abTest=feature_b", "abTestName"),
        (BASE + "&granularity=5m&colour=blue", "colour"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(client, known, query, field):
    body = _problem(client.get(query), 400)
    assert field in body["errors"], body
    assert all(isinstance(reason, str) and reason for reason in body["errors"][field])
    assert field in body["detail"]


def test_several_bad_fields_are_all_named(client, known):
    body = _problem(client.get(BASE + "&granularity=2m&limit=0&skip=-3"), 400)
    assert set(body["errors"]) == {"granularity", "limit", "skip"}


@pytest.mark.parametrize(
    ("query", "field", "name"),
    [
        ("/metrics?abTestName=nope&metricName=response_time", "abTestName", "nope"),
        ("/metrics?abTestName=feature_a&metricName=nope", "metricName", "nope"),
        (BASE + "&variant=nope", "variant", "nope"),
    ],
)
def test_unknown_names_are_404_naming_them(client, known, query, field, name):
    body = _problem(client.get(query), 404)
    assert field in body["errors"]
    assert repr(name) in body["detail"]


def test_database_down_is_503_with_retry_after(db):
    app = create_app(
        {
            "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
            "POOL_TIMEOUT": 0.5,
            "CONNECT_TIMEOUT": 1,
            "RETRY_AFTER": 7,
        }
    )
    try:
        response = app.test_client().get(BASE + RANGE)
        body = _problem(response, 503)
        assert response.headers["Retry-After"] == "7"
        assert "Traceback" not in response.get_data(as_text=True)
        assert "nobody" not in body["detail"]
    finally:
        app.extensions["tsmetrics.pool"].close()


def test_unknown_route_and_method_are_problems(client, known):
    _problem(client.get("/nowhere"), 404)
    response = client.post(BASE)
    _problem(response, 405)
    assert "GET" in response.headers["Allow"]


def test_openapi_documents_every_operation(client):
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    get_metrics = spec["paths"]["/metrics"]["get"]
    assert get_metrics["summary"]
    params = {p["name"]: p for p in get_metrics["parameters"]}
    for name in (
        "abTestName",
        "abTest",
        "metricName",
        "metric",
        "start",
        "end",
        "granularity",
        "skip",
        "limit",
        "variant",
    ):
        assert params[name]["description"], name
    for name in ("abTestName", "metricName", "start", "end", "granularity", "limit"):
        assert "example" in params[name]["schema"] or "example" in params[name], name
    assert {"200", "400", "404", "503"} <= set(get_metrics["responses"])
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            assert operation.get("summary"), f"{method.upper()} {path} has no summary"


def test_swagger_ui_is_served_from_vendored_assets(client):
    page = client.get("/swagger")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/openapi.json" in html
    assert "http://" not in html and "https://" not in html
    for asset in (
        "vendor/swagger-ui/swagger-ui-bundle.js",
        "vendor/swagger-ui/swagger-ui.css",
        "js/swagger-init.js",
    ):
        assert asset in html
        with client.get("/static/" + asset) as response:
            assert response.status_code == 200
