"""The long-running commands: consume, watch, maintain and simulate (each stops on SIGTERM)."""

from __future__ import annotations

import sys
from typing import Any

import click

from tsmetrics.cli.database import database_url, load_cli_settings


def _log_to_stderr(settings: dict[str, Any]) -> None:
    import logging

    from tsmetrics.telemetry import logs

    logs.configure(settings)  # TSMETRICS_LOG_FORMAT: JSON lines by default
    # pika logs each lost connection as errors with tracebacks; the consumer and
    # producer log it once, as a warning saying what happens next.
    logging.getLogger("pika").setLevel(logging.CRITICAL)


@click.command()
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


@click.command()
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


@click.command()
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


@click.command()
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
