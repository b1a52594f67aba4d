"""`tsmetrics seed`: fill the database with the demo A/B tests, fast and idempotently."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from tsmetrics.demo import synthetic
from tsmetrics.store import catalogue, plans, samples, series
from tsmetrics.telemetry.progress import Progress

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


def ensure_catalogue(
    conn: psycopg.Connection, days: int, now: datetime | None = None
) -> tuple[dict[str, int], dict[str, int]]:
    """Create the demo tests, metrics and plans when missing; return their ids by name."""
    now = now or datetime.now(UTC)
    started = now - timedelta(days=days)
    with conn.transaction():
        metric_ids = {
            m.name: catalogue.ensure_metric(
                conn,
                m.name,
                unit=m.unit,
                kind=m.kind,
                description=m.description,
                higher_is_better=m.higher_is_better,
                analysis_unit=m.analysis_unit,
                distribution=m.distribution,
            ).id
            for m in synthetic.METRICS
        }
        abtest_ids = {
            t.name: catalogue.ensure_abtest(
                conn,
                t.name,
                variants=synthetic.VARIANTS,
                title=t.title,
                description=t.description,
                status="running",
                started_at=started,
                planned_end=now + timedelta(days=synthetic.PLANNED_DAYS_AHEAD),
            ).id
            for t in synthetic.TESTS
        }
        for test in synthetic.TESTS:
            wanted = {
                metric_ids[m.name]: (synthetic.PLANNED_MDE, m.name in test.guardrails)
                for m in synthetic.METRICS
            }
            plans.set_metric_plans(conn, abtest_ids[test.name], wanted, replace=False)
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


# The sketch's README example asks for 2025-10-13 to 2025-11-11; the demo keeps
# that window too (at a coarser interval), so the example works verbatim.
SKETCH_WINDOW = (
    int(datetime(2025, 10, 13, 12, tzinfo=UTC).timestamp()),
    int(datetime(2025, 11, 11, 12, tzinfo=UTC).timestamp()),
)
SKETCH_INTERVAL = 30


def _write_chunks(connect, chunks, interval, ids, progress, workers) -> None:
    """Generate and store day chunks on `workers` connections; re-raise the first failure."""
    failures: list[BaseException] = []

    def work(my_chunks: list[tuple[int, int]]) -> None:
        try:
            with connect() as conn:
                for chunk_start, chunk_end in my_chunks:
                    batch = synthetic.generate(chunk_start, chunk_end, interval, **ids)
                    with conn.transaction():
                        samples.insert_samples(conn, batch)
                    progress.advance(len(batch))
        except BaseException as error:  # reported by the caller, not lost in a thread
            failures.append(error)

    threads = [
        threading.Thread(target=work, args=(chunks[i::workers],), daemon=True)
        for i in range(workers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def _expected(start_s: int, end_s: int, interval: int) -> int:
    """Samples `synthetic.generate` makes for [start_s, end_s): every series at every tick."""
    # Ticks are multiples of `interval`, so count those in the range: a range
    # that does not start on a tick holds one more than its length / interval.
    ticks = max(0, -(-end_s // interval) - -(-start_s // interval))
    return len(synthetic.TESTS) * len(synthetic.METRICS) * ticks


def _announce(out: Callable[[str], None], total: int, newest: datetime | None, days: int) -> str:
    """Say what this run adds (a first fill or a top-up); return the progress label."""
    if newest is None:
        out(f"Seeding {total:,} demo samples ({days} days up to now) ...")
        return "seed"
    out(f"Topping up {total:,} demo samples after the newest one ({newest:%Y-%m-%d %H:%M:%S} UTC)")
    return "top-up"


def seed(
    connect: Callable[[], psycopg.Connection],
    *,
    days: int = 30,
    interval: int = 2,
    workers: int = 2,
    reset: bool = False,
    sketch_window: bool = False,
    now: datetime | None = None,
    out: Callable[[str], None] = print,
) -> SeedReport:
    """Seed from the newest demo sample (or `days` ago) up to now with `workers` connections.

    With `sketch_window`, also the sketch's example window (once, every 30 s).
    """
    end_s = int((now or datetime.now(UTC)).timestamp())
    with connect() as conn:
        abtest_ids, metric_ids = ensure_catalogue(conn, days, now)
        if reset:
            for abtest_id in abtest_ids.values():
                series.delete_abtest_data(conn, abtest_id)
            conn.commit()
        newest = series.newest_sample_time(conn, list(abtest_ids.values()))
        need_window = sketch_window and not series.has_samples_between(
            conn, list(abtest_ids.values()), *SKETCH_WINDOW
        )
    start_s = end_s - days * DAY
    if newest is not None:
        start_s = max(start_s, int(newest.timestamp()) + interval)
    recent = _day_chunks(start_s, end_s)
    # Only where the recent range does not reach back into it: never twice.
    window = _day_chunks(*SKETCH_WINDOW) if need_window and SKETCH_WINDOW[1] <= start_s else []
    if not recent and not window:
        out("Demo data is already up to date; nothing to add (use --reset to replace it).")
        return SeedReport(0, 0.0, None, None)
    total = _expected(start_s, end_s, interval)
    if window:
        total += _expected(*SKETCH_WINDOW, SKETCH_INTERVAL)
    label = _announce(out, total, newest, days)
    progress = Progress(label, total=total, unit="samples", out=out)
    ids = {"abtest_ids": abtest_ids, "metric_ids": metric_ids}
    began = time.perf_counter()
    _write_chunks(connect, recent, interval, ids, progress, workers)
    _write_chunks(connect, window, SKETCH_INTERVAL, ids, progress, workers)
    progress.finish()
    with connect() as conn:
        series.refresh_statistics(conn)
    report = SeedReport(
        progress.done,
        time.perf_counter() - began,
        datetime.fromtimestamp(start_s, UTC),
        datetime.fromtimestamp(end_s, UTC),
    )
    out(
        f"{'Seeded' if newest is None else 'Topped up'} {report.samples:,} samples from "
        f"{report.start:%Y-%m-%d %H:%M} to "
        f"{report.end:%Y-%m-%d %H:%M} UTC"
        + (" (and the sketch's example window, 2025-10-13 to 2025-11-11)" if window else "")
        + f" in {report.seconds:.1f} s ({report.rate:,.0f} samples/s, rollups included)."
    )
    return report
