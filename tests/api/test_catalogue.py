"""The metric catalogue resource: list, create, read, change and archive metrics; their names."""

from __future__ import annotations

import pytest

PROBLEM = "application/problem+json"


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json(force=True)
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def test_list_and_read_the_catalogue(client, feature_a):
    assert client.get("/metrics/capabilities").get_json() == ["response_time"]
    metric = client.get("/metrics/catalogue/response_time").get_json()
    assert metric == {
        "name": "response_time",
        "unit": "ms",
        "description": "",
        "kind": "mean",
        "higherIsBetter": False,
        "analysisUnit": "sample",
        "distribution": False,
    }
    assert client.get("/metrics/catalogue").get_json() == [metric]


def test_unknown_metric_is_a_404_naming_it(client, feature_a):
    body = _problem(client.get("/metrics/catalogue/nope"), 404)
    message = "Metric 'nope' does not exist."
    assert (body["detail"], body["errors"]) == (message, {"name": [message]})


def test_create_and_change_a_metric(client, db):
    response = client.post(
        "/metrics/catalogue",
        json={
            "name": "checkout_time",
            "unit": "s",
            "description": "Time to pay.",
            "kind": "mean",
            "higherIsBetter": False,
            "displayDecimals": 1,
        },
    )
    assert response.status_code == 201
    assert response.headers["Location"].endswith("/metrics/catalogue/checkout_time")
    assert response.get_json() == {
        "name": "checkout_time",
        "unit": "s",
        "description": "Time to pay.",
        "kind": "mean",
        "higherIsBetter": False,
        "displayDecimals": 1,
        "analysisUnit": "sample",
        "distribution": False,
        "archived": False,
        "archivedAt": None,
    }
    changed = client.patch(
        "/metrics/catalogue/checkout_time",
        json={"unit": "ms", "displayDecimals": 0, "analysisUnit": "time", "distribution": True},
    ).get_json()
    assert (changed["unit"], changed["displayDecimals"], changed["kind"]) == ("ms", 0, "mean")
    assert (changed["analysisUnit"], changed["distribution"]) == ("time", True)
    # The GET contract gained two fields: the analysis unit and the distribution.
    assert client.get("/metrics/catalogue/checkout_time").get_json() == {
        "name": "checkout_time",
        "unit": "ms",
        "description": "Time to pay.",
        "kind": "mean",
        "higherIsBetter": False,
        "analysisUnit": "time",
        "distribution": True,
    }


def test_metric_defaults_and_duplicates(client, db):
    body = client.post("/metrics/catalogue", json={"name": "clicks"}).get_json()
    assert (body["unit"], body["kind"], body["higherIsBetter"], body["displayDecimals"]) == (
        "",
        "mean",
        False,
        2,
    )
    conflict = _problem(client.post("/metrics/catalogue", json={"name": "clicks"}), 409)
    assert "name" in conflict["errors"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "name"),
        ({"name": "a b"}, "name"),
        ({"name": "m", "kind": "median"}, "kind"),
        ({"name": "m", "unit": "u" * 21}, "unit"),
        ({"name": "m", "displayDecimals": 7}, "displayDecimals"),
        ({"name": "m", "displayDecimals": -1}, "displayDecimals"),
        ({"name": "m", "higherIsBetter": "sometimes"}, "higherIsBetter"),
        ({"name": "m", "archived": True}, "archived"),
        ({"name": "m", "analysisUnit": "minute"}, "analysisUnit"),
        ({"name": "m", "analysisUnit": None}, "analysisUnit"),
    ],
)
def test_metric_validation_is_a_400_naming_the_field(client, db, payload, field):
    body = _problem(client.post("/metrics/catalogue", json=payload), 400)
    assert field in body["errors"], body


def test_archiving_a_metric_hides_it_and_restoring_shows_it(client, db):
    for name in ("cpu", "ram"):
        client.post("/metrics/catalogue", json={"name": name})
    archived = client.patch("/metrics/catalogue/cpu", json={"archived": True}).get_json()
    assert archived["archived"] is True and archived["archivedAt"]
    assert client.get("/metrics/capabilities").get_json() == ["ram"]
    assert [m["name"] for m in client.get("/metrics/catalogue").get_json()] == ["ram"]
    everything = client.get("/metrics/catalogue?includeArchived=true").get_json()
    assert [m["name"] for m in everything] == ["cpu", "ram"]
    assert client.get("/metrics/capabilities?includeArchived=true").get_json() == ["cpu", "ram"]
    assert client.get("/metrics/catalogue/cpu").status_code == 200
    restored = client.patch("/metrics/catalogue/cpu", json={"archived": False}).get_json()
    assert (restored["archived"], restored["archivedAt"]) == (False, None)
    assert client.get("/metrics/capabilities").get_json() == ["cpu", "ram"]


def test_patch_unknown_metric_is_404_and_bad_fields_400(client, db):
    _problem(client.patch("/metrics/catalogue/nope", json={"unit": "s"}), 404)
    client.post("/metrics/catalogue", json={"name": "m"})
    body = _problem(client.patch("/metrics/catalogue/m", json={"name": "other"}), 400)
    assert "name" in body["errors"]


def test_openapi_documents_the_catalogue_operations(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    assert {"get", "post"} <= set(paths["/metrics/catalogue"])
    assert {"get", "patch"} <= set(paths["/metrics/catalogue/{name}"])
    assert "get" in paths["/metrics/capabilities"]
    for path in ("/metrics/catalogue", "/metrics/catalogue/{name}", "/metrics/capabilities"):
        for method, operation in paths[path].items():
            if method != "parameters":
                assert operation["tags"] == ["catalogue"], path
