"""The `tsmetrics` command: migrate, seed, serve, demo, consume, simulate, watch, maintain.

The setup and serving commands are here; the long-running ones are in
tsmetrics.cli.background, `token` and `user` in tsmetrics.cli.access.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from tsmetrics.cli.access import check_serve, demo_security, token, user
from tsmetrics.cli.background import consume, maintain, simulate, watch
from tsmetrics.cli.database import connect, database_url, load_cli_settings
from tsmetrics.db import redact_url


def run_migrations(url: str, settings: dict[str, Any]) -> None:
    """Apply pending migrations and say what the database is."""
    from tsmetrics.store import schema

    try:
        with connect(url, settings) as conn:
            report = schema.migrate(
                conn,
                compress_after=settings["COMPRESS_AFTER"],
                retain_raw=_raw_interval(settings),
                progress=click.echo,
            )
    except schema.MigrationError as error:
        raise click.ClickException(f"Migration failed: {error}") from None
    if report.warning:
        click.echo(f"Warning: {report.warning}", err=True)
    if report.timescaledb:
        click.echo(
            "TimescaleDB detected: samples are a hypertable, compressed after "
            f"{settings['COMPRESS_AFTER']}, raw samples kept {settings['RETAIN_RAW']}."
        )
    else:
        why = "TimescaleDB not preloaded" if report.warning else "no timescaledb extension"
        click.echo(
            f"Plain PostgreSQL ({why}): same schema and results; "
            f"skipped {', '.join(report.skipped) or 'nothing'}. Raw samples are partitioned "
            f"by day; `tsmetrics maintain` drops those older than {settings['RETAIN_RAW']}."
        )
    click.echo(f"Migrations: {len(report.applied)} applied, {report.already} already in place.")


def _raw_interval(settings: dict[str, Any]) -> str:
    """TSMETRICS_RETAIN_RAW as TimescaleDB's policy takes it (`forever`: no policy)."""
    from tsmetrics.retention import RetentionError, parse_raw

    try:
        keep = parse_raw(settings["RETAIN_RAW"])
    except RetentionError as error:
        raise click.UsageError(str(error)) from None
    return "forever" if keep.seconds is None else keep.interval


def run_seed(url: str, settings: dict[str, Any], **options: Any) -> None:
    """Seed the demo data with progress lines."""
    from tsmetrics.demo.seed import seed

    seed(lambda: connect(url, settings), out=click.echo, **options)


@click.group()
def main() -> None:
    """TSMetrics: A/B-test metrics as time series."""


@main.command()
def migrate() -> None:
    """Create or update the schema (idempotent; detects TimescaleDB)."""
    settings = load_cli_settings()
    run_migrations(database_url(settings), settings)


@main.command()
@click.option("--days", default=30, show_default=True, help="Days of history to create.")
@click.option("--interval", default=2, show_default=True, help="Seconds between samples.")
@click.option("--reset", is_flag=True, help="Replace the demo tests' data instead of topping up.")
@click.option(
    "--sketch-window/--no-sketch-window",
    default=True,
    show_default=True,
    help="Also fill 2025-10-13 to 2025-11-11 (every 30 s), the sketch's example range.",
)
def seed(days: int, interval: int, reset: bool, sketch_window: bool) -> None:
    """Create the demo A/B tests and fill them up to now (running it again only tops up)."""
    if days < 1 or interval < 1:
        raise click.UsageError("--days and --interval must be at least 1.")
    settings = load_cli_settings()
    run_seed(
        database_url(settings),
        settings,
        days=days,
        interval=interval,
        reset=reset,
        sketch_window=sketch_window,
    )


@main.command()
@click.option("--bind", help="host:port (default: TSMETRICS_BIND).")
@click.option("--workers", type=int, help="gunicorn workers (default: TSMETRICS_WORKERS).")
def serve(bind: str | None, workers: int | None) -> None:
    """Serve the API and dashboard with gunicorn."""
    from tsmetrics.cli.server import run_gunicorn

    settings = load_cli_settings()
    database_url(settings)
    check_serve(settings, bind)
    run_gunicorn(settings, bind=bind, workers=workers)


@main.command()
@click.option("--days", default=30, show_default=True, help="Days of demo history.")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Embedded database folder.")
def demo(days: int, data_dir: Path | None) -> None:
    """Demo in one command: embedded PostgreSQL (or TSMETRICS_DATABASE_URL), data, server."""
    import os

    from tsmetrics.cli.server import run_gunicorn
    from tsmetrics.demo import embedded

    settings = load_cli_settings()
    demo_security(settings)
    # A person reads the demo's terminal: plain log lines unless asked otherwise.
    settings["LOG_FORMAT"] = os.environ.setdefault("TSMETRICS_LOG_FORMAT", "text")
    url = settings["DATABASE_URL"]
    if not url:
        folder = data_dir or Path(settings["DATA_DIR"] or embedded.default_data_dir())
        click.echo(f"Starting the embedded PostgreSQL in {folder} ...")
        try:
            _server, url = embedded.start(folder)
        except embedded.EmbeddedUnavailable as error:
            raise click.ClickException(str(error)) from None
        # The gunicorn workers read their settings from the environment.
        os.environ["TSMETRICS_DATABASE_URL"] = url
        settings["DATABASE_URL"] = url
    else:
        click.echo(f"Using TSMETRICS_DATABASE_URL ({redact_url(url)}).")
    run_migrations(url, settings)
    run_seed(url, settings, days=days, sketch_window=True)
    run_gunicorn(settings, demo=True)


main.add_command(consume)
main.add_command(watch)
main.add_command(maintain)
main.add_command(simulate)
main.add_command(token)
main.add_command(user)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
