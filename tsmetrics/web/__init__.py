"""Server-rendered pages: the dashboard, its forms, the login and the Swagger UI page."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register every page blueprint."""
    from tsmetrics.web import auth, catalogue, dashboard, docs, manage, results

    app.register_blueprint(auth.bp)
    app.register_blueprint(docs.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(results.bp)
    app.register_blueprint(manage.bp)
    app.register_blueprint(catalogue.bp)
