"""The A/B test forms' inference and plan fields, and the catalogue's analysis unit (issue 12)."""

from __future__ import annotations

import pytest

from tests.security.helpers import session_csrf
from tests.web.test_dashboard import HX, text
from tests.web.test_manage import METRICS, NEW, edit, field_error
from tsmetrics.store import catalogue, plans


@pytest.fixture
def client(app):
    """A test client that sends its session's CSRF token, as csrf.js does."""
    client = app.test_client()
    client.get("/dashboard/")
    client.environ_base["HTTP_X_CSRF_TOKEN"] = session_csrf(client)
    return client


@pytest.fixture
def metrics(db):
    """Two metrics for the plan rows."""
    return [catalogue.create_metric(db, name) for name in ("latency", "cpu")]


def test_create_with_a_plan_through_the_form(client, db, metrics):
    form = {
        "name": "planned",
        "variants": "control\ntreatment",
        "inference": "fixed",
        "plannedEnd": "2031-03-01T12:30",
        "plannedSamples": "100000",
        "sequentialNStar": "",
        "mde-latency": "1.5%",
        "guardrail-latency": "on",
        "mde-cpu": "",
    }
    assert client.post(NEW, data=form, headers=HX).status_code == 201
    test = catalogue.get_abtest(db, "planned")
    assert (test.inference, test.planned_samples, test.sequential_n_star) == ("fixed", 100000, None)
    assert test.planned_end.isoformat() == "2031-03-01T12:30:00+00:00"
    assert plans.metric_plans(db, test.id) == [
        plans.MetricPlan(metrics[0].id, "latency", 0.015, True)
    ]
    # The edit form shows the plan back: UTC time, MDE in percent, the guardrail ticked.
    page = text(client.get(edit("planned")))
    assert 'name="plannedEnd" aria-describedby' in page
    assert 'value="2031-03-01T12:30"' in page
    assert 'name="mde-latency" value="1.5"' in page
    assert 'id="abtest-edit-guardrail-latency" name="guardrail-latency" checked' in page
    assert '<option value="fixed" selected>' in page


def test_editing_the_plan_clears_what_is_emptied(client, db, metrics):
    client.post(NEW, data={"name": "planned", "mde-latency": "2", "mde-cpu": ""}, headers=HX)
    form = {
        "title": "",
        "variants": "control\ntreatment",
        "inference": "sequential",
        "plannedEnd": "",
        "plannedSamples": "",
        "sequentialNStar": "5000",
        "mde-latency": "",
        "mde-cpu": "0.5",
        "guardrail-cpu": "on",
    }
    assert client.post(edit("planned"), data=form, headers=HX).status_code == 200
    test = catalogue.get_abtest(db, "planned")
    assert (test.planned_end, test.sequential_n_star) == (None, 5000)
    assert plans.metric_plans(db, test.id) == [plans.MetricPlan(metrics[1].id, "cpu", 0.005, True)]


@pytest.mark.parametrize(
    ("field", "value", "name", "message"),
    [
        ("inference", "bayes", "inference", "Must be one of: sequential, fixed."),
        ("plannedEnd", "soon", "plannedEnd", "Not a valid datetime."),
        ("plannedSamples", "many", "plannedSamples", "Not a valid integer."),
        ("sequentialNStar", "0", "sequentialNStar", "Must be a whole number &gt;= 1."),
        ("mde-latency", "abc", "metricPlans", "latency: mdeRelative: Not a valid number."),
        ("mde-latency", "0", "metricPlans", "latency: mdeRelative: Must be &gt; 0 and &lt;= 10."),
    ],
)
def test_a_bad_plan_field_is_said_beside_it(client, db, metrics, field, value, name, message):
    form = {"name": "planned", field: value}
    response = client.post(NEW, data=form, headers=HX | {"X-Validate-Only": "true"})
    assert response.status_code == 200
    assert field_error(text(response), "abtest-new", name) == message
    assert catalogue.get_abtest(db, "planned") is None


def test_the_catalogue_form_sets_the_analysis_unit(client, db):
    form = {"name": "cpu", "unit": "%", "kind": "mean", "analysisUnit": "time"}
    assert client.post(METRICS, data=form, headers=HX).status_code == 201
    assert catalogue.get_metric(db, "cpu").analysis_unit == "time"
    page = text(client.get(METRICS + "cpu"))
    assert '<option value="time" selected>' in page
    bad = client.post(METRICS + "cpu", data={"analysisUnit": "hour"}, headers=HX)
    assert bad.status_code == 422
    assert field_error(bad.get_data(as_text=True), "metric-edit", "analysisUnit") == (
        "Must be one of: sample, time."
    )
