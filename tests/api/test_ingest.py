"""POST /ingest: stored with rollups, duplicates by Idempotency-Key, validation, limits."""

from __future__ import annotations

import http.client
import json
import time
from pathlib import Path

import orjson
import pytest

from tsmetrics import create_app
from tsmetrics.api.ingest import CATALOGUE_KEY
from tsmetrics.store import catalogue

ROOT = Path(__file__).resolve().parents[2]
PROBLEM = "application/problem+json"
NOW = int(time.time()) // 60 * 60 - 120  # a whole minute, two minutes ago


def _batch(samples=None, **changes):
    doc = {
        "abTest": "feature_a",
        "variant": "treatment",
        "samples": samples
        if samples is not None
        else [
            {"metric": "response_time", "value": 100.0, "time": NOW + 1},
            {"metric": "response_time", "value": 50.5, "time": NOW + 2},
        ],
    }
    doc.update(changes)
    return doc


def _post(client, body, key=None, **headers):
    if key is not None:
        headers["Idempotency-Key"] = key
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return client.post("/ingest", data=data, headers=headers, content_type="application/json")


def _problem(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json(force=True)
    assert body["status"] == status and body["detail"]
    return body


def _iso(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _count(db) -> int:
    return db.execute("SELECT count(*) FROM samples").fetchone()[0]


def test_stores_a_batch_and_its_rollups(client, db, feature_a):
    response = _post(client, _batch(), key="batch-1")
    assert response.status_code == 201
    assert response.get_json() == {"stored": 2, "duplicate": False, "batchId": "batch-1"}
    metrics = client.get(
        "/metrics?abTestName=feature_a&metricName=response_time&granularity=1m"
        f"&start={_iso(NOW)}&end={_iso(NOW + 60)}"
    ).get_json()
    assert metrics["datapoints"] == [{"t": NOW, "a": 75.25, "l": 50.5, "h": 100.0}]
    assert db.execute("SELECT variant, count(*) FROM samples GROUP BY 1").fetchall() == [(1, 2)]


def test_duplicate_key_stores_nothing(client, db, feature_a):
    assert _post(client, _batch(), key="k").status_code == 201
    again = _post(client, _batch(), key="k")
    assert again.status_code == 200
    assert again.get_json() == {"stored": 0, "duplicate": True, "batchId": "k"}
    assert _count(db) == 2
    assert _post(client, _batch(), key="other").status_code == 201
    assert _count(db) == 4


def test_without_a_key_every_request_is_stored(client, db, feature_a):
    first = _post(client, _batch())
    assert first.get_json() == {"stored": 2, "duplicate": False, "batchId": None}
    assert _post(client, _batch()).status_code == 201
    assert _count(db) == 4


def test_one_bad_sample_refuses_the_whole_batch(client, db, feature_a):
    samples = [
        {"metric": "response_time", "value": 1.0, "time": NOW},
        {"metric": "response_time", "value": "fast", "time": NOW},
        {"metric": "response_time", "value": 2.0, "time": "noon"},
        {"metric": "response_time", "value": 3.0},
    ]
    body = _problem(_post(client, _batch(samples), key="bad"), 400)
    assert body["errors"] == {
        "samples[1].value": ["Must be a number."],
        "samples[2].time": [
            "Not a valid date-time with an offset; use RFC 3339 such as "
            "2025-11-09T12:00:00Z, or epoch seconds."
        ],
        "samples[3].time": ["Missing data for required field."],
    }
    assert "nothing was stored" in body["detail"]
    assert _count(db) == 0
    # A refused batch does not use up its key.
    assert _post(client, _batch(), key="bad").status_code == 201


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        (_batch(abTest="nope"), "abTest"),
        (_batch(variant="green"), "variant"),
        (_batch([{"metric": "latency", "value": 1, "time": NOW}]), "samples[0].metric"),
    ],
)
def test_unknown_names_are_400_naming_the_path(client, db, feature_a, doc, field):
    body = _problem(_post(client, doc), 400)
    assert list(body["errors"]) == [field]
    assert "unknown-name" in body["detail"]


def test_a_name_created_after_the_first_request_is_found(client, db, feature_a):
    assert _post(client, _batch()).status_code == 201
    catalogue.ensure_metric(db, "latency", unit="ms")
    doc = _batch([{"metric": "latency", "value": 1, "time": NOW}])
    assert _post(client, doc).status_code == 201


def _created_then_ingested(post, db, count: int) -> list[tuple[int, str]]:
    """Create `count` A/B tests, each followed at once by a batch for it; the refusals."""
    refused = []
    for number in range(count):
        name = f"created_{number}"
        catalogue.ensure_abtest(db, name, variants=["control", "treatment"])
        status, detail = post(_batch(abTest=name))
        if status != 201:
            refused.append((status, detail))
    return refused


def test_a_test_created_just_before_its_first_batch_is_never_unknown(client, db, feature_a):
    """Issue 14 (10b): 35 of 400 batches sent right after creating their test were refused."""

    def post(doc):
        response = _post(client, doc)
        return response.status_code, response.get_data(as_text=True)

    assert _created_then_ingested(post, db, 100) == []  # 400 under gunicorn, below
    assert db.execute("SELECT count(DISTINCT abtest_id) FROM samples").fetchone() == (100,)


def test_unknown_names_cost_one_stamp_read_and_no_reload(client, db, feature_a):
    assert _post(client, _batch()).status_code == 201
    cache = client.application.extensions[CATALOGUE_KEY]
    loaded = cache.loads
    for _ in range(50):
        _problem(_post(client, _batch(abTest="never_created")), 400)
    assert cache.loads == loaded


@pytest.mark.slow
def test_tests_created_elsewhere_are_never_unknown_to_any_gunicorn_worker(
    db, feature_a, database_url, tmp_path
):
    """Each of 2 workers keeps its own catalogue; a test created by another process is known."""
    from tests.reliability.servers import Gunicorn

    server = Gunicorn(tmp_path / "gunicorn.log", workers=2, DATABASE_URL=database_url).start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)

        def post(doc):
            connection.request(
                "POST", "/ingest", body=orjson.dumps(doc),
                headers={"Content-Type": "application/json", "Connection": "close"},
            )  # fmt: skip
            response = connection.getresponse()
            body = response.read().decode()
            connection.close()
            return response.status, body

        assert _created_then_ingested(post, db, 400) == []
    finally:
        server.stop()


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[1, 2, 3]",
        b"null",
        b'"a string"',
        b"1e999999",
        b"9" * 5000,
        b'{"abTest": {"nested": [[[{"junk": null}]]]}, "variant": [], "samples": "x"}',
        b"[" * 100_000,
        b'{"abTest": "feature_a", "variant": "treatment", "samples": [null, [], {}, 1e999]}',
        b"\xff\xfe\x00garbage",
        b'{"abTest": "\\ud800", "variant": "treatment", "samples": []}',
        b'{"samples": [{"metric": "response_time", "value": 1, "time": 1e308, "\\u0000": 1}]}',
        b'{"\\udfff": 1, "samples": [{"\\ud800": 1}]}',
    ],
)
def test_garbage_bodies_are_400_never_500(client, db, feature_a, body):
    body = _problem(_post(client, body, key="g"), 400)
    assert body["errors"]
    assert _count(db) == 0


def test_limits(client, db, feature_a):
    sample = {"metric": "response_time", "value": 1.5, "time": NOW}
    assert _post(client, _batch([sample] * 10_000)).get_json()["stored"] == 10_000
    body = _problem(_post(client, _batch([sample] * 10_001)), 413)
    assert list(body["errors"]) == ["samples"]
    assert _count(db) == 10_000


def test_body_size_limit_is_413(db, feature_a, database_url):
    app = create_app({"DATABASE_URL": database_url, "MAX_MESSAGE_BYTES": 1000})
    try:
        client = app.test_client()
        samples = [{"metric": "response_time", "value": 1.5, "time": NOW}] * 30
        _problem(_post(client, _batch(samples)), 413)
        assert _post(client, _batch()).status_code == 201
    finally:
        app.extensions["tsmetrics.pool"].close()


@pytest.mark.parametrize("key", ["", "x" * 201, "with space", "naïve"])
def test_bad_idempotency_key(client, db, feature_a, key):
    headers = {"Idempotency-Key": key.encode("utf-8").decode("latin-1")}
    body = _problem(_post(client, _batch(), **headers), 400)
    assert list(body["errors"]) == ["Idempotency-Key"]


def test_database_down_is_503(db):
    app = create_app({"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", "POOL_TIMEOUT": 0.5})
    try:
        response = _post(app.test_client(), _batch())
        _problem(response, 503)
        assert response.headers["Retry-After"]
    finally:
        app.extensions["tsmetrics.pool"].close()


def test_openapi_documents_the_body_like_the_json_schema(client):
    spec = client.get("/openapi.json").get_json()
    post = spec["paths"]["/ingest"]["post"]
    assert post["summary"]
    assert {"200", "201", "400", "413", "503"} <= set(post["responses"])
    assert [p["name"] for p in post["parameters"]] == ["Idempotency-Key"]
    ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    documented = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    schema = json.loads((ROOT / "schemas" / "sample-batch.schema.json").read_text())
    assert set(documented["properties"]) == set(schema["properties"])
    assert sorted(documented["required"]) == sorted(schema["required"])
    sample_ref = documented["properties"]["samples"]["items"]["$ref"]
    sample = spec["components"]["schemas"][sample_ref.rsplit("/", 1)[1]]
    assert set(sample["properties"]) == set(schema["$defs"]["sample"]["properties"])
    assert sorted(sample["required"]) == sorted(schema["$defs"]["sample"]["required"])


RANGE_HELP = (
    "the accepted range of metric 'response_time' (its valueMin and valueMax in the catalogue)."
)


def test_a_value_outside_the_accepted_range_is_refused_naming_it(client, db, feature_a):
    """Issue 14 (1): 2e305 was stored, and /metrics answered 400 for that series ever after."""
    doc = _batch([{"metric": "response_time", "value": 2e305, "time": NOW}], variant="control")
    body = _problem(_post(client, doc, key="poison"), 400)
    assert body["errors"] == {
        "samples[0].value": [f"Must be between -1e+15 and 1e+15: {RANGE_HELP}"]
    }
    assert "invalid" in body["detail"] and "nothing was stored" in body["detail"]
    assert _count(db) == 0
    # The bounds themselves are accepted, by the per-sample loop and the column path alike.
    for value in (1e15, -1e15):
        sample = {"metric": "response_time", "value": value, "time": NOW}
        assert _post(client, _batch([sample])).status_code == 201
        assert _post(client, _batch([sample] * 3)).status_code == 201
    assert _count(db) == 8


def test_each_metric_has_its_own_range(client, db, feature_a):
    changed = client.patch(
        "/metrics/catalogue/response_time", json={"valueMin": 0, "valueMax": 6e4}
    )
    assert changed.status_code == 200
    catalogue.ensure_metric(db, "latency", unit="ms")
    samples = [
        {"metric": "response_time", "value": 0, "time": NOW},
        {"metric": "response_time", "value": -0.5, "time": NOW},
        {"metric": "latency", "value": -0.5, "time": NOW},
        {"metric": "response_time", "value": 60_000.001, "time": NOW},
        {"metric": "response_time", "value": 60_000, "time": NOW},
    ]
    body = _problem(_post(client, _batch(samples)), 400)
    range_help = RANGE_HELP
    assert body["errors"] == {
        "samples[1].value": [f"Must be between 0 and 60000: {range_help}"],
        "samples[3].value": [f"Must be between 0 and 60000: {range_help}"],
    }
    assert _count(db) == 0
    assert _post(client, _batch([samples[0], samples[2], samples[4]])).status_code == 201


def test_a_widened_range_applies_to_the_next_batch(client, db, feature_a):
    """The cache holds the ranges; a refusal checks the catalogue's stamp, as for unknown names."""
    doc = _batch([{"metric": "response_time", "value": 5e15, "time": NOW}])
    _problem(_post(client, doc), 400)
    # Changed through SQL, as another process would: only the stamp tells this one.
    db.execute("UPDATE metrics SET value_max = 1e16 WHERE name = 'response_time'")
    assert _post(client, doc).status_code == 201
    db.execute("UPDATE metrics SET value_max = 1e15 WHERE name = 'response_time'")
    cache = client.application.extensions[CATALOGUE_KEY]
    cache.as_of(time.monotonic())  # a narrowed range applies after the cache's TTL
    _problem(_post(client, doc), 400)
