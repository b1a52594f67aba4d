"""Request ids, one JSON log line per request without secrets, and Prometheus metrics."""

from __future__ import annotations

import json
import logging

from tests.support.cache_data import BASE, TEN_DAYS, fill
from tsmetrics.telemetry.logs import JsonFormatter, scrub


def _request_lines(caplog) -> list[dict]:
    formatter = JsonFormatter()
    return [
        json.loads(formatter.format(record))
        for record in caplog.records
        if record.name == "tsmetrics.request"
    ]


def test_request_id_is_taken_or_made_and_echoed(client, caplog):
    caplog.set_level(logging.INFO, logger="tsmetrics.request")
    given = client.get("/healthz", headers={"X-Request-ID": "probe-42.a"})
    assert given.headers["X-Request-ID"] == "probe-42.a"
    forged = client.get("/healthz", headers={"X-Request-ID": 'x" "level":"ERROR'})
    made = forged.headers["X-Request-ID"]
    assert len(made) == 32 and made != 'x" "level":"ERROR'
    lines = _request_lines(caplog)
    assert [line["request_id"] for line in lines] == ["probe-42.a", made]


def test_one_json_line_per_request_with_status_and_duration(client, caplog, db, feature_a):
    fill(db, feature_a)
    caplog.set_level(logging.INFO, logger="tsmetrics.request")
    client.get(BASE + TEN_DAYS)
    client.get("/metrics?abTestName=nope&metricName=response_time")
    client.get("/no/such/page")
    lines = _request_lines(caplog)
    assert [(line["route"], line["status"]) for line in lines] == [
        ("/metrics", 200),
        ("/metrics", 404),
        ("(unmatched)", 404),
    ]
    for line in lines:
        assert line["level"] == "INFO" and line["method"] == "GET"
        assert line["duration_ms"] > 0 and line["time"].endswith("+00:00")


def test_secrets_never_reach_a_log_line():
    record = logging.makeLogRecord(
        {
            "name": "x",
            "levelname": "WARNING",
            "msg": "cannot reach %s with %s",
            "args": ("postgresql://app:hunter2@db:5432/tsm", "Bearer tsm_" + "A" * 43),
            "broker": "amqp://guest:s3cret@rabbitmq:5672/%2F",
        }
    )
    line = JsonFormatter().format(record)
    for secret in ("hunter2", "s3cret", "A" * 43):
        assert secret not in line
    assert "postgresql://app:********@db:5432/tsm" in line
    assert scrub("token tsm_" + "b" * 43 + " used") == "token tsm_******** used"
    assert scrub("database tsm_bench_cache") == "database tsm_bench_cache"


def test_prometheus_exposition(client, db, feature_a):
    fill(db, feature_a)
    client.get(BASE + TEN_DAYS)
    client.get(BASE + TEN_DAYS)
    response = client.get("/internal/prometheus")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert (
        'tsmetrics_http_request_duration_seconds_bucket{le="0.25",method="GET",'
        'route="/metrics",status="200"}' in text
    )
    assert 'tsmetrics_db_pool_connections{state="idle"}' in text
    assert 'tsmetrics_cache_lookups_total{kind="bodies",result="local"}' in text
    assert 'tsmetrics_cache_lookups_total{kind="buckets",result="miss"}' in text
    assert "tsmetrics_cache_errors_total" in text
    assert 'tsmetrics_cache_buckets_total{source="database"}' in text


def test_prometheus_needs_a_read_token_with_authentication_on(database_url, db):
    from tsmetrics import create_app
    from tsmetrics.security import tokens

    read_token, _ = tokens.issue(db, "prometheus", ["read"])
    ingest_token, _ = tokens.issue(db, "emitter", ["ingest"])
    app = create_app(
        {"DATABASE_URL": database_url, "AUTH": "on", "SECRET_KEY": "x" * 40, "TESTING": True}
    )
    try:
        client = app.test_client()
        assert client.get("/internal/prometheus").status_code == 401
        wrong = {"Authorization": f"Bearer {ingest_token}"}
        assert client.get("/internal/prometheus", headers=wrong).status_code == 403
        scrape = client.get(
            "/internal/prometheus", headers={"Authorization": f"Bearer {read_token}"}
        )
        assert scrape.status_code == 200 and b"tsmetrics_" in scrape.data
        assert client.get("/healthz").status_code == 200
    finally:
        app.extensions["tsmetrics.pool"].close()
