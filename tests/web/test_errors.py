"""One negotiation point for every error: pages for browsers, problem+json for API clients."""

from __future__ import annotations

import pytest

from tsmetrics import errors, problems

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
JSON = {"Accept": "application/json"}
PROBLEM = "application/problem+json"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/dashboard/abtests/nope", "A/B test &#39;nope&#39; does not exist."),
        ("/dashboard/abtests/feature_a/charts/nope", "Metric &#39;nope&#39; does not exist."),
        ("/dashboard/abtests/nope/comparison", "A/B test &#39;nope&#39; does not exist."),
        ("/dashboard/abtests/feature_a/lift/nope", "Metric &#39;nope&#39; does not exist."),
        ("/dashboard/manage/abtests/nope", "A/B test &#39;nope&#39; does not exist."),
        ("/dashboard/manage/metrics/nope", "Metric &#39;nope&#39; does not exist."),
    ],
)
def test_an_unknown_name_is_a_404_page_for_a_browser(client, feature_a, url, message):
    response = client.get(url, headers=HTML)
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert page.startswith("<!doctype html>") and "<h1>Not found</h1>" in page
    assert message in page
    assert "Accept" in response.headers["Vary"]


def test_the_same_page_path_answers_an_api_client_with_a_problem(client, feature_a):
    response = client.get("/dashboard/abtests/nope", headers=JSON)
    assert (response.status_code, response.mimetype) == (404, PROBLEM)
    message = "A/B test 'nope' does not exist."
    assert response.get_json(force=True) == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": message,
        "errors": {"name": [message]},
    }


@pytest.mark.parametrize("url", ["/abtest/nope", "/metrics/catalogue/nope", "/nowhere"])
def test_api_errors_stay_problems_even_for_a_browser(client, feature_a, url):
    response = client.get(url, headers=HTML)
    assert (response.status_code, response.mimetype) == (404, PROBLEM)
    assert response.get_json(force=True)["status"] == 404


@pytest.mark.parametrize(
    ("refusal", "status", "heading"),
    [
        (errors.UnknownName("name", "No such thing."), 404, "Not found"),
        (errors.Conflict("status", "It moved on."), 409, "That change cannot be made now"),
        (errors.Invalid("expectedSplit", "One weight per variant."), 400, "cannot be shown"),
    ],
)
def test_every_refusal_is_negotiated_at_one_point(app, refusal, status, heading):
    with app.test_request_context("/dashboard/manage/abtests/x", headers=HTML):
        page = problems.handle_refused(refusal)
    assert (page.status_code, page.mimetype) == (status, "text/html")
    assert heading in page.get_data(as_text=True)
    assert refusal.message in page.get_data(as_text=True)
    with app.test_request_context("/abtest/x", headers=HTML):
        problem = problems.handle_refused(refusal)
    assert (problem.status_code, problem.mimetype) == (status, PROBLEM)
    body = problem.get_json(force=True)
    assert (body["detail"], body["errors"]) == (refusal.message, {refusal.field: [refusal.message]})
