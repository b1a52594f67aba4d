"""The WSGI entry point: `gunicorn wsgi:app` (the only module-level app)."""

from tsmetrics import create_app

app = create_app()
