"""`tsmetrics seed`: fill the database with the demo A/B tests, fast and idempotently."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from tsmetrics import demo_data
from tsmetrics.progress import Progress
from tsmetrics.store import catalog, samples, series

DAY = 86_400


@dataclass(frozen=True)
class SeedReport:
    """What a seed run stored and how fast."""

    samples: int
    seconds: float
    start: datetime | None
    end: datetime | None

    @property
    def rate(self) -> float:
        """Samples stored per second, rollups included."""
        return self.samples / self.seconds if self.seconds > 0 else 0.0


def ensure_catalogue(conn: psycopg.Connection, days: int) -> tuple[dict[str, int], dict[str, int]]:
    """Create the demo tests and metrics when missing; return their ids by name."""
    started = datetime.now(UTC) - timedelta(days=days)
    with conn.transaction():
        metric_ids = {
            m.name: catalog.ensure_metric(
                conn,
                m.name,
                unit=m.unit,
                kind=m.kind,
                description=m.description,
                higher_is_better=m.higher_is_better,
            ).id
            for m in demo_data.METRICS
        }
        abtest_ids = {
            t.name: catalog.ensure_abtest(
                conn,
                t.name,
                variants=demo_data.VARIANTS,
                title=t.title,
                description=t.description,
                status="running",
                started_at=started,
            ).id
            for t in demo_data.TESTS
        }
    return abtest_ids, metric_ids


def _day_chunks(start_s: int, end_s: int) -> list[tuple[int, int]]:
    # UTC-day-aligned chunks touch disjoint rollup buckets, so two writers never
    # wait on each other's buckets.
    chunks, cursor = [], start_s
    while cursor < end_s:
        boundary = min(end_s, (cursor // DAY + 1) * DAY)
        chunks.append((cursor, boundary))
        cursor = boundary
    return chunks


def seed(
    connect: Callable[[], psycopg.Connection],
    *,
    days: int = 30,
    interval: int = 2,
    workers: int = 2,
    reset: bool = False,
    now: datetime | None = None,
    out: Callable[[str], None] = print,
) -> SeedReport:
    """Seed from the newest demo sample (or `days` ago) up to now with `workers` connections."""
    end_s = int((now or datetime.now(UTC)).timestamp())
    with connect() as conn:
        abtest_ids, metric_ids = ensure_catalogue(conn, days)
        if reset:
            for abtest_id in abtest_ids.values():
                series.delete_abtest_data(conn, abtest_id)
            conn.commit()
        newest = series.newest_sample_time(conn, list(abtest_ids.values()))
    start_s = end_s - days * DAY
    if newest is not None:
        start_s = max(start_s, int(newest.timestamp()) + interval)
    chunks = _day_chunks(start_s, end_s)
    if not chunks:
        out("Demo data is already up to date; nothing to add (use --reset to replace it).")
        return SeedReport(0, 0.0, None, None)
    expected = len(demo_data.TESTS) * len(demo_data.METRICS) * ((end_s - start_s) // interval)
    progress = Progress("seed", total=expected, unit="samples", out=out)
    failures: list[BaseException] = []

    def work(my_chunks: list[tuple[int, int]]) -> None:
        try:
            with connect() as conn:
                for chunk_start, chunk_end in my_chunks:
                    batch = demo_data.generate(
                        chunk_start,
                        chunk_end,
                        interval,
                        abtest_ids=abtest_ids,
                        metric_ids=metric_ids,
                    )
                    with conn.transaction():
                        samples.insert_samples(conn, batch)
                    progress.advance(len(batch))
        except BaseException as error:  # reported by the caller, not lost in a thread
            failures.append(error)

    began = time.perf_counter()
    threads = [
        threading.Thread(target=work, args=(chunks[i::workers],), daemon=True)
        for i in range(workers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    progress.finish()
    if failures:
        raise failures[0]
    with connect() as conn:
        series.refresh_statistics(conn)
    report = SeedReport(
        progress.done,
        time.perf_counter() - began,
        datetime.fromtimestamp(start_s, UTC),
        datetime.fromtimestamp(end_s, UTC),
    )
    out(
        f"Seeded {report.samples:,} samples from {report.start:%Y-%m-%d %H:%M} to "
        f"{report.end:%Y-%m-%d %H:%M} UTC in {report.seconds:.1f} s "
        f"({report.rate:,.0f} samples/s, rollups included)."
    )
    return report
