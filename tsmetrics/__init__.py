"""TSMetrics: A/B-test metrics as time series."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from tsmetrics.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then TSMETRICS_* environment, then `config` (tests)."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    settings = load_settings(config)
    app.config["TSMETRICS"] = settings
    app.config["SECRET_KEY"] = settings["SECRET_KEY"]

    from tsmetrics import api, cache, db, problems, security, telemetry, web

    # Logging (JSON lines, request ids) before anything logs. It times requests
    # around the whole WSGI app; its one hook only notes the matched route.
    telemetry.init_app(app)
    # First: it refuses unsafe settings before anything connects, and its
    # request hooks (identify, rate-limit, authorize) must run before any other.
    security.init_app(app)
    db.init_app(app)
    cache.init_app(app)
    api.init_app(app)
    web.init_app(app)
    problems.init_app(app)
    return app
