"""The API keeps its documented contract (issue 14, item 9).

A PATCH must change something, list items' errors come back as the documented
array of strings, JSON booleans and integers are strict, a token's rate allows
at least one request, /ingest needs Content-Type: application/json, and every
rule the API enforces is stated in its OpenAPI document.
"""

from __future__ import annotations

import re

import orjson
import pytest

from tsmetrics import problems
from tsmetrics.security import startup
from tsmetrics.settings import SettingError
from tsmetrics.store import catalogue

PROBLEM = "application/problem+json"


def _refused(response, field: str, status: int = 400) -> list[str]:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == PROBLEM
    errors = response.get_json()["errors"]
    assert field in errors, errors
    # The documented shape: {field: [message, ...]}, every message a string.
    assert all(isinstance(v, list) and all(isinstance(m, str) for m in v) for v in errors.values())
    return errors[field]


@pytest.fixture
def metric(db):
    """A metric of the catalogue."""
    return catalogue.ensure_metric(db, "response_time", unit="ms")


@pytest.mark.parametrize("path", ["/abtest/feature_a", "/metrics/catalogue/response_time"])
@pytest.mark.parametrize("body", [None, b"", b"{}"])
def test_a_patch_without_a_change_is_a_400(client, feature_a, path, body):
    before = client.get(path).get_data()
    kwargs = {} if body is None else {"data": body, "content_type": "application/json"}
    messages = _refused(client.patch(path, **kwargs), "body")
    assert messages == ["Nothing to change: give at least one field."]
    assert client.get(path).get_data() == before


def test_a_patch_with_a_change_still_works(client, feature_a):
    response = client.patch("/abtest/feature_a", json={"title": "New"})
    assert response.status_code == 200 and response.get_json()["title"] == "New"
    response = client.patch("/metrics/catalogue/response_time", json={"archived": True})
    assert response.status_code == 200 and response.get_json()["archived"] is True


def test_list_item_errors_are_an_array_of_strings(client, db):
    messages = _refused(
        client.post("/tokens", json={"name": "t", "scopes": ["read", "x"]}), "scopes"
    )
    assert messages == ["item 2: Must be one of: read, ingest, admin."]
    messages = _refused(
        client.post("/abtest", json={"name": "v", "variants": ["a", "B"]}), "variants"
    )
    assert messages[0].startswith("item 2: ")


def test_nested_messages_are_flattened_to_strings_whatever_the_schema(app):
    with app.test_request_context("/abtest", headers={"Accept": "application/json"}):
        response = problems.problem(
            400, "x", errors={"a": {0: ["bad"], 2: {"b": ["worse"]}}, "c": ["fine"]}
        )
    assert orjson.loads(response.get_data())["errors"] == {
        "a": ["item 1: bad", "item 3: b: worse"],
        "c": ["fine"],
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("higherIsBetter", "yes"),
        ("higherIsBetter", "true"),
        ("higherIsBetter", 1),
        ("displayDecimals", 2.5),
        ("displayDecimals", "2"),
        ("displayDecimals", True),
    ],
)
def test_json_booleans_and_integers_are_strict(client, db, field, value):
    _refused(client.post("/metrics/catalogue", json={"name": "m", field: value}), field)
    assert catalogue.list_metrics(db, include_archived=True) == []


def test_strict_fields_of_changes_and_plans(client, feature_a):
    _refused(client.patch("/metrics/catalogue/response_time", json={"archived": "yes"}), "archived")
    plans = {"metricPlans": {"response_time": {"mdeRelative": 0.1, "guardrail": "yes"}}}
    _refused(client.patch("/abtest/feature_a", json=plans), "metricPlans")
    _refused(client.patch("/abtest/feature_a", json={"plannedSamples": 10.5}), "plannedSamples")


def test_json_booleans_and_integers_of_the_right_type_are_taken(client, db):
    body = {"name": "m", "higherIsBetter": True, "displayDecimals": 3}
    created = client.post("/metrics/catalogue", json=body)
    assert created.status_code == 201, created.get_data(as_text=True)
    assert created.get_json()["higherIsBetter"] is True
    assert created.get_json()["displayDecimals"] == 3
    whole = client.post("/metrics/catalogue", json={"name": "n", "displayDecimals": 2.0})
    assert whole.status_code == 201 and whole.get_json()["displayDecimals"] == 2


@pytest.mark.parametrize("rate", ["0/minute", "10/second;0/hour", "0 per day"])
def test_a_token_rate_that_allows_nothing_is_refused(client, db, rate):
    response = client.post("/tokens", json={"name": "t", "scopes": ["read"], "rateLimit": rate})
    assert "allows no request" in _refused(response, "rateLimit")[0]
    with pytest.raises(SettingError, match="allows no request"):
        startup.check_rate_limit(rate, "TSMETRICS_RATE_LIMIT_READ")


def test_a_token_rate_of_one_is_taken(client, db):
    response = client.post("/tokens", json={"name": "t", "scopes": ["read"], "rateLimit": "1/hour"})
    assert response.status_code == 201, response.get_data(as_text=True)


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", None, "application/xml"]
)
def test_ingest_needs_a_json_content_type(client, feature_a, db, content_type):
    body = orjson.dumps({"abTest": "feature_a", "variant": "control", "samples": []})
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = client.post("/ingest", data=body, headers=headers)
    messages = _refused(response, "Content-Type", status=415)
    assert "application/json" in messages[0]


def test_ingest_takes_json_with_a_charset(client, feature_a):
    body = orjson.dumps({"abTest": "feature_a", "variant": "control", "samples": []})
    response = client.post(
        "/ingest", data=body, headers={"Content-Type": "application/json; charset=utf-8"}
    )
    _refused(response, "samples")  # read as a batch: past the content type


def test_the_openapi_document_states_the_rules(client):
    spec = client.get("/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    for name in ("ABTestUpdate", "MetricUpdate"):
        assert schemas[name]["minProperties"] == 1
    create = schemas["ABTestCreate"]["properties"]
    assert create["variants"]["uniqueItems"] is True
    assert create["expectedSplit"]["items"]["minimum"] == 0.001
    assert create["expectedSplit"]["items"]["maximum"] == 1000
    assert "one per variant" in create["expectedSplit"]["description"]
    metric = schemas["MetricCreate"]["properties"]
    assert metric["displayDecimals"]["type"] == "integer"
    assert metric["higherIsBetter"]["type"] == "boolean"
    assert (
        "at least 1 per period" in schemas["TokenCreate"]["properties"]["rateLimit"]["description"]
    )
    params = {p["name"]: p for p in spec["paths"]["/metrics"]["get"]["parameters"]}
    assert "after `start`" in params["end"]["description"]
    assert "1970-01-01T00:00:00Z to 9999-01-01T00:00:00Z" in params["start"]["description"]
    assert "both equal" in params["abTestName"]["description"]
    over_time = spec["paths"]["/abtest/{name}/compare/over-time"]["get"]["parameters"]
    granularity = next(p for p in over_time if p["name"] == "granularity")
    assert "more than 1,000 points" in granularity["description"]
    assert "415" in spec["paths"]["/ingest"]["post"]["responses"]
    sample = schemas["Sample"]["properties"]["time"]["description"]
    assert "7 days by default" in sample
    # Patterns generators and validators of the document can use.
    token = schemas["TokenCreate"]["properties"]
    assert token["rateLimit"]["pattern"] and token["name"]["pattern"]
    assert params["start"]["schema"]["pattern"] == params["end"]["schema"]["pattern"]


@pytest.mark.parametrize(
    ("moment", "documented"),
    [
        ("1971-01-01T00:00:00-14:00", True),
        ("9998-12-31T23:59:59+14:00", True),
        ("1970-06-01T00:00:00Z", False),  # accepted, though the pattern is stricter
        ("1969-12-31T23:59:59Z", False),
        ("9999-06-01T00:00:00Z", False),
    ],
)
def test_a_moment_the_date_pattern_admits_is_accepted(client, db, moment, documented):
    spec = client.get("/openapi.json").get_json()
    start = next(p for p in spec["paths"]["/metrics"]["get"]["parameters"] if p["name"] == "start")
    assert bool(re.match(start["schema"]["pattern"], moment)) is documented
    catalogue.ensure_abtest(db, "a", variants=["control", "treatment"])
    catalogue.ensure_metric(db, "b", unit="ms")
    query = {"abTestName": "a", "metricName": "b", "start": moment, "end": "9999-01-01T00:00:00Z"}
    answered = client.get("/metrics", query_string={**query, "granularity": "1d"}).status_code
    assert answered == 200 if documented or moment.startswith("1970") else answered == 400


def test_a_search_with_nul_is_refused_by_name(client, db):
    _refused(client.get("/overview", query_string={"q": "a\x00b"}), "q")


@pytest.mark.parametrize("name", ["tab\there", "bell\x07"])
def test_a_token_name_with_control_characters_is_refused_by_name(client, db, name):
    _refused(client.post("/tokens", json={"name": name, "scopes": ["read"]}), "name")
