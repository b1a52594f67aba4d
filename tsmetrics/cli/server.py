"""Running the app under gunicorn from the `tsmetrics` command."""

from __future__ import annotations

from typing import Any

import click
from gunicorn.app.base import BaseApplication

from tsmetrics.security import listeners, server_worker
from tsmetrics.telemetry import server_hooks


class _Gunicorn(BaseApplication):
    """gunicorn with options from our settings; each worker builds its own app (and pool)."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        """Copy our options into gunicorn's config."""
        for key, value in self.options.items():
            # Settings a given gunicorn release does not know are skipped.
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self):
        """Called in each worker after the fork, so the pool never crosses a fork."""
        from tsmetrics import create_app

        return create_app()


def _banner(bind: str, demo: bool, auth: str = "off") -> str:
    base = f"http://{bind}"
    lines = [
        f"TSMetrics is serving on {base}",
        f"  dashboard  {base}/dashboard",
        f"  API docs   {base}/swagger   (OpenAPI: {base}/openapi.json)",
        f"  example    {base}/metrics?abTestName=feature_a&metricName=response_time&granularity=1h",
    ]
    if demo and auth == "off":
        lines.append("  demo mode: demo data, no authentication. Press Ctrl+C to stop.")
    elif demo:
        lines.append("  demo mode: demo data; authentication is on. Press Ctrl+C to stop.")
    return "\n".join(lines)


def run_gunicorn(
    settings: dict[str, Any],
    *,
    bind: str | None = None,
    workers: int | None = None,
    demo: bool = False,
) -> None:
    """Serve until interrupted."""
    bind = bind or settings["BIND"]
    security = listeners.gunicorn_hooks(settings)
    options = {
        "bind": bind,
        "workers": workers or settings["WORKERS"],
        "threads": settings["THREADS"],
        "worker_class": server_worker.WORKER_CLASS,
        "preload_app": False,
        "timeout": 30,
        "graceful_timeout": 20,
        "accesslog": None if demo else "-",
        # gunicorn >= 25.1 opens a control socket under $HOME; we do not use it.
        "control_socket_disable": True,
        "forwarded_allow_ips": listeners.forwarded_allow_ips(settings),
        "post_fork": security["post_fork"],
    }

    def when_ready(server) -> None:
        security["when_ready"](server)  # halts on sockets unsafe for the settings
        click.echo(_banner(bind, demo, settings["AUTH"]))

    options["when_ready"] = when_ready
    # Metrics summed over the workers, JSON logs (tsmetrics/telemetry/server_hooks.py).
    server_hooks.prepare_multiprocess_dir()
    options.update(server_hooks.options(settings))
    _Gunicorn(options).run()
