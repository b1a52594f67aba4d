"""An A/B test's inference and plan fields through POST/PATCH/GET /abtest (issue 12)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tsmetrics.store import catalogue

PROBLEM = "application/problem+json"


@pytest.fixture
def metrics(db):
    """Three metrics of the catalogue."""
    return [catalogue.create_metric(db, name) for name in ("latency", "cpu", "clicks")]


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    return response.get_json(force=True)


def test_new_tests_are_sequential_with_no_plan(client, db):
    body = client.post("/abtest", json={"name": "plain"}).get_json()
    assert {k: body[k] for k in ("inference", "plannedEnd", "plannedSamples")} == {
        "inference": "sequential",
        "plannedEnd": None,
        "plannedSamples": None,
    }
    assert (body["sequentialNStar"], body["metricPlans"]) == (None, {})


def test_create_with_a_plan_and_read_it_back(client, metrics):
    response = client.post(
        "/abtest",
        json={
            "name": "checkout",
            "inference": "fixed",
            "plannedEnd": "2030-01-31T12:00:00+01:00",
            "plannedSamples": 2_000_000,
            "sequentialNStar": 500_000,
            "metricPlans": {
                "latency": {"mdeRelative": 0.01, "guardrail": True},
                "clicks": {"mdeRelative": 0.05},
                "cpu": {"guardrail": True},
            },
        },
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    want = {
        "inference": "fixed",
        "plannedEnd": "2030-01-31T11:00:00+00:00",
        "plannedSamples": 2_000_000,
        "sequentialNStar": 500_000,
        "metricPlans": {
            "clicks": {"mdeRelative": 0.05, "guardrail": False},
            "cpu": {"mdeRelative": None, "guardrail": True},
            "latency": {"mdeRelative": 0.01, "guardrail": True},
        },
    }
    assert {key: response.get_json()[key] for key in want} == want
    detail = client.get("/abtest/checkout").get_json()
    assert {key: detail[key] for key in want} == want


def test_patch_changes_only_the_plans_it_names(client, metrics):
    client.post(
        "/abtest",
        json={
            "name": "checkout",
            "metricPlans": {"latency": {"mdeRelative": 0.01}, "cpu": {"guardrail": True}},
        },
    )
    body = client.patch(
        "/abtest/checkout",
        json={
            "inference": "fixed",
            "plannedSamples": None,
            "metricPlans": {"cpu": None, "clicks": {"mdeRelative": 0.2, "guardrail": True}},
        },
    ).get_json()
    assert body["inference"] == "fixed"
    assert body["metricPlans"] == {
        "clicks": {"mdeRelative": 0.2, "guardrail": True},
        "latency": {"mdeRelative": 0.01, "guardrail": False},
    }
    # A plan with neither an MDE nor a guardrail is no plan.
    body = client.patch(
        "/abtest/checkout", json={"metricPlans": {"latency": {"mdeRelative": None}}}
    ).get_json()
    assert list(body["metricPlans"]) == ["clicks"]
    assert client.patch("/abtest/checkout", json={"plannedEnd": None}).status_code == 200


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"inference": "bayes"}, "inference", "Must be one of: sequential, fixed."),
        ({"plannedEnd": "next week"}, "plannedEnd", None),
        ({"plannedEnd": "2030-01-01T00:00:00"}, "plannedEnd", None),
        ({"plannedSamples": 0}, "plannedSamples", "Must be a whole number >= 1."),
        ({"sequentialNStar": -5}, "sequentialNStar", "Must be a whole number >= 1."),
        ({"sequentialNStar": 1.5}, "sequentialNStar", None),
        ({"metricPlans": []}, "metricPlans", None),
        ({"metricPlans": {"Bad Name": {}}}, "metricPlans", None),
        (
            {"metricPlans": {"latency": {"mdeRelative": 0}}},
            "metricPlans",
            "latency: mdeRelative: Must be > 0 and <= 10.",
        ),
        (
            {"metricPlans": {"latency": {"mde": 0.1}}},
            "metricPlans",
            "latency: mde: Unknown field.",
        ),
        ({"metricPlans": {"latency": 0.1}}, "metricPlans", "latency: Invalid input type."),
    ],
)
def test_bad_plans_are_400_naming_the_field(client, metrics, payload, field, message):
    body = _problem(client.post("/abtest", json={"name": "x", **payload}), 400)
    assert list(body["errors"]) == [field], body
    assert all(isinstance(m, str) for m in body["errors"][field])
    if message:
        assert body["errors"][field] == [message]


def test_plans_that_clash_with_the_stored_state(client, metrics, db):
    body = _problem(
        client.post("/abtest", json={"name": "x", "metricPlans": {"nope": {"guardrail": True}}}),
        400,
    )
    assert body["errors"] == {"metricPlans": ["Metric 'nope' does not exist."]}
    assert client.get("/abtest/x").status_code == 404  # nothing was created
    client.post("/abtest", json={"name": "live", "status": "running"})
    before = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    body = _problem(client.patch("/abtest/live", json={"plannedEnd": before}), 400)
    assert body["errors"]["plannedEnd"][0].startswith("Must be after the test's start (")
    client.patch("/abtest/live", json={"status": "completed"})
    client.patch("/abtest/live", json={"status": "archived"})
    plans = {"metricPlans": {"cpu": {"guardrail": True}}}
    assert _problem(client.patch("/abtest/live", json=plans), 409)["errors"].keys() == {"status"}


def test_openapi_documents_the_plan_fields_and_resource(client):
    spec = client.get("/openapi.json").get_json()
    plan = spec["paths"]["/abtest/{name}/plan"]["get"]
    assert plan["summary"].startswith("Per metric and treatment")
    names = {p["name"] for p in plan["parameters"]}
    assert {"inference", "metric", "start", "end"} <= names
    schemas = spec["components"]["schemas"]
    for field in ("inference", "plannedEnd", "plannedSamples", "sequentialNStar", "metricPlans"):
        assert field in schemas["ABTestCreate"]["properties"], field
        assert field in schemas["ABTestDetail"]["properties"], field
