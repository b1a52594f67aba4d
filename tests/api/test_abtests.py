"""The A/B tests resource: list, create, read, change (lifecycle, archiving), and the overview."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.helpers import at, store
from tsmetrics import granularity as gran
from tsmetrics.store import catalogue

PROBLEM = "application/problem+json"


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json(force=True)
    assert body["status"] == status and body["title"] and body["detail"]
    return body


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


def test_list_and_read_an_abtest(client, known):
    assert client.get("/abtest").get_json() == ["feature_a"]
    detail = client.get("/abtest/feature_a").get_json()
    assert detail["variants"] == ["control", "treatment"]
    assert detail["control"] == "control"
    assert detail["status"] == "running"
    assert detail["metrics"] == ["response_time"]
    assert detail["latestSampleAt"].startswith("2025-11-09T12:06:30")


def test_unknown_abtest_is_a_404_naming_it(client, known):
    response = client.get("/abtest/nope", headers={"Accept": "text/html"})
    body = _problem(response, 404)
    message = "A/B test 'nope' does not exist."
    assert body == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": message,
        "errors": {"name": [message]},
    }


def _created(client, **fields) -> dict:
    response = client.post("/abtest", json={"name": "checkout", **fields})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def test_create_an_abtest(client, db):
    response = client.post(
        "/abtest",
        json={
            "name": "checkout",
            "title": "One-page checkout",
            "description": "Treatment merges the steps.",
            "hypothesis": "Fewer steps raise add-to-cart clicks.",
            "variants": ["control", "one_page", "two_page"],
            "expectedSplit": [2, 1, 1],
        },
    )
    assert response.status_code == 201
    assert response.headers["Location"].endswith("/abtest/checkout")
    body = response.get_json()
    created_at = body.pop("createdAt")
    assert datetime.fromisoformat(created_at) <= datetime.now(UTC)
    assert body == {
        "name": "checkout",
        "title": "One-page checkout",
        "description": "Treatment merges the steps.",
        "hypothesis": "Fewer steps raise add-to-cart clicks.",
        "status": "draft",
        "variants": ["control", "one_page", "two_page"],
        "control": "control",
        "expectedSplit": [0.5, 0.25, 0.25],
        "startedAt": None,
        "endedAt": None,
        "archivedAt": None,
        "inference": "sequential",
        "plannedEnd": None,
        "plannedSamples": None,
        "sequentialNStar": None,
        "metricPlans": {},
    }
    # It appears in the list and the detail at once.
    assert client.get("/abtest").get_json() == ["checkout"]
    assert client.get("/abtest/checkout").get_json()["title"] == "One-page checkout"


def test_create_with_defaults_and_running(client, db):
    body = _created(client, status="running")
    assert body["variants"] == ["control", "treatment"]
    assert body["expectedSplit"] == [0.5, 0.5]
    assert (body["status"], body["title"], body["hypothesis"]) == ("running", "", "")
    assert body["startedAt"] is not None


def test_duplicate_abtest_is_409(client, db):
    _created(client)
    body = _problem(client.post("/abtest", json={"name": "checkout"}), 409)
    assert "name" in body["errors"] and "'checkout'" in body["detail"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "name"),
        ({"name": "Bad Name"}, "name"),
        ({"name": "x", "variants": ["only"]}, "variants"),
        ({"name": "x", "variants": ["a", "a"]}, "variants"),
        ({"name": "x", "variants": ["a", "B!"]}, "variants"),
        ({"name": "x", "variants": [f"v{i}" for i in range(21)]}, "variants"),
        ({"name": "x", "expectedSplit": [1, 2, 3]}, "expectedSplit"),
        ({"name": "x", "variants": ["a", "b"], "expectedSplit": [1]}, "expectedSplit"),
        ({"name": "x", "expectedSplit": [1, 0]}, "expectedSplit"),
        ({"name": "x", "expectedSplit": [1, -1]}, "expectedSplit"),
        ({"name": "x", "expectedSplit": [1, "lots"]}, "expectedSplit"),
        ({"name": "x", "status": "completed"}, "status"),
        ({"name": "x", "title": "t" * 201}, "title"),
        ({"name": "x", "colour": "blue"}, "colour"),
    ],
)
def test_abtest_validation_is_a_400_naming_the_field(client, db, payload, field):
    body = _problem(client.post("/abtest", json=payload), 400)
    assert field in body["errors"], body
    assert all(isinstance(m, str) and m for m in body["errors"][field])
    assert client.get("/abtest?includeArchived=true").get_json() == []


def test_patch_changes_only_the_fields_given(client, db):
    _created(client, title="Old", hypothesis="H0")
    response = client.patch("/abtest/checkout", json={"title": "New", "expectedSplit": [1, 3]})
    assert response.status_code == 200
    body = response.get_json()
    assert (body["title"], body["hypothesis"], body["expectedSplit"]) == ("New", "H0", [0.25, 0.75])
    body = client.patch("/abtest/checkout", json={"expectedSplit": None}).get_json()
    assert body["expectedSplit"] == [0.5, 0.5]
    # Nothing to change is a 400 (issue 14), not a silent 200.
    assert client.patch("/abtest/checkout", json={}).status_code == 400
    assert client.get("/abtest/checkout").get_json()["title"] == "New"


def test_lifecycle_records_the_times(client, db):
    _created(client)
    running = client.patch("/abtest/checkout", json={"status": "running"}).get_json()
    assert running["status"] == "running" and running["startedAt"]
    paused = client.patch("/abtest/checkout", json={"status": "paused"}).get_json()
    resumed = client.patch("/abtest/checkout", json={"status": "running"}).get_json()
    assert paused["startedAt"] == resumed["startedAt"] == running["startedAt"]
    assert resumed["endedAt"] is None
    completed = client.patch("/abtest/checkout", json={"status": "completed"}).get_json()
    assert completed["endedAt"] >= completed["startedAt"]
    archived = client.patch("/abtest/checkout", json={"status": "archived"}).get_json()
    assert archived["status"] == "archived" and archived["archivedAt"]
    # Archiving again is a no-op; anything else on an archived test is refused.
    assert client.patch("/abtest/checkout", json={"status": "archived"}).status_code == 200
    _problem(client.patch("/abtest/checkout", json={"title": "x"}), 409)


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        ([], "completed"),
        ([], "paused"),
        (["running"], "draft"),
        (["running"], "archived"),
        (["running", "completed"], "running"),
        (["running", "paused"], "draft"),
        (["running", "completed", "archived"], "running"),
    ],
)
def test_illegal_transitions_are_409(client, db, path, illegal):
    _created(client)
    for status in path:
        assert client.patch("/abtest/checkout", json={"status": status}).status_code == 200
    body = _problem(client.patch("/abtest/checkout", json={"status": illegal}), 409)
    assert "status" in body["errors"]
    assert f"cannot become {illegal}" in body["detail"] or "archived" in body["detail"]
    status_now = path[-1] if path else "draft"
    assert client.get("/abtest/checkout").get_json()["status"] == status_now


def test_a_draft_can_be_archived_unstarted(client, db):
    _created(client)
    body = client.patch("/abtest/checkout", json={"status": "archived"}).get_json()
    assert (body["status"], body["startedAt"]) == ("archived", None)


def test_variants_are_fixed_once_samples_exist(client, db):
    _created(client)
    changed = client.patch("/abtest/checkout", json={"variants": ["control", "b", "c"]})
    assert changed.get_json()["variants"] == ["control", "b", "c"]
    _problem(client.patch("/abtest/checkout", json={"variants": ["a"]}), 400)
    _problem(client.patch("/abtest/checkout", json={"expectedSplit": [1, 1]}), 400)
    stored = catalogue.get_abtest(db, "checkout")
    metric = catalogue.ensure_metric(db, "m", unit="")
    store(db, [(at("2025-11-01 00:00:00"), 1.0, stored.id, metric.id, 2)])
    body = _problem(client.patch("/abtest/checkout", json={"variants": ["control", "c", "b"]}), 409)
    assert "variants" in body["errors"]
    # The same variants again are not a change.
    same = client.patch("/abtest/checkout", json={"variants": ["control", "b", "c"]})
    assert same.status_code == 200


def test_archived_tests_are_hidden_by_default_and_keep_their_data(client, db):
    for name in ("a_test", "b_test"):
        client.post("/abtest", json={"name": name})
    client.patch("/abtest/a_test", json={"status": "archived"})
    stored = catalogue.get_abtest(db, "a_test")
    metric = catalogue.ensure_metric(db, "m", unit="")
    store(db, [(at("2025-11-01 00:00:00"), 1.0, stored.id, metric.id, 0)])
    assert client.get("/abtest").get_json() == ["b_test"]
    assert client.get("/abtest?includeArchived=true").get_json() == ["a_test", "b_test"]
    assert client.get("/abtest?includeArchived=false").get_json() == ["b_test"]
    detail = client.get("/abtest/a_test").get_json()
    assert (detail["status"], detail["metrics"]) == ("archived", ["m"])
    series = client.get(
        "/metrics?abTestName=a_test&metricName=m&start=2025-11-01T00:00:00Z"
        "&end=2025-11-01T00:05:00Z"
    ).get_json()
    assert series["count"] == 1
    _problem(client.get("/abtest?includeArchived=maybe"), 400)


def test_patch_unknown_abtest_is_404(client, db):
    body = _problem(client.patch("/abtest/nope", json={"title": "x"}), 404)
    assert "'nope'" in body["detail"]


def test_bad_json_bodies_are_400(client, db):
    _problem(client.post("/abtest", data="{", content_type="application/json"), 400)
    _problem(client.post("/abtest", json=["checkout"]), 400)
    _problem(client.patch("/abtest/x", json={"status": "finished"}), 400)


@pytest.fixture
def activity(db, feature_a) -> datetime:
    """feature_a with samples an hour and 30 hours ago, a draft without any, an archived test."""
    test, metric = feature_a
    now = datetime.now(UTC).replace(microsecond=0)
    recent, old = now - timedelta(hours=1), now - timedelta(hours=30)
    store(
        db,
        [
            (recent, 1.0, test.id, metric.id, 0),
            (recent, 2.0, test.id, metric.id, 1),
            (old, 3.0, test.id, metric.id, 0),
        ],
    )
    catalogue.ensure_abtest(db, "checkout", variants=["a", "b", "c"], title="New checkout")
    catalogue.ensure_abtest(db, "old_test", variants=["a", "b"], status="archived")
    return recent


def _overview(client, query: str = "") -> dict:
    """GET /overview, checking that `since` is the start of the last 24 whole hours."""
    before = gran.floor_to(datetime.now(UTC) - timedelta(hours=24), 3600)
    response = client.get("/overview" + query)
    after = gran.floor_to(datetime.now(UTC) - timedelta(hours=24), 3600)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["since"] in (before.isoformat(), after.isoformat())
    return body


def test_overview_exact_json(client, activity):
    body = _overview(client)
    assert body == {
        "since": body["since"],
        "abTests": [
            {
                "name": "checkout",
                "title": "New checkout",
                "status": "draft",
                "variants": ["a", "b", "c"],
                "metrics": [],
                "recentSamples": 0,
                "latestSampleAt": None,
                "guardrailAlerts": [],
            },
            {
                "name": "feature_a",
                "title": "Feature A",
                "status": "running",
                "variants": ["control", "treatment"],
                "metrics": ["response_time"],
                "recentSamples": 2,
                "latestSampleAt": activity.isoformat(),
                "guardrailAlerts": [],
            },
        ],
    }


def test_overview_filters_as_the_page_does(client, activity):
    def names(query: str) -> list[str]:
        return [test["name"] for test in _overview(client, query)["abTests"]]

    assert names("?status=draft") == ["checkout"]
    assert names("?status=archived") == ["old_test"]
    assert names("?q=FEAT") == ["feature_a"]
    assert names("?q=checkout") == ["checkout"]  # title, any case
    assert names("?q=%20new%20") == ["checkout"]  # stripped, as the page strips it
    assert names("?q=%25") == []  # LIKE wildcards are literal
    assert names("?status=running&q=checkout") == []


@pytest.mark.parametrize(
    ("query", "field"),
    [("?status=sleeping", "status"), ("?q=" + "x" * 101, "q"), ("?colour=blue", "colour")],
)
def test_overview_bad_filters_are_a_400_naming_the_field(client, activity, query, field):
    body = _problem(client.get("/overview" + query), 400)
    assert field in body["errors"], body


def test_openapi_documents_the_abtest_operations(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    assert {"get", "post"} <= set(paths["/abtest"])
    assert {"get", "patch"} <= set(paths["/abtest/{name}"])
    assert "get" in paths["/abtest/{name}/compare"]
    assert "get" in paths["/abtest/{name}/compare/over-time"]
    params = {p["name"] for p in paths["/abtest/{name}/compare"]["get"]["parameters"]}
    assert {"metric", "start", "end", "correction"} <= params
    overview = paths["/overview"]["get"]
    assert overview["summary"] and overview["tags"] == ["abtests"]
    assert {p["name"] for p in overview["parameters"]} == {"status", "q", "format"}
    content = overview["responses"]["200"]["content"]["application/json"]
    assert content["schema"] == {"$ref": "#/components/schemas/Overview"}
    assert content["example"]["abTests"][0]["recentSamples"] > 0
