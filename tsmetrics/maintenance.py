"""`tsmetrics maintain`: one pass of the data lifecycle (partitions ahead, retention behind).

A pass, under an advisory lock (a second maintainer skips its pass):
1. plain PostgreSQL: creates the partitions of the next days, moves rows out of
   the DEFAULT partition, and drops each day's partition once all of it is older
   than TSMETRICS_RETAIN_RAW (TimescaleDB: its own retention policy does that);
2. both backends: deletes the rollup rows of each granularity older than its
   TSMETRICS_RETAIN_ROLLUPS retention.
Cut-offs fall on UTC midnights, so data is kept at least as long as asked and at
most a day longer. Each horizon is recorded before its rows go, so the read path
stops offering what is being dropped (tsmetrics.series).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from tsmetrics import retention
from tsmetrics.db import autocommit_connection, first_line
from tsmetrics.granularity import GRANULARITIES, floor_to
from tsmetrics.store import horizons, partitions

log = logging.getLogger(__name__)
DAYS_AHEAD = 3  # partitions made before their day comes: today and the next two
_DAY = 86400


@dataclass
class PassReport:
    """What one pass did."""

    skipped: bool = False  # another maintainer held the lock
    layout: str = ""
    partitions_created: int = 0
    moved_rows: int = 0
    raw_partitions_dropped: int = 0
    raw_rows_dropped: int = 0
    raw_bytes_dropped: int = 0
    rollup_rows_dropped: dict[str, int] = field(default_factory=dict)
    rollup_bytes_dropped: int = 0
    seconds: float = 0.0

    @property
    def did_nothing(self) -> bool:
        """True when the pass changed no data (it may have made partitions ahead)."""
        return not (self.moved_rows or self.raw_partitions_dropped or self.raw_rows_dropped) and (
            not any(self.rollup_rows_dropped.values())
        )

    def summary(self) -> str:
        """One line: everything the pass dropped, with rates."""
        if self.skipped:
            return "skipped: another `tsmetrics maintain` holds the lock"
        seconds = max(self.seconds, 1e-9)
        rollup_rows = sum(self.rollup_rows_dropped.values())
        return (
            f"{self.layout}: {self.partitions_created} partitions created, "
            f"{self.moved_rows:,} rows moved out of the default partition; raw: "
            f"{self.raw_partitions_dropped} partitions dropped ({self.raw_rows_dropped:,} rows, "
            f"{_mb(self.raw_bytes_dropped)}); rollups: {rollup_rows:,} rows deleted "
            f"(~{_mb(self.rollup_bytes_dropped)}); in {self.seconds:.2f} s "
            f"({(self.raw_rows_dropped + rollup_rows) / seconds:,.0f} rows/s)"
        )


def _mb(size: float) -> str:
    return f"{size / 1e6:,.1f} MB"


def cutoff(now: datetime, seconds: int) -> datetime:
    """The UTC midnight at or before `now - seconds`: what is older goes."""
    return floor_to(now - timedelta(seconds=seconds), _DAY)


def run_pass(
    conn: psycopg.Connection, settings: dict[str, Any], now: datetime | None = None
) -> PassReport:
    """One maintenance pass on an autocommit connection; RetentionError for a bad setting."""
    raw = retention.parse_raw(settings["RETAIN_RAW"])
    rollups = retention.parse_rollups(settings["RETAIN_ROLLUPS"])
    if not horizons.try_maintenance_lock(conn):
        log.info("another `tsmetrics maintain` is running: this pass is skipped")
        return PassReport(skipped=True)
    began = time.monotonic()
    try:
        now = now or datetime.now(UTC)
        report = PassReport(layout=partitions.samples_layout(conn))
        if report.layout == "partitioned":
            _raw_partitions(conn, report, raw, now)
        elif report.layout == "hypertable":
            log.info("raw samples: TimescaleDB's retention policy drops them (RETAIN_RAW)")
        _rollups(conn, report, rollups, now)
    finally:
        horizons.release_maintenance_lock(conn)
    report.seconds = time.monotonic() - began
    log.info("maintenance pass done: %s", report.summary())
    return report


def _raw_partitions(
    conn: psycopg.Connection, report: PassReport, raw: retention.Keep, now: datetime
) -> None:
    today = floor_to(now, _DAY).date()
    report.partitions_created = partitions.ensure_days(
        conn, [today + timedelta(days=ahead) for ahead in range(DAYS_AHEAD)]
    )
    if report.partitions_created:
        log.info("created %d partitions ahead", report.partitions_created)
    limit = cutoff(now, raw.seconds).date() if raw.seconds is not None else None
    for day, count in partitions.default_partition_days(conn):
        if limit is not None and day < limit:
            report.raw_rows_dropped += partitions.delete_default_day(conn, day)
            log.info("deleted %s's %d rows from the default partition (past retention)", day, count)
        else:
            moved = _without_lock_wait(partitions.move_default_day, conn, day)
            if moved is not False:
                report.moved_rows += moved
                log.info("moved %s's %d rows from the default partition to their own", day, moved)
    if limit is None:
        return
    horizons.advance_horizon(conn, "raw", cutoff(now, raw.seconds), raw.text)
    kept = horizons.read_horizons(conn)
    for partition in partitions.list_sample_partitions(conn):
        if partition.day + timedelta(days=1) > limit:
            continue
        began = time.monotonic()
        rows = _rows_of(conn, partition, kept)
        if _without_lock_wait(partitions.drop_partition, conn, partition) is False:
            continue
        report.raw_partitions_dropped += 1
        report.raw_rows_dropped += rows
        report.raw_bytes_dropped += partition.bytes
        log.info(
            "dropped raw partition %s: %d rows, %s, in %.3f s",
            partition.name,
            rows,
            _mb(partition.bytes),
            time.monotonic() - began,
        )


def _rows_of(
    conn: psycopg.Connection,
    partition: partitions.SamplePartition,
    kept: dict[str, horizons.Horizon],
) -> int:
    """How many samples a day's partition holds, for the log and the report.

    Counted from the rollups at the coarsest granularity still kept for that day
    (a few rows per series) rather than by reading the partition about to be
    dropped: at 2,000 samples/s that count(*) would read 9 GB a day. Where every
    granularity is gone that far back, count(*) it is.
    """
    start = datetime(partition.day.year, partition.day.month, partition.day.day, tzinfo=UTC)
    for name, seconds in reversed(GRANULARITIES.items()):
        horizon = kept.get(name)
        if horizon is None or horizon.dropped_before <= start:
            return partitions.rolled_up_count(conn, partition.day, seconds)
    return partitions.count_rows(conn, partition.name)


def _without_lock_wait(step, conn: psycopg.Connection, *args: Any) -> Any:
    """The step's result, or False when a long transaction kept its lock away (next pass)."""
    try:
        return step(conn, *args)
    except psycopg.errors.LockNotAvailable:
        log.warning(
            "%s %s: a long transaction holds samples; left to the next pass", step.__name__, args[0]
        )
        return False


def _rollups(
    conn: psycopg.Connection,
    report: PassReport,
    rollups: dict[str, retention.Keep],
    now: datetime,
) -> None:
    keys = horizons.list_series_keys(conn)
    per_row = horizons.rollup_bytes_per_row(conn)
    for name, keep in rollups.items():
        if keep.seconds is None:
            continue
        before = cutoff(now, keep.seconds)
        horizons.advance_horizon(conn, name, before, keep.text)
        began, rows = time.monotonic(), 0
        for key in keys:
            rows += horizons.delete_rollups_before(conn, key, GRANULARITIES[name], before)
        report.rollup_rows_dropped[name] = rows
        report.rollup_bytes_dropped += round(rows * per_row)
        elapsed = time.monotonic() - began
        log.info(
            "rollups %s (kept %s): %d rows before %s deleted over %d series in %.2f s "
            "(%.0f rows/s)",
            name,
            keep.text,
            rows,
            before.isoformat(),
            len(keys),
            elapsed,
            rows / max(elapsed, 1e-9),
        )
    if any(report.rollup_rows_dropped.values()):
        horizons.vacuum_rollups(conn)


class Maintainer:
    """One pass, or a pass every `every` seconds until stop(); reconnects after a lost database."""

    def __init__(self, settings: dict[str, Any], every: float | None = None) -> None:
        self.settings, self.every = settings, every
        self.stopping = threading.Event()
        self.passes: list[PassReport] = []

    def stop(self, *_args: Any) -> None:
        """Finish the step in flight, then leave (SIGTERM, SIGINT)."""
        self.stopping.set()

    def _beat(self) -> None:
        path = self.settings.get("MAINTAIN_HEARTBEAT_PATH")
        if path:
            try:
                Path(path).touch()
            except OSError as error:
                log.warning("cannot touch TSMETRICS_MAINTAIN_HEARTBEAT_PATH: %s", error.strerror)

    def run(self) -> int:
        """The exit code: 0, or 1 when a single pass could not reach the database."""
        began = time.monotonic()
        while not self.stopping.is_set():
            try:
                with autocommit_connection(self.settings, "tsmetrics-maintain") as conn:
                    self.passes.append(run_pass(conn, self.settings))
                self._beat()
            except psycopg.OperationalError as error:
                log.error("database unavailable (%s)", first_line(error))
                if self.every is None:
                    return 1
            if self.every is None:
                break
            self.stopping.wait(self.every)
        done = [p for p in self.passes if not p.skipped]
        log.info(
            "maintain stopped after %.1f s: %d passes (%d skipped), %d raw partitions and "
            "%d rows dropped, %d rollup rows deleted",
            time.monotonic() - began,
            len(self.passes),
            len(self.passes) - len(done),
            sum(p.raw_partitions_dropped for p in done),
            sum(p.raw_rows_dropped for p in done),
            sum(sum(p.rollup_rows_dropped.values()) for p in done),
        )
        return 0
