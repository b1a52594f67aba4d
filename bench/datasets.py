"""The benchmark databases: demo data seeded by tsmetrics.demo.seed, and many-test data sets."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import psycopg
from common import (
    create_database,
    database_exists,
    database_size,
    database_url,
    in_threads,
    log,
    migrate_database,
)

from tsmetrics.demo import synthetic
from tsmetrics.demo.seed import DAY, SeedReport, ensure_catalogue, seed
from tsmetrics.store import catalogue, samples, series
from tsmetrics.telemetry.progress import Progress


def connector(url: str) -> Callable[[], psycopg.Connection]:
    """A connect() for tsmetrics.demo.seed."""
    return lambda: psycopg.connect(url)


def ensure_demo_db(admin: str, name: str, days: int) -> tuple[str, SeedReport | None]:
    """The demo data over `days`, seeded by tsmetrics.demo.seed when the database is new."""
    if database_exists(admin, name):
        url = database_url(admin, name)
        migrate_database(url)
        log(f"{name}: exists ({database_size(url)}), reusing it")
        return url, None
    log(f"{name}: creating and seeding {days} days of demo data")
    url = create_database(admin, name)
    report = seed(connector(url), days=days, interval=2, out=lambda line: log(f"{name}: {line}"))
    log(f"{name}: {database_size(url)}")
    return url, report


def _extra_abtests(conn: psycopg.Connection, copies: int) -> list[dict[str, int]]:
    # Each copy renames the two demo tests, so synthetic.generate fills them.
    mappings = []
    for copy in range(1, copies):
        mappings.append(
            {
                test.name: catalogue.ensure_abtest(
                    conn, f"{test.name}_x{copy}", variants=synthetic.VARIANTS, status="running"
                ).id
                for test in synthetic.TESTS
            }
        )
    conn.commit()
    return mappings


def load_tests(url: str, *, copies: int, days: int, end_s: int, workers: int = 2) -> float:
    """Demo data for `copies` x 2 A/B tests up to end_s, day by day as a live feed writes."""
    with psycopg.connect(url) as conn:
        abtest_ids, metric_ids = ensure_catalogue(conn, days)
        mappings = [abtest_ids, *_extra_abtests(conn, copies)]
    chunks = [(day, day + DAY) for day in range(end_s - days * DAY, end_s, DAY)]
    expected = copies * len(abtest_ids) * len(metric_ids) * days * DAY // 2
    progress = Progress("load", total=expected, unit="samples", out=log)

    def work(mine: list[tuple[int, int]]) -> None:
        with psycopg.connect(url) as conn:
            for start, end in mine:
                for ids in mappings:
                    batch = synthetic.generate(start, end, 2, abtest_ids=ids, metric_ids=metric_ids)
                    with conn.transaction():
                        samples.insert_samples(conn, batch)
                    progress.advance(len(batch))

    in_threads(work, chunks, workers)
    progress.finish()
    with psycopg.connect(url) as conn:
        series.refresh_statistics(conn)
    return progress.rate


def ensure_tests_db(admin: str, name: str, copies: int, end_s: int) -> str:
    """Seven days of `copies` x 2 A/B tests ending at end_s, loaded when the database is new."""
    if database_exists(admin, name):
        url = database_url(admin, name)
        migrate_database(url)
        log(f"{name}: exists ({database_size(url)}), reusing it")
        return url
    log(f"{name}: creating, 7 days of {copies * 2} A/B tests up to {iso(end_s)}")
    url = create_database(admin, name)
    load_tests(url, copies=copies, days=7, end_s=end_s)
    log(f"{name}: {database_size(url)}")
    return url


def iso(epoch: float | datetime) -> str:
    """An epoch or datetime as ISO 8601 UTC with a Z."""
    moment = epoch if isinstance(epoch, datetime) else datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
