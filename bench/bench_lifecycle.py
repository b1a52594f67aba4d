"""Data lifecycle benchmark: dropping a day's partition against DELETE, ingestion into the
partitioned table against the unpartitioned one, and bytes on disk per raw sample and rollup row.

    .venv/bin/python bench/bench_lifecycle.py [--steps drop,retention,ingest,capacity] [--rounds 3]

Uses the machine's PostgreSQL (TSMETRICS_BENCH_ADMIN_URL) and RabbitMQ
(TSMETRICS_BENCH_BROKER_URL) with databases of its own, removed at the end. Every
figure is a ratio against a baseline measured in the same run, rounds alternating.
"""

from __future__ import annotations

import argparse
import re
import time
from datetime import UTC, date, datetime, timedelta

import numpy as np
import psycopg
from bench_ingest import machine
from common import DEFAULT_ADMIN_URL, create_database, drop_database, log, save_results
from ingest_consumer import bench_consumer, write_path
from ingest_workload import prepare

from tsmetrics.demo.seed import ensure_catalogue
from tsmetrics.granularity import GRANULARITIES
from tsmetrics.retention import DEFAULT_RAW, DEFAULT_ROLLUPS, parse_raw, parse_rollups
from tsmetrics.store import partitions, schema
from tsmetrics.store.samples import SampleColumns, binary_copy_payload, insert_samples

DAY_ROWS = 345_600  # the demo's rate: 4 samples/s
COPY = "COPY {} (time, value, abtest_id, metric_id, variant) FROM STDIN (FORMAT BINARY)"
UNPARTITION = re.search(
    r"DO \$\$.*?\$\$;", (schema.MIGRATIONS_DIR / "0002_timescaledb.sql").read_text(), re.S
)[0]


def _day_rows(day: date, seed: int) -> SampleColumns:
    rng = np.random.default_rng(seed)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
    seconds = np.sort(rng.uniform(start, start + 86400, DAY_ROWS))
    values = np.round(rng.gamma(4, 30, DAY_ROWS), 3)
    return SampleColumns.from_seconds(
        seconds, values, rng.integers(1, 11, DAY_ROWS), rng.integers(1, 6, DAY_ROWS), 0
    )


def _copy(conn: psycopg.Connection, table: str, rows: SampleColumns) -> None:
    with conn.cursor() as cur, cur.copy(COPY.format(table)) as copy:
        copy.write(binary_copy_payload(rows))


def bench_drop(url: str, rounds: int) -> dict:
    """Per round: two days in both layouts; DELETE one day from the plain table, drop its own."""
    results = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE samples_flat (LIKE samples INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        )
        conn.execute("CREATE INDEX samples_flat_time_brin ON samples_flat USING brin (time)")
        for round_ in range(rounds):
            day = date(2026, 1, 5) + timedelta(days=2 * round_)
            partitions.ensure_days(conn, [day, day + timedelta(days=1)])
            for offset in (0, 1):
                rows = _day_rows(day + timedelta(days=offset), 10 * round_ + offset)
                with conn.transaction():
                    _copy(conn, "samples", rows)
                    _copy(conn, "samples_flat", rows)
            conn.execute("VACUUM ANALYZE samples_flat")
            conn.execute("VACUUM ANALYZE samples")
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            part = next(p for p in partitions.list_sample_partitions(conn) if p.day == day)
            began = time.perf_counter()
            counted = partitions.count_rows(conn, part.name)
            count_s = time.perf_counter() - began
            delete = _timed_transaction(
                conn,
                "DELETE FROM samples_flat WHERE time >= %s AND time < %s",
                [start, start + timedelta(days=1)],
            )
            # The statements of partitions.drop_partition, timed apart from their commit.
            drop = _timed_transaction(conn, f"DROP TABLE {part.name}")
            assert delete["rows"] == counted == DAY_ROWS
            results.append(
                {"delete": delete, "drop": drop, "count_s": count_s, "bytes": part.bytes}
            )
            log(
                f"round {round_ + 1}: DELETE of {counted:,} rows {delete['total'] * 1000:,.1f} ms "
                f"(commit {delete['commit'] * 1000:,.1f}); DROP of their partition "
                f"{drop['total'] * 1000:,.1f} ms (statement {drop['statement'] * 1000:,.1f}, "
                f"commit {drop['commit'] * 1000:,.1f}): {drop['total'] / delete['total']:.2%}; "
                f"the pass's exact count(*) {count_s * 1000:,.1f} ms"
            )
            conn.execute("TRUNCATE samples_flat")
    ratios = {
        "total": float(np.median([r["drop"]["total"] / r["delete"]["total"] for r in results])),
        "statement": float(
            np.median([r["drop"]["statement"] / r["delete"]["statement"] for r in results])
        ),
    }
    log(
        f"DROP/DELETE, median of {rounds} rounds: {ratios['total']:.2%} with commits, "
        f"{ratios['statement']:.2%} statements alone (a DROP's commit is one WAL flush)"
    )
    return {"rounds": results, "ratios": ratios}


def bench_retention(url: str, days: int, rounds: int) -> dict:
    """Retention as it runs: each round writes a new day, then removes the oldest of the
    `days` held, by DELETE from an unpartitioned copy and by DROP of its partition.

    `bench_drop` deletes a day just written from a two-day table: rows in shared
    buffers, a best case for DELETE. Retention removes the oldest day of a table
    holding every retained day, written long before and evicted since (here
    `days` days of both layouts, 2 x 8 x 18 MB against 128 MB of shared buffers).
    """
    first = date(2026, 3, 1)
    results = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE samples_rolling (LIKE samples INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        )
        conn.execute("CREATE INDEX samples_rolling_time_brin ON samples_rolling USING brin (time)")

        def write(day: date, seed: int) -> None:
            partitions.ensure_days(conn, [day])
            rows = _day_rows(day, seed)
            with conn.transaction():
                _copy(conn, "samples", rows)
                _copy(conn, "samples_rolling", rows)

        for offset in range(days):
            write(first + timedelta(days=offset), 1000 + offset)
        conn.execute("VACUUM ANALYZE samples_rolling")
        conn.execute("VACUUM ANALYZE samples")
        for round_ in range(rounds):
            oldest = first + timedelta(days=round_)
            write(oldest + timedelta(days=days), 2000 + round_)  # today's data comes in
            start = datetime(oldest.year, oldest.month, oldest.day, tzinfo=UTC)
            part = next(p for p in partitions.list_sample_partitions(conn) if p.day == oldest)
            delete = _timed_transaction(
                conn,
                "DELETE FROM samples_rolling WHERE time >= %s AND time < %s",
                [start, start + timedelta(days=1)],
            )
            drop = _timed_transaction(conn, f"DROP TABLE {part.name}")
            assert delete["rows"] == DAY_ROWS
            results.append({"delete": delete, "drop": drop})
            log(
                f"retention round {round_ + 1}: DELETE of the oldest of {days} days "
                f"{delete['total'] * 1000:,.1f} ms (commit {delete['commit'] * 1000:,.1f}); "
                f"DROP {drop['total'] * 1000:,.1f} ms (statement {drop['statement'] * 1000:,.1f},"
                f" commit {drop['commit'] * 1000:,.1f}): {drop['total'] / delete['total']:.2%}"
            )
        conn.execute("DROP TABLE samples_rolling")
    ratio = float(np.median([r["drop"]["total"] / r["delete"]["total"] for r in results]))
    log(f"retention DROP/DELETE, median of {rounds} rounds: {ratio:.2%} with commits")
    return {"days": days, "rounds": results, "ratio": ratio}


def _timed_transaction(conn: psycopg.Connection, statement: str, params=None) -> dict:
    """Seconds of BEGIN + lock_timeout, of the statement, and of COMMIT; rows it touched."""
    began = time.perf_counter()
    conn.execute("BEGIN")
    conn.execute("SET LOCAL lock_timeout = '5s'")
    run = time.perf_counter()
    rows = conn.execute(statement, params).rowcount
    done = time.perf_counter()
    conn.execute("COMMIT")
    end = time.perf_counter()
    return {"total": end - began, "statement": done - run, "commit": end - done, "rows": rows}


def bench_ingest(partitioned: str, flat: str, samples: int, rounds: int) -> dict:
    """The consumer's live rate and insert_samples alone into each layout, rounds alternating."""
    bodies, total, columns = prepare(partitioned, samples, 1000)
    rates: dict[str, dict[str, list[float]]] = {
        layout: {"live": [], "write_path": []} for layout in ("flat", "partitioned")
    }
    for round_ in range(rounds):
        for layout, url in (("flat", flat), ("partitioned", partitioned)):
            log(f"ingest round {round_ + 1}, {layout}")
            rates[layout]["live"].append(bench_consumer(url, bodies, total, "live")["rate"])
            rates[layout]["write_path"].append(write_path(url, columns, 100_000))
    # Each round's partitioned run against the unpartitioned one just before it: the
    # median of those ratios, since the machine's load swings from minute to minute.
    ratios = {
        kind: float(
            np.median(np.asarray(rates["partitioned"][kind]) / np.asarray(rates["flat"][kind]))
        )
        for kind in ("live", "write_path")
    }
    log(
        f"partitioned/unpartitioned, median of {rounds} rounds: live {ratios['live']:.1%}, "
        f"insert_samples alone {ratios['write_path']:.1%}"
    )
    return {"samples": total, "rates": rates, "ratios": ratios}


def bench_capacity(url: str, day_bytes: int | None) -> dict:
    """Bytes per raw sample (a full day's partition) and per rollup row at each granularity."""
    days, series_metrics = 30, 4
    now = datetime.now(UTC).replace(second=0, microsecond=0).timestamp()
    minutes = np.arange(now - days * 86400, now, 60.0)
    rng = np.random.default_rng(3)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE samples, rollups, series")
        for metric in range(1, series_metrics + 1):
            for variant in (0, 1):
                values = np.round(rng.gamma(4, 30, len(minutes)), 3)
                insert_samples(
                    conn, SampleColumns.from_seconds(minutes + variant, values, 1, metric, variant)
                )
        if day_bytes is None:
            day = date(2026, 1, 3)
            partitions.ensure_days(conn, [day])
            _copy(conn, "samples", _day_rows(day, 99))
            day_bytes = next(
                p.bytes for p in partitions.list_sample_partitions(conn) if p.day == day
            )
        per_row = {}
        for name, seconds in GRANULARITIES.items():
            table = f"capacity_{seconds}"
            conn.execute(
                f"CREATE TABLE {table} AS SELECT * FROM rollups WHERE bucket_seconds = {seconds}"
                " ORDER BY abtest_id, metric_id, variant, bucket"
            )
            conn.execute(
                f"ALTER TABLE {table} ADD PRIMARY KEY"
                " (abtest_id, metric_id, bucket_seconds, variant, bucket)"
                " INCLUDE (n, lo, hi, total, total_sq)"
            )
            conn.execute(f"VACUUM ANALYZE {table}")
            size, rows = conn.execute(
                f"SELECT pg_total_relation_size('{table}'), (SELECT count(*) FROM {table})"
            ).fetchone()
            per_row[name] = {"rows": rows, "bytes_per_row": size / rows}
            log(f"rollups {name}: {rows:,} rows, {size / rows:,.1f} bytes per row (heap + key)")
    raw = day_bytes / DAY_ROWS
    log(f"raw samples: {raw:,.1f} bytes per sample (a day's partition with its BRIN index)")
    return {"raw_bytes_per_sample": raw, "rollups": per_row, "table": sizing(raw, per_row)}


def sizing(raw: float, per_row: dict) -> list[str]:
    """README lines: disk at the default retentions for 200 / 2,000 / 20,000 samples/s."""
    kept_days = parse_raw(DEFAULT_RAW).seconds / 86400
    rollups = parse_rollups(DEFAULT_ROLLUPS)
    per_series = 0.0
    for name, keep in rollups.items():
        # `forever`: shown for 5 years of 1d buckets.
        days = keep.seconds / 86400 if keep.seconds else 5 * 365
        per_series += days * 86400 / GRANULARITIES[name] * per_row[name]["bytes_per_row"]
    lines = []
    for rate in (200, 2_000, 20_000):
        day = rate * 86400 * raw
        lines.append(
            f"| {rate:,} | {rate * 86400 / 1e6:,.1f} M | {day / 1e9:,.2f} GB |"
            f" {day * kept_days / 1e9:,.0f} GB | {per_series * 100 / 1e9:,.2f} GB |"
        )
    log("rate | samples/day | raw/day | raw kept 90 d | rollups per 100 series")
    for line in lines:
        log(line)
    return lines


def main() -> None:
    """Run the chosen steps and write bench/out/lifecycle-<time>.json."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", default="drop,retention,ingest,capacity")
    parser.add_argument("--days", type=int, default=8, help="days held by the retention step")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=200_000)
    args = parser.parse_args()
    steps = set(args.steps.split(","))
    names = {"partitioned": "tsm_bench_life_part", "flat": "tsm_bench_life_flat"}
    results: dict = {"machine": machine(), "when": datetime.now(UTC).isoformat(timespec="seconds")}
    for name in names.values():
        drop_database(DEFAULT_ADMIN_URL, name)
    urls = {layout: create_database(DEFAULT_ADMIN_URL, name) for layout, name in names.items()}
    try:
        with psycopg.connect(urls["flat"], autocommit=True) as conn:
            conn.execute(UNPARTITION)  # today's main's layout: one plain table
        for url in urls.values():
            with psycopg.connect(url) as conn:
                ensure_catalogue(conn, days=1)
        if "drop" in steps:
            results["drop"] = bench_drop(urls["partitioned"], args.rounds)
        if "retention" in steps:
            results["retention"] = bench_retention(urls["partitioned"], args.days, args.rounds)
        if "ingest" in steps:
            results["ingest"] = bench_ingest(
                urls["partitioned"], urls["flat"], args.samples, args.rounds
            )
        if "capacity" in steps:
            day_bytes = results["drop"]["rounds"][0]["bytes"] if "drop" in results else None
            results["capacity"] = bench_capacity(urls["partitioned"], day_bytes)
    finally:
        for name in names.values():
            drop_database(DEFAULT_ADMIN_URL, name)
    log(f"results in {save_results('lifecycle', results)}")


if __name__ == "__main__":
    main()
