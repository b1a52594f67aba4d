"""Distribution metrics (issue 13): database size, /metrics with quantiles, consumer rate.

Each step is a ratio against a baseline measured in the same run:

- `size`: two 30-day demo databases seeded with the same data and `now`, one
  with distributions on for response_time, cpu_usage and ram_usage (the demo's
  default), one with every metric off; sizes per table.
- `api`: GET /metrics over 30 days at 5m through gunicorn, with
  `quantiles=p50,p95,p99` and without, alternating, on the `on` database.
- `ingest`: the consumer's live rate (bench_ingest's workload) with
  distributions on for three of the four demo metrics vs all off, same data.

Databases are kept for the next run (--recreate starts them afresh).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

import psycopg
from calls import last_window, metrics_path, serving
from common import (
    DEFAULT_ADMIN_URL,
    HttpClient,
    change,
    compare,
    create_database,
    database_exists,
    database_url,
    drop_database,
    log,
    print_summary,
    save_results,
)
from datasets import connector
from ingest_consumer import bench_consumer
from ingest_workload import prepare

from tsmetrics.demo.seed import ensure_catalogue, seed

DB_ON, DB_OFF, DB_INGEST = "tsm_quantiles_on", "tsm_quantiles_off", "tsm_quantiles_ingest"
# Both databases get the very same samples: the seed's data depends on its range only.
NOW = datetime(2026, 12, 1, tzinfo=UTC)
STEPS = ("size", "api", "ingest")
# Per table, its partitions (samples has one a day) counted in: each relation is
# named by the table at the root of its partition tree.
_TABLE_SIZES = """
WITH RECURSIVE tree(root, oid) AS (
    SELECT c.oid, c.oid FROM pg_class c
    WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
      AND NOT c.relispartition
  UNION ALL
    SELECT tree.root, i.inhrelid FROM tree JOIN pg_inherits i ON i.inhparent = tree.oid
)
SELECT root::regclass::text, sum(pg_relation_size(c.oid))::bigint,
       sum(coalesce(pg_total_relation_size(c.reltoastrelid), 0))::bigint,
       sum(pg_indexes_size(c.oid))::bigint, sum(pg_total_relation_size(c.oid))::bigint
FROM tree JOIN pg_class c ON c.oid = tree.oid
GROUP BY root
ORDER BY 5 DESC
"""


def ensure_seeded(admin: str, name: str, days: int, distributions: bool) -> tuple[str, float]:
    """The demo's `days` up to NOW, with distributions as asked; seconds the seed took (0: kept)."""
    if database_exists(admin, name):
        return database_url(admin, name), 0.0
    url = create_database(admin, name)
    with psycopg.connect(url) as conn:
        ensure_catalogue(conn, days, NOW)
        conn.execute("UPDATE metrics SET distribution = %s AND kind = 'mean'", [distributions])
        conn.commit()
    report = seed(connector(url), days=days, now=NOW, out=lambda line: log(f"{name}: {line}"))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return url, report.seconds


def table_sizes(url: str) -> dict[str, dict[str, int]]:
    """Per table: heap, TOAST, indexes and total bytes; and the database's size."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(_TABLE_SIZES).fetchall()
        database = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    sizes = {
        name: {"heap": heap, "toast": toast, "indexes": indexes, "total": total}
        for name, heap, toast, indexes, total in rows
    }
    sizes["(database)"] = {"total": database}
    return sizes


def bench_size(admin: str, days: int) -> dict:
    """Seed both databases and compare their sizes per table."""
    on_url, on_seconds = ensure_seeded(admin, DB_ON, days, True)
    off_url, off_seconds = ensure_seeded(admin, DB_OFF, days, False)
    on, off = table_sizes(on_url), table_sizes(off_url)
    log(f"seed seconds: on {on_seconds:.1f}, off {off_seconds:.1f} (0: database kept)")
    for name in ("samples", "rollups", "series", "(database)"):
        ratio = on[name]["total"] / off[name]["total"]
        log(f"{name}: on {on[name]} off {off[name]} ratio {ratio:.3f}")
    return {"days": days, "on": on, "off": off, "seed_seconds": [on_seconds, off_seconds]}


def bench_api(admin: str, requests: int, auth: str) -> dict:
    """30 days at 5m: with quantiles=p50,p95,p99 vs without, same server, alternating."""
    url = database_url(admin, DB_ON)
    start, end = last_window(url, 30)
    plain = metrics_path(start, end, "5m")
    with_q = plain + "&quantiles=p50,p95,p99"
    with serving(url, auth, "quantiles") as (server, headers):
        client = HttpClient(server.port, headers)
        calls = {}
        for name, path in (("without", plain), ("with", with_q)):
            status, body = client.get(path)
            if status != 200:
                raise RuntimeError(f"GET {path}: {status} {body[:300]!r}")

            def call(path=path) -> None:
                status, _ = client.get(path)
                if status != 200:
                    raise RuntimeError(f"GET {path}: {status}")

            calls[name] = call
        stats = compare(calls, total=requests, block=10, warmup=5)
        client.close()
    ratio = stats["with"].p50 / stats["without"].p50
    log(f"api: p50 with {stats['with'].p50:.1f} ms, without {stats['without'].p50:.1f} ms")
    return {name: vars(value) for name, value in stats.items()} | {"ratio_p50": ratio}


def bench_ingest(admin: str, samples: int, batch_size: int, rounds: int) -> dict:
    """The consumer's live rate, distributions off then on, `rounds` times, same batches."""
    drop_database(admin, DB_INGEST)
    url = create_database(admin, DB_INGEST)
    try:
        with psycopg.connect(url) as conn:
            ensure_catalogue(conn, days=1)
        bodies, total, _ = prepare(url, samples, batch_size)
        log(f"ingest: {total:,} samples in {len(bodies):,} messages of <= {batch_size}")
        rates: dict[str, list[float]] = {"off": [], "on": []}
        for _ in range(rounds):
            for mode in ("off", "on"):
                with psycopg.connect(url) as conn:
                    # The demo's default: every metric but the counter (add_to_cart).
                    conn.execute(
                        "UPDATE metrics SET distribution = %s AND kind = 'mean'", [mode == "on"]
                    )
                run = bench_consumer(url, bodies, total, "live")
                rates[mode].append(run["rate"])
                log(f"ingest: distributions {mode}: {run['rate']:,.0f} samples/s")
    finally:
        drop_database(admin, DB_INGEST)
    ratio = sum(rates["on"]) / sum(rates["off"])
    return {"samples": total, "batch_size": batch_size, "rates": rates, "ratio": ratio}


def main() -> None:
    """Run the steps asked for and print a summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("steps", nargs="*", choices=STEPS, default=list(STEPS))
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--auth", choices=("on", "off"), default="off")
    parser.add_argument("--recreate", action="store_true", help="drop the databases first")
    parser.add_argument("--samples", type=int, default=200_000, help="per consumer run")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if args.recreate:
        for name in (DB_ON, DB_OFF):
            drop_database(args.admin_url, name)
    results, summary = {}, []
    if "size" in args.steps:
        results["size"] = size = bench_size(args.admin_url, args.days)
        for name in ("samples", "rollups", "(database)"):
            on, off = size["on"][name]["total"], size["off"][name]["total"]
            summary.append(
                f"{name}: {on / 1e6:,.0f} MB with distributions, {off / 1e6:,.0f} MB without"
                f" ({change(off, on):+.1f}%)"
            )
    if "api" in args.steps:
        results["api"] = api = bench_api(args.admin_url, args.requests, args.auth)
        summary.append(
            f"/metrics 30 days at 5m, p50 with quantiles / without: {api['ratio_p50']:.2f}"
        )
    if "ingest" in args.steps:
        results["ingest"] = ingest = bench_ingest(
            args.admin_url, args.samples, args.batch_size, args.rounds
        )
        summary.append(
            f"consumer live rate, distributions on (3 of 4 metrics) / off: {ingest['ratio']:.2f}"
        )
    print_summary(summary, save_results("quantiles", results))


if __name__ == "__main__":
    main()
