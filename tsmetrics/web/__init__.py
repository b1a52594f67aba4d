"""Server-rendered pages: the docs page and (later) the dashboard."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register every page blueprint."""
    from tsmetrics.web import analysis, auth, catalogue, dashboard, docs, manage

    app.register_blueprint(auth.bp)
    app.register_blueprint(docs.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(analysis.bp)
    app.register_blueprint(manage.bp)
    app.register_blueprint(catalogue.bp)
