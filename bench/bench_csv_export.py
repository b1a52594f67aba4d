"""The streamed CSV export of GET /metrics under gunicorn: peak RSS, rows/s, first byte.

One database with 120 days of one-minute buckets (a sample a minute, written
through the real insert path), one gunicorn worker (one thread) per server. For
the cache on (the default) and off, on a fresh server each: the peak RSS
(VmHWM) of the worker after small exports (6 days: 8,640 rows, one page), then
after 30-day exports (43,200 rows, five pages), then after 120-day ones
(172,800 rows); the 30-day export's rows/s and time to first byte, against the
same buckets read as JSON pages (skip = 0, 10,000, ...) in the same run.

    .venv/bin/python bench/bench_csv_export.py [--rounds 5] [--drop]
"""

from __future__ import annotations

import argparse
import http.client
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
from calls import access
from common import (
    DEFAULT_ADMIN_URL,
    HttpClient,
    create_database,
    database_exists,
    database_url,
    drop_database,
    gunicorn,
    log,
    print_summary,
    save_results,
)

from tsmetrics.store import catalogue
from tsmetrics.store.samples import SampleColumns, insert_samples

DB = "tsm_bench_csv"
END = datetime(2025, 11, 1, tzinfo=UTC)
DAYS = 30
SEEDED_DAYS = 120
PAGE = 10_000


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _path(days: int, extra: str = "") -> str:
    start = END - timedelta(days=days)
    return (
        f"/metrics?abTestName=export&metricName=latency&granularity=1m"
        f"&start={_iso(start)}&end={_iso(END)}{extra}"
    )


def ensure_database(admin: str) -> str:
    """The database with 120 days of a sample a minute, made on first use."""
    if database_exists(admin, DB):
        return database_url(admin, DB)
    url = create_database(admin, DB)
    log(f"{DB}: seeding {SEEDED_DAYS} days of a sample a minute through insert_samples")
    with psycopg.connect(url) as conn:
        test = catalogue.ensure_abtest(conn, "export", variants=["control", "treatment"])
        metric = catalogue.ensure_metric(conn, "latency", unit="ms")
        minutes = SEEDED_DAYS * 1440
        start = (END - timedelta(days=SEEDED_DAYS)).timestamp()
        values = np.round(np.random.default_rng(15).normal(180, 40, minutes), 3)
        rows = [
            (start + 60 * m + 7, float(values[m]), test.id, metric.id, m % 2)
            for m in range(minutes)
        ]
        insert_samples(conn, SampleColumns.from_rows(rows))
    return url


def _peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")


def export(port: int, path: str, headers: dict[str, str]) -> tuple[int, float, float]:
    """(rows, seconds to the first body byte, seconds in all) of one CSV export."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    began = time.perf_counter()
    conn.request("GET", path, headers=headers | {"Accept": "text/csv"})
    response = conn.getresponse()
    if response.status != 200:
        raise RuntimeError(f"GET {path}: {response.status} {response.read()[:300]!r}")
    first = response.read(1)
    first_byte = time.perf_counter() - began
    body = first + response.read()
    total = time.perf_counter() - began
    conn.close()
    return body.count(b"\n") - 1, first_byte, total


def json_pages(client: HttpClient, days: int) -> tuple[int, float]:
    """(buckets, seconds) to read the same range as JSON pages of 10,000."""
    began, count, skip = time.perf_counter(), 0, 0
    while True:
        status, body = client.get(_path(days, f"&skip={skip}"))
        if status != 200:
            raise RuntimeError(f"JSON page at skip {skip}: {status}")
        found = body.count(b'"t":')
        count += found
        if found < PAGE:
            return count, time.perf_counter() - began
        skip += PAGE


def run(url: str, cache: str, rounds: int) -> dict:
    """Peaks and speeds on a fresh one-worker server with the cache on or off."""
    env, headers = access(url, "on")  # bearer tokens, as in production
    env |= {"TSMETRICS_CACHE": cache, "TSMETRICS_THREADS": "1"}
    with gunicorn(url, workers=1, label=f"csv-{cache}", env=env) as server:
        (worker,) = server.worker_pids()
        started = _peak_mb(worker)
        for _ in range(rounds):
            small_rows, _, _ = export(server.port, _path(6), headers)
        small = _peak_mb(worker)
        figures = [export(server.port, _path(DAYS), headers) for _ in range(rounds)]
        big = _peak_mb(worker)
        longest, _, _ = export(server.port, _path(SEEDED_DAYS), headers)
        export(server.port, _path(SEEDED_DAYS), headers)
        huge = _peak_mb(worker)
        client = HttpClient(server.port, headers)
        pages = [json_pages(client, DAYS) for _ in range(rounds)]
        client.close()
    rows = figures[0][0]
    csv_seconds = float(np.median([total for _, _, total in figures]))
    json_seconds = float(np.median([seconds for _, seconds in pages]))
    result = {
        "cache": cache,
        "peak_after_start_mb": started,
        "peak_after_small_mb": small,
        "peak_after_30_days_mb": big,
        "peak_after_120_days_mb": huge,
        "growth_mb": big - small,
        "rows_120_days": longest,
        "small_rows": small_rows,
        "rows": rows,
        "json_buckets": pages[0][0],
        "first_byte_ms": float(np.median([first for _, first, _ in figures])) * 1000,
        "csv_seconds": csv_seconds,
        "csv_rows_per_s": rows / csv_seconds,
        "json_pages_seconds": json_seconds,
        "json_buckets_per_s": pages[0][0] / json_seconds,
    }
    log(f"cache {cache}: {result}")
    return result


def main() -> None:
    """Measure with the cache on and off; print and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    args = parser.parse_args()
    url = ensure_database(args.admin_url)
    try:
        results = {cache: run(url, cache, args.rounds) for cache in ("on", "off")}
    finally:
        if args.drop:
            drop_database(args.admin_url, DB)
    lines = [
        f"cache {r['cache']}: worker peak RSS {r['peak_after_small_mb']:.1f} MB after "
        f"{r['small_rows']:,}-row exports, {r['peak_after_30_days_mb']:.1f} MB after the "
        f"{r['rows']:,}-row 30-day export (+{r['growth_mb']:.1f} MB), "
        f"{r['peak_after_120_days_mb']:.1f} MB after the {r['rows_120_days']:,}-row 120-day one; "
        f"{r['csv_rows_per_s']:,.0f} rows/s as CSV vs {r['json_buckets_per_s']:,.0f} buckets/s "
        f"as JSON pages (x{r['csv_rows_per_s'] / r['json_buckets_per_s']:.2f}); first byte "
        f"{r['first_byte_ms']:.0f} ms of {r['csv_seconds'] * 1000:.0f} ms"
        for r in results.values()
    ]
    print_summary(lines, save_results("csv_export", results))


if __name__ == "__main__":
    main()
