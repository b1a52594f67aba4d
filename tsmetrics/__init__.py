"""TSMetrics: A/B-test metrics as time series."""

from __future__ import annotations

import logging
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
    logging.basicConfig(level=settings["LOG_LEVEL"])

    from tsmetrics import api, db, problems, web

    db.init_app(app)
    api.init_app(app)
    web.init_app(app)
    problems.init_app(app)
    return app
