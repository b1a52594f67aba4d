"""Telemetry under gunicorn: metrics add up over workers, and survive workers being recycled."""

from __future__ import annotations

import re
import urllib.request

from tests.reliability.servers import Gunicorn


def _get(url: str) -> tuple[int, str, dict]:
    with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - a local test server
        return answer.status, answer.read().decode(), dict(answer.headers)


def test_counts_add_up_over_recycled_workers(tmp_path, database_url, db):
    # Every worker is replaced after 5 requests: 40 requests go through about 8 of them.
    server = Gunicorn(tmp_path / "api.log", workers=2, DATABASE_URL=database_url)
    server.env["GUNICORN_CMD_ARGS"] = "--max-requests 5 --max-requests-jitter 0"
    server.start()
    try:
        for _ in range(40):
            status, _body, headers = _get(f"{server.url}/healthz")
            assert status == 200 and headers["X-Request-ID"]
        _status, text, _headers = _get(f"{server.url}/internal/prometheus")
        found = re.search(
            r'^tsmetrics_http_request_duration_seconds_count\{method="GET",route="/healthz",'
            r'status="200"\} ([0-9.]+)$',
            text,
            re.M,
        )
        assert found and float(found[1]) >= 40
        assert server.process.poll() is None
    finally:
        server.stop()
    log = (tmp_path / "api.log").read_text()
    assert "Worker failed to boot" not in log
    assert '"logger":"gunicorn.error"' in log  # gunicorn's own lines are JSON too
