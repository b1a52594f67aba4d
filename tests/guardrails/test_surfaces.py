"""Raised guardrails on the overview, the A/B test page and their JSON twins."""

from __future__ import annotations

import re

import pytest

from tests.guardrails.conftest import add, guard, make_guarded, watch_settings, worse_data
from tsmetrics.guardrails.watch import Watcher
from tsmetrics.store import guardrails as store

HTML = {"Accept": "text/html"}


@pytest.fixture
def raised(db, database_url):
    """checkout's response_time raised for treatment by one round of a watcher."""
    g = make_guarded(db)
    control, treatment = worse_data()
    add(db, g, 0, control)
    add(db, g, 1, treatment)
    make_guarded(db, "quiet", "latency")  # a guarded test without data: no alert
    assert Watcher(watch_settings(db.info.dsn, None)).run(once=True) == 0
    (state,) = store.list_states(db, g.test.id)
    assert state.state == "raised"
    return g, state


def test_abtest_json_lists_its_raised_guardrails(client, raised):
    _g, state = raised
    body = client.get("/abtest/checkout").get_json()
    assert body["guardrailAlerts"] == [
        {
            "metric": "response_time",
            "metricUnit": "ms",
            "variant": "treatment",
            "control": "control",
            "lift": state.lift,
            "liftCi": [state.lift_low, state.lift_high],
            "relativeLift": state.relative_lift,
            "relativeLiftCi": [state.relative_low, state.relative_high],
            "pValue": state.p_value,
            "adjustedPValue": state.adjusted_p,
            "inference": {
                "method": "sequential",
                "unit": "sample",
                "unitSeconds": None,
                "alpha": 0.05,
                "correction": "holm",
                "familySize": 1,
                "nStar": state.n_star,
                "tuningSource": "default",
            },
            "raisedAt": state.changed_at.isoformat(),
            "evaluatedAt": state.evaluated_at.isoformat(),
        }
    ]
    assert client.get("/abtest/quiet").get_json()["guardrailAlerts"] == []


def test_overview_json_and_page_show_the_alert_on_the_row(client, raised):
    tests = {t["name"]: t for t in client.get("/overview").get_json()["abTests"]}
    assert [a["metric"] for a in tests["checkout"]["guardrailAlerts"]] == ["response_time"]
    assert tests["quiet"]["guardrailAlerts"] == []
    page = client.get("/dashboard/", headers=HTML).text
    cells = re.findall(r"<td[^>]* data-guardrails>(.*?)</td>", page, re.S)
    assert len(cells) == 2
    assert "1 raised</a>" in cells[0] and "response_time (treatment)" in cells[0]
    assert 'href="/dashboard/abtests/checkout"' in cells[0]
    assert "none raised" in cells[1]


def test_abtest_page_banner_names_metric_variant_lift_and_interval(client, raised):
    _g, state = raised
    page = client.get("/dashboard/abtests/checkout", headers=HTML).text
    banner = re.search(r'<div id="guardrail-banner".*?\n</div>', page, re.S)[0]
    assert 'role="alert"' in banner and "Guardrail alert" in banner
    assert 'data-guardrail-alert="response_time/treatment"' in banner
    assert f"lift {state.lift:+,.2f} ms" in banner
    assert f"[{state.lift_low:+,.2f}, {state.lift_high:+,.2f}] ms" in banner
    assert f"({state.relative_lift * 100:+,.2f}%)" in banner
    # The fragment the page refreshes is the same banner.
    fragment = client.get("/dashboard/abtests/checkout/guardrails", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and fragment.text.strip() == banner.strip()
    quiet = client.get("/dashboard/abtests/quiet", headers=HTML).text
    assert 'id="guardrail-banner"' in quiet and "data-guardrail-alerts" not in quiet


def test_a_metric_no_longer_guarded_shows_no_alert(db, client, raised):
    g, _state = raised
    guard(db, g.test.id, g.metric.id, on=False)
    assert client.get("/abtest/checkout").get_json()["guardrailAlerts"] == []
    assert "data-guardrail-alerts" not in client.get("/dashboard/abtests/checkout").text


def test_banner_of_an_unknown_test_is_a_404(client, raised):
    assert client.get("/dashboard/abtests/nope/guardrails", headers=HTML).status_code == 404


def test_banner_keeps_its_content_while_the_database_is_down(app_without_database):
    client = app_without_database.test_client()
    response = client.get("/dashboard/abtests/checkout/guardrails", headers={"HX-Request": "true"})
    assert response.status_code == 204 and response.data == b""  # htmx swaps nothing
