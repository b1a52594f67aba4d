"""Telemetry: JSON logs with request ids, and Prometheus metrics at /internal/prometheus.

The path is not /metrics, which is the API's. It is public (security/policy.py)
like the health probes: keep /internal/ off the internet at the load balancer.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, request

from tsmetrics.telemetry import logs

bp = Blueprint("telemetry", __name__)
PROMETHEUS_PATH = "/internal/prometheus"


@bp.get(PROMETHEUS_PATH)
def prometheus() -> Response:
    """This process's metrics (every worker's, in multiprocess mode), in Prometheus' format."""
    from tsmetrics.telemetry.metrics import exposition

    body, content_type = exposition()
    return Response(body, content_type=content_type, headers={"Cache-Control": "no-store"})


def _remember_route(_endpoint: str | None, _values: dict[str, Any] | None) -> None:
    # URL value preprocessors run before every before_request hook, so even a
    # request the security hooks refuse is timed under its route.
    if request.url_rule is not None:
        request.environ["tsmetrics.route"] = request.url_rule.rule


def init_app(app: Flask) -> None:
    """Logs in the configured format; request ids, timing and metrics on every request."""
    from tsmetrics import db
    from tsmetrics.telemetry.requests import RequestTelemetry

    logs.configure(app.config["TSMETRICS"])
    app.wsgi_app = RequestTelemetry(app.wsgi_app, lambda: db.pool_stats(app))
    app.url_value_preprocessor(_remember_route)
    app.register_blueprint(bp)
