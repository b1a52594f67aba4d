"""The `tsmetrics` command: migrate, seed, serve, demo, consume, simulate, watch, maintain."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from tsmetrics.cli.access import check_serve, demo_security, token, user
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


def _log_to_stderr(settings: dict[str, Any]) -> None:
    import logging

    from tsmetrics.telemetry import logs

    logs.configure(settings)  # TSMETRICS_LOG_FORMAT: JSON lines by default
    # pika logs each lost connection as errors with tracebacks; the consumer and
    # producer log it once, as a warning saying what happens next.
    logging.getLogger("pika").setLevel(logging.CRITICAL)


@main.command()
def consume() -> None:
    """Store sample batches from RabbitMQ exactly once (TSMETRICS_QUEUE); SIGTERM stops cleanly."""
    from tsmetrics.ingest.consumer import Consumer, SchemaMissing

    settings = load_cli_settings()
    database_url(settings)
    _log_to_stderr(settings)
    consumer = Consumer(settings)
    if settings["METRICS_BIND"]:
        from tsmetrics.telemetry.consumer import serve

        serve(consumer, settings)  # throughput, lag and dead letters for Prometheus
    try:
        code = consumer.run()
    except SchemaMissing as error:
        raise click.ClickException(str(error)) from None
    sys.exit(code)


@main.command()
@click.option(
    "--interval", type=float, help="Seconds between evaluations (default TSMETRICS_WATCH_INTERVAL)."
)
@click.option("--once", is_flag=True, help="One round (evaluate, send what is due), then exit.")
def watch(interval: float | None, once: bool) -> None:
    """Evaluate the guardrails and POST their alerts; safe to run several (one evaluates)."""
    import signal

    from tsmetrics.guardrails.watch import SchemaMissing, Watcher
    from tsmetrics.settings import SettingError

    settings = load_cli_settings()
    database_url(settings)
    if interval is not None:
        if not interval > 0:
            raise click.UsageError("--interval must be more than 0 seconds.")
        settings["WATCH_INTERVAL"] = interval
    _log_to_stderr(settings)
    try:
        watcher = Watcher(settings)
    except SettingError as error:
        raise click.UsageError(str(error)) from None
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, watcher.stop)
    try:
        code = watcher.run(once=once)
    except SchemaMissing as error:
        raise click.ClickException(str(error)) from None
    sys.exit(code)


def _every_seconds(text: str) -> float:
    """`--every`: `10m`, `30s`, `1h` or plain seconds (here `m` can only mean minutes)."""
    units = {"s": 1, "m": 60, "min": 60, "h": 3600}
    number = text.rstrip("minhs")
    unit = text[len(number) :] or "s"
    try:
        seconds = float(number) * units[unit]
    except (KeyError, ValueError):
        seconds = 0.0
    if not seconds > 0:
        raise click.UsageError(f"--every {text!r}: write a positive duration, e.g. 10m, 30s, 1h.")
    return seconds


@main.command()
@click.option("--every", help="Run a pass every so long (e.g. 10m) until stopped; default: once.")
def maintain(every: str | None) -> None:
    """Retention: partitions ahead, expired raw samples and rollups dropped; safe to run several."""
    import signal

    from tsmetrics.maintenance import Maintainer
    from tsmetrics.retention import RetentionError, parse_raw, parse_rollups

    settings = load_cli_settings()
    database_url(settings)
    try:
        parse_raw(settings["RETAIN_RAW"])
        parse_rollups(settings["RETAIN_ROLLUPS"])
    except RetentionError as error:
        raise click.UsageError(str(error)) from None
    maintainer = Maintainer(settings, _every_seconds(every) if every else None)
    _log_to_stderr(settings)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, maintainer.stop)
    sys.exit(maintainer.run())


@main.command()
@click.option("--rate", default=200.0, show_default=True, help="Samples per second in all.")
@click.option(
    "--duration", default=0.0, show_default=True, help="Seconds to run; 0: until stopped."
)
@click.option("--target", type=click.Choice(["amqp", "http"]), default="amqp", show_default=True)
@click.option(
    "--url",
    help="amqp: broker URL (default TSMETRICS_BROKER_URL); http: the app's base URL "
    "(default http://TSMETRICS_BIND).",
)
@click.option("--batch-size", default=1000, show_default=True, help="Most samples per batch.")
@click.option("--abtest", "abtests", multiple=True, help="Only this demo A/B test (repeatable).")
@click.option("--seed", "random_seed", type=int, help="Random seed, for repeatable traffic.")
@click.option(
    "--token", envvar="TSMETRICS_SIMULATE_TOKEN", help="http: bearer token with the ingest scope."
)
def simulate(
    rate: float,
    duration: float,
    target: str,
    url: str | None,
    batch_size: int,
    abtests: tuple[str, ...],
    random_seed: int | None,
    token: str | None,
) -> None:
    """Stand in for the web app: live samples of the demo A/B tests (run `seed` first)."""
    import signal

    import numpy as np

    from tsmetrics.demo import simulator
    from tsmetrics.ingest.producer import PublishFailed

    if rate <= 0 or duration < 0 or not 0 < batch_size <= 10_000:
        raise click.UsageError("--rate must be > 0, --duration >= 0, --batch-size 1 to 10000.")
    settings = load_cli_settings()
    _log_to_stderr(settings)
    try:
        tests = simulator.select_tests(abtests)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    if target == "amqp":
        sink = simulator.AmqpSink(url or settings["BROKER_URL"], settings["QUEUE"])
    else:
        sink = simulator.HttpSink(url or f"http://{settings['BIND']}", token=token)
    stopping: list[int] = []
    previous = {
        signum: signal.signal(signum, lambda number, _frame: stopping.append(number))
        for signum in (signal.SIGTERM, signal.SIGINT)
    }
    traffic = simulator.Traffic(tests, rate, np.random.default_rng(random_seed))
    click.echo(
        f"Simulating {rate:,.0f} samples/s of {', '.join(t.name for t in tests)} to {target}."
    )
    try:
        simulator.run(
            sink,
            traffic,
            duration=duration,
            batch_size=batch_size,
            stopped=lambda: bool(stopping),
            out=click.echo,
        )
    except (simulator.SimulationError, PublishFailed) as error:
        raise click.ClickException(str(error)) from None
    finally:
        sink.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


main.add_command(token)
main.add_command(user)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
