"""Read-path benchmark: uncached and cached GET /metrics against the sketch's own query, bare.

30 days at 5m (8,640 buckets) of `feature_a`/`response_time`, over HTTP through
gunicorn with a bearer token (production mode), in one run, interleaved in
blocks so that machine noise hits every side alike:

- `uncached`: TSMETRICS_CACHE=off, so every request reads the rollups;
- `cached`: the cache on, so every request after the first is a body-cache hit;
- `sketch`: the sketch's query, fetched bare with psycopg (no HTTP, no JSON) from
  `sketch_cagg`, a plain table shaped and indexed like its 5-minute continuous
  aggregate and filled with the same 8,640 buckets.

With `--base DIR` (a git worktree of an older commit, e.g. made by
`git worktree add /tmp/rp-base <commit>`) the same two servers run that
commit's code too, so before and after are measured side by side.

    .venv/bin/python bench/bench_read_path.py [--requests 400] [--base /tmp/rp-base]
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

import psycopg
from bench_metrics_api import DB_30
from calls import ABTEST, METRIC, access, http_call, last_window, metrics_path
from common import (
    DEFAULT_ADMIN_URL,
    HttpClient,
    compare,
    gunicorn,
    log,
    print_summary,
    save_results,
)
from datasets import ensure_demo_db, iso

from tsmetrics.store import catalogue

SKETCH_TABLE = """
DROP TABLE IF EXISTS sketch_cagg;
CREATE TABLE sketch_cagg (
    bucket_start timestamptz, test_name text, metric_name text,
    avg_value double precision, min_value double precision, max_value double precision, unit text
);
"""
# The indexes TimescaleDB gives a continuous aggregate grouped by these columns.
SKETCH_INDEXES = (
    "CREATE INDEX ON sketch_cagg (test_name, bucket_start DESC)",
    "CREATE INDEX ON sketch_cagg (metric_name, bucket_start DESC)",
    "CREATE INDEX ON sketch_cagg (bucket_start DESC)",
)
# The sketch's query, word for word.
SKETCH_QUERY = (
    "SELECT bucket_start, avg_value, min_value, max_value, unit FROM sketch_cagg"
    " WHERE test_name = %s AND metric_name = %s AND bucket_start >= %s AND bucket_start <= %s"
    " ORDER BY bucket_start LIMIT 10001 OFFSET 0"
)


def fill_sketch_table(conn: psycopg.Connection, start: datetime, end: datetime) -> int:
    """`sketch_cagg` made afresh with the window's 5-minute buckets (all variants); their count."""
    abtest = catalogue.get_abtest(conn, ABTEST)
    metric = catalogue.get_metric(conn, METRIC)
    conn.execute(SKETCH_TABLE)
    conn.execute(
        "INSERT INTO sketch_cagg SELECT bucket, %(test)s, %(metric)s, (total / n)::float8,"
        " lo, hi, %(unit)s FROM rollups WHERE abtest_id = %(abtest_id)s"
        " AND metric_id = %(metric_id)s AND bucket_seconds = 300 AND variant = -1"
        " AND bucket >= %(start)s AND bucket < %(end)s",
        {
            "test": ABTEST,
            "metric": METRIC,
            "unit": metric.unit,
            "abtest_id": abtest.id,
            "metric_id": metric.id,
            "start": start,
            "end": end,
        },
    )
    for statement in SKETCH_INDEXES:
        conn.execute(statement)
    conn.execute("VACUUM ANALYZE sketch_cagg")
    return conn.execute("SELECT count(*) FROM sketch_cagg").fetchone()[0]


def sketch_call(conn: psycopg.Connection, start: datetime, end: datetime) -> Callable[[], object]:
    """The sketch's query on a plain autocommit connection, every row fetched."""
    last = end.replace(microsecond=0)  # the sketch's end is inclusive; no bucket starts at `end`
    params = [ABTEST, METRIC, start, last]
    return lambda: conn.execute(SKETCH_QUERY, params).fetchall()


def _servers(
    stack: ExitStack, url: str, roots: dict[str, Path], env: dict[str, str], headers: dict
) -> dict[str, HttpClient]:
    """A gunicorn per (code, cache setting), each with a keep-alive client."""
    ports = {}
    for code, root in roots.items():
        for cache in ("off", "on"):
            label = f"readpath-{code}-{cache}"
            server_env = {**env, "TSMETRICS_CACHE": cache}
            server = stack.enter_context(gunicorn(url, label=label, env=server_env, root=root))
            ports[f"{code} {'uncached' if cache == 'off' else 'cached'}"] = server.port
    # Connected once every server is up, so that none sits idle past gunicorn's keepalive.
    clients = {name: HttpClient(port, headers) for name, port in ports.items()}
    for client in clients.values():
        stack.callback(client.close)
    return clients


def _same_answers(clients: dict[str, HttpClient], path: str) -> dict[str, bool]:
    """Whether every server answers the same JSON for `path`, and the very same bytes."""
    bodies = [client.get(path)[1] for client in clients.values()]
    return {
        "same_numbers": all(json.loads(body) == json.loads(bodies[0]) for body in bodies),
        "same_bytes": all(body == bodies[0] for body in bodies),
    }


def bench(url: str, requests: int, base: Path | None) -> dict:
    """Every series of calls, interleaved; figures and ratios to the sketch's query."""
    start, end = last_window(url, 30)
    path = metrics_path(start, end, "5m")
    roots = {"new": Path(__file__).resolve().parent.parent} | ({"base": base} if base else {})
    env, headers = access(url, "token")
    with ExitStack() as stack:
        conn = stack.enter_context(psycopg.connect(url, autocommit=True))
        count = fill_sketch_table(conn, start, end)
        log(f"sketch_cagg: {count} buckets, {iso(start)} .. {iso(end)}")
        clients = _servers(stack, url, roots, env, headers)
        same = _same_answers(clients, path)
        calls = {name: http_call(client, path, count) for name, client in clients.items()}
        calls["sketch"] = sketch_call(conn, start, end)
        load_before = _load()
        log(f"{len(calls)} series of {requests} calls, interleaved; load {load_before}")
        stats = compare(calls, total=requests)
        load_after = _load()
    sketch = stats["sketch"].p50
    result = {
        "path": path,
        "buckets": count,
        **same,
        "load_average": {"before": load_before, "after": load_after},
        **{name: asdict(value) for name, value in stats.items()},
        "ratio_to_sketch": {name: value.p50 / sketch for name, value in stats.items()},
    }
    for name, value in stats.items():
        log(f"{name}: {value}; {value.p50 / sketch:.2f}x the sketch's query at p50")
    return result


def _load() -> str:
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


def summary(result: dict) -> list[str]:
    """One line per series, with the goals."""
    ratios = result["ratio_to_sketch"]
    lines = [
        f"{result['buckets']} buckets; load average {result['load_average']['before']} before, "
        f"{result['load_average']['after']} after; every server gave the same numbers: "
        f"{result['same_numbers']}, the same bytes: {result['same_bytes']}",
        f"sketch's query, bare psycopg: p50 {result['sketch']['p50']:.2f} ms",
    ]
    for name, ratio in ratios.items():
        if name == "sketch":
            continue
        goal = ""
        if name == "new uncached":
            goal = f" (goal <= 1.0: {'met' if ratio <= 1.0 else 'MISSED'})"
        elif name == "new cached" and "base cached" in ratios:
            met = ratio <= ratios["base cached"] * 1.05
            goal = f" (goal: no worse than base {ratios['base cached']:.2f}: "
            goal += f"{'met' if met else 'MISSED'})"
        lines.append(
            f"{name}: p50 {result[name]['p50']:.2f} ms, p99 {result[name]['p99']:.2f} ms, "
            f"{ratio:.2f}x the sketch's query{goal}"
        )
    return lines


def main() -> None:
    """Run the benchmark, print the summary, save the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL, help="server to create DBs on")
    parser.add_argument("--requests", type=int, default=400, help="timed requests per series")
    parser.add_argument("--base", type=Path, help="a worktree of the code to compare with")
    arguments = parser.parse_args()
    url, _fresh = ensure_demo_db(arguments.admin_url, DB_30, 30)
    result = bench(url, arguments.requests, arguments.base)
    out = save_results("read_path", result)
    print_summary(summary(result), out)


if __name__ == "__main__":
    main()
