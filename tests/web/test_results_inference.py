"""The results panel says which inference made its numbers, each metric's unit, and the plan."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.web.test_dashboard import HTML, HX, tags, text
from tests.web.test_results import _LIFT_DATA, LIFT, PANEL, cells, results, twin  # noqa: F401
from tsmetrics.store import catalogue, plans

ALWAYS = "Always valid: you may look at any time."


PLANNED_END = (datetime.now(UTC) + timedelta(days=10)).replace(second=0, microsecond=0)


@pytest.fixture
def planned(db, request):
    """feature_a, running 5 hours of a 10-day plan, cpu analysed by time, 1% MDE on latency."""
    test = request.getfixturevalue("results")
    db.execute("UPDATE metrics SET analysis_unit = 'time' WHERE name = 'cpu'")
    db.execute(
        "UPDATE abtests SET status = 'running', started_at = now() - interval '5 hours',"
        " planned_end = %s",
        (PLANNED_END,),
    )
    latency = catalogue.get_metric(db, "response_time")
    plans.set_metric_plans(db, test.id, {latency.id: (0.01, True)})
    return test


def _statement(html: str) -> dict[str, str]:
    (attrs,) = [a for tag, a in tags(html) if "inference-statement" in (a.get("class") or "")]
    return attrs


def test_the_panel_states_the_sequential_inference_in_words(client, planned):
    fragment = text(client.get(PANEL + "?range=6h", headers=HX))
    statement = _statement(fragment)
    assert (statement["data-inference"], statement["data-validity"]) == ("sequential", ALWAYS)
    assert f"<strong>{ALWAYS}</strong>" in fragment
    assert ">95% confidence sequence</th>" in fragment
    assert '<option value="sequential" selected>Sequential: always valid (this test\'s)' in fragment
    link = twin(fragment, "/abtest/feature_a/compare?")
    assert "inference" not in link  # the test's own, as the panel used
    assert client.get(link).get_json()["inference"] == "sequential"


def test_fixed_horizon_names_its_planned_end(client, planned):
    fragment = text(client.get(PANEL + "?range=6h&inference=fixed", headers=HX))
    validity = (
        f"Fixed horizon: valid at the planned end on {PLANNED_END:%Y-%m-%d %H:%M} UTC,"
        " preliminary before."
    )
    assert _statement(fragment)["data-validity"] == validity
    assert f"<strong>{validity}</strong>" in fragment
    assert ">95% CI of the lift</th>" in fragment
    link = twin(fragment, "/abtest/feature_a/compare?")
    assert "inference=fixed" in link
    body = client.get(link).get_json()
    # The badges follow the inference asked for: the same verdicts as its JSON twin.
    shown = {
        metric: row["treatment"]["verdict"]["value"] for metric, row in cells(fragment).items()
    }
    assert shown == {m["metric"]: m["comparisons"][0]["verdict"] for m in body["metrics"]}
    # The lift charts load with the same inference.
    pending = [a["hx-get"] for tag, a in tags(fragment) if "lift-pending" in (a.get("class") or "")]
    assert pending and all("inference=fixed" in url for url in pending)


def test_the_tests_own_inference_is_the_panels_default(client, planned):
    client.patch("/abtest/feature_a", json={"inference": "fixed"})
    fragment = text(client.get(PANEL + "?range=6h", headers=HX))
    assert _statement(fragment)["data-inference"] == "fixed"
    assert '<option value="fixed" selected>Fixed horizon (this test\'s)' in fragment


def test_each_metric_says_its_analysis_unit(client, planned):
    fragment = text(client.get(PANEL + "?range=6h", headers=HX))
    units = dict(
        re.findall(
            r'<article class="comparison-metric" id="comparison-(\w+)".*?'
            r'data-analysis-unit="\w+">Analysis unit: ([^<]+)\.</p>',
            fragment,
            re.S,
        )
    )
    assert units == {
        "clicks": "sample: independent samples",
        "cpu": "time: paired 5-minute means of the variants",
        "response_time": "sample: independent samples",
    }


def test_planning_numbers_are_the_plan_resource(client, planned):
    fragment = text(client.get(PANEL + "?range=6h", headers=HX))
    link = twin(fragment, "/abtest/feature_a/plan?")
    body = client.get(link).get_json()
    shown = dict(
        re.findall(
            r'<article class="comparison-metric" id="comparison-(\w+)".*?'
            r'data-plan-field="detectableNow" data-value="([^"]+)"',
            fragment,
            re.S,
        )
    )
    for metric in body["metrics"]:
        (treatment,) = metric["treatments"]
        assert float(shown[metric["metric"]]) == treatment["detectableNow"]["absolute"]
    # response_time plans 1%: the panel says when, as the resource does.
    (latency,) = [m for m in body["metrics"] if m["metric"] == "response_time"]
    when = latency["treatments"][0]["mde"]["when"]
    words = {"now": "detectable now", "later": "detectable by", "not at the current rate": "not"}
    words_only = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", fragment))
    assert f"the planned 1% is {words[when]}" in words_only
    assert "no minimum detectable effect is planned" in fragment  # clicks and cpu


def test_the_lift_chart_draws_the_band_of_the_inference_in_use(client, planned):
    for inference, words in (("sequential", "95% confidence sequence"), ("fixed", "fixed-horizon")):
        fragment = text(client.get(f"{LIFT}?range=6h&inference={inference}", headers=HX))
        (payload,) = [json.loads(found) for found in _LIFT_DATA.findall(fragment)]
        assert payload["inference"] == inference
        (treatment,) = payload["metrics"][0]["treatments"]
        assert treatment["inference"]["method"] == inference
        assert f'data-band="{inference}"' in fragment and words in fragment
        link = twin(fragment, "/abtest/feature_a/compare/over-time?")
        assert client.get(link).get_json() == payload
    # The sequence is wider than the fixed interval at every look: the price of looking.
    widths = {}
    for inference in ("sequential", "fixed"):
        start = (datetime.now(UTC) - timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
        query = f"metric=response_time&start={start}&granularity=30m&inference={inference}"
        payload = client.get(f"/abtest/feature_a/compare/over-time?{query}").get_json()
        points = payload["metrics"][0]["treatments"][0]["points"]
        widths[inference] = [p["liftCi"][1] - p["liftCi"][0] for p in points if p["liftCi"]]
    assert all(s > f for s, f in zip(widths["sequential"], widths["fixed"], strict=True))


@pytest.mark.parametrize("url", [PANEL + "?inference=bayes", LIFT + "?inference=Fixed"])
def test_a_bad_inference_is_a_400_page(client, planned, url):
    response = client.get(url, headers=HTML)
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert "inference: one of sequential, fixed." in response.get_data(as_text=True)
