"""A/B analysis benchmark: comparing 4 metrics over 30 days, sequential against fixed.

Serves a 30-day demo database with gunicorn and times, interleaved over HTTP,
GET /abtest/feature_a/compare for the 4 demo metrics over 30 days with
`inference=sequential` and with `inference=fixed` (the goal: sequential p50 at
most 1.2 x fixed, same run), and one GET /metrics for the same 30 days at 5m;
then the same comparison in-process (no HTTP) and the results over time at
`auto` with the test's own inference (goal: p50 at most 100 ms). The demo's
cpu_usage and ram_usage are analysed by time (paired bucket means), so both
inferences read their paired means; the bucket width each used is reported.
Creates and seeds its database on first use and keeps it (--drop removes it).
Figures go to the terminal and, as JSON, to bench/out/.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict
from datetime import datetime
from urllib.parse import urlencode

import psycopg
from calls import http_call, last_window, metrics_path, serving
from common import (
    DEFAULT_ADMIN_URL,
    HttpClient,
    compare,
    drop_database,
    log,
    print_summary,
    save_results,
    timed,
)
from common import Stats as LatencyStats
from datasets import ensure_demo_db, iso

from tsmetrics.analysis import compare as comparisons

DB = "tsm_bench_analysis"
ABTEST = "feature_a"
METRICS = ("response_time", "cpu_usage", "ram_usage", "add_to_cart")
TARGET_P50_MS = 100.0
TARGET_RATIO = 1.2  # sequential p50 / fixed p50


def compare_path(
    start: datetime, end: datetime, over_time: bool = False, inference: str | None = None
) -> str:
    """The comparison request: 4 metrics, Holm-corrected, over [start, end)."""
    query = [("metric", name) for name in METRICS]
    query += [("start", iso(start)), ("end", iso(end))]
    resource = "compare/over-time" if over_time else "compare"
    if not over_time:
        query.append(("correction", "holm"))
    if inference:
        query.append(("inference", inference))
    return f"/abtest/{ABTEST}/{resource}?{urlencode(query)}"


def _methods(body: dict) -> dict[str, str]:
    """Per metric: the inference, unit and bucket width that made its numbers."""
    out = {}
    for metric in body["metrics"]:
        first = (metric.get("comparisons") or metric.get("treatments"))[0]["inference"]
        width = f" {first['unitSeconds']} s" if first["unitSeconds"] else ""
        out[metric["metric"]] = f"{first['method']}, unit {first['unit']}{width}"
    return out


def _checked_call(client: HttpClient, path: str):
    status, body = client.get(path)
    if status != 200 or len(json.loads(body)["metrics"]) != len(METRICS):
        raise RuntimeError(f"GET {path}: {status} {body[:300]!r}")
    parsed = json.loads(body)
    verdicts = {
        m["metric"]: m.get("comparisons", [{}])[0].get("verdict") for m in parsed["metrics"]
    }

    def call() -> None:
        status, _body = client.get(path)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status}")

    return call, {"verdicts": verdicts, "methods": _methods(parsed)}


def bench(url: str, requests: int, over_time_requests: int, auth: str) -> dict:
    """Server p50s of the comparison (sequential, fixed) and /metrics in one run; over-time."""
    start, end = last_window(url, 30)
    log(f"window {iso(start)} .. {iso(end)}; {requests} requests per series, interleaved")
    with serving(url, auth, "analysis") as (server, headers):
        client = HttpClient(server.port, headers)
        compare_call, seen = _checked_call(client, compare_path(start, end, inference="sequential"))
        fixed_call, seen_fixed = _checked_call(client, compare_path(start, end, inference="fixed"))
        log(f"sequential: {seen}")
        log(f"fixed: {seen_fixed}")
        metrics_call = http_call(client, metrics_path(start, end, "5m"), 8640)
        calls = {"compare": compare_call, "compare_fixed": fixed_call, "metrics": metrics_call}
        stats = compare(calls, total=requests)
        over_time_call, over_seen = _checked_call(client, compare_path(start, end, over_time=True))
        log(f"over-time: {over_seen['methods']}")
        over_time = compare({"over-time": over_time_call}, total=over_time_requests, warmup=3)
        client.close()
    with psycopg.connect(url, autocommit=True) as conn:

        def direct() -> None:
            comparisons.compare(
                conn,
                abtest_name=ABTEST,
                metric_names=list(METRICS),
                start=start,
                end=end,
                inference="sequential",
            )

        direct_stats = LatencyStats.of([timed(direct) for _ in range(requests)])
    result = {
        "window": [iso(start), iso(end)],
        "verdicts": seen["verdicts"],
        "verdicts_fixed": seen_fixed["verdicts"],
        "methods": seen["methods"],
        "over_time_methods": over_seen["methods"],
        "compare_http": asdict(stats["compare"]),
        "compare_fixed_http": asdict(stats["compare_fixed"]),
        "ratio_sequential_to_fixed": stats["compare"].p50 / stats["compare_fixed"].p50,
        "metrics_http": asdict(stats["metrics"]),
        "ratio_compare_to_metrics": stats["compare"].p50 / stats["metrics"].p50,
        "compare_in_process": asdict(direct_stats),
        "over_time_http": asdict(over_time["over-time"]),
        "load_average": os.getloadavg(),
    }
    log(f"compare (sequential) over HTTP: {stats['compare']}")
    log(f"compare (fixed) over HTTP: {stats['compare_fixed']}")
    log(f"/metrics 30 days at 5m over HTTP: {stats['metrics']}")
    log(f"compare in-process (no HTTP): {direct_stats}")
    log(f"over-time (auto granularity) over HTTP: {over_time['over-time']}")
    return result


def summary(result: dict) -> list[str]:
    """The lines of the closing summary."""
    p50 = result["compare_http"]["p50"]
    verdict = "meets" if p50 <= TARGET_P50_MS else "MISSES"
    ratio = result["ratio_sequential_to_fixed"]
    over = result["over_time_http"]["p50"]
    return [
        f"compare, 4 metrics, 30 days, sequential, over HTTP: p50 {p50:.2f} ms, p99 "
        f"{result['compare_http']['p99']:.2f} ms ({verdict} the {TARGET_P50_MS:.0f} ms target)",
        f"compare, the same with fixed: p50 {result['compare_fixed_http']['p50']:.2f} ms;"
        f" ratio sequential / fixed {ratio:.3f}"
        f" ({'meets' if ratio <= TARGET_RATIO else 'MISSES'} the {TARGET_RATIO} target)",
        f"units: {result['methods']}",
        f"/metrics, 30 days at 5m (8,640 buckets), over HTTP: p50 "
        f"{result['metrics_http']['p50']:.2f} ms",
        f"ratio compare / metrics (p50): {result['ratio_compare_to_metrics']:.2f}",
        f"compare in-process: p50 {result['compare_in_process']['p50']:.2f} ms",
        f"over-time, 4 metrics, auto: p50 {over:.2f} ms"
        f" ({'meets' if over <= TARGET_P50_MS else 'MISSES'} the {TARGET_P50_MS:.0f} ms target)",
        f"load average (1, 5, 15 min) at the end: {result['load_average']}",
    ]


def main() -> None:
    """Run the benchmark, print the summary, save the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL, help="server to create DBs on")
    parser.add_argument("--db", default=DB, help="database name (created and seeded if missing)")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per series")
    parser.add_argument("--over-time-requests", type=int, default=30)
    parser.add_argument("--auth", choices=("off", "token"), default="off")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    arguments = parser.parse_args()
    try:
        url, _report = ensure_demo_db(arguments.admin_url, arguments.db, 30)
        result = bench(url, arguments.requests, arguments.over_time_requests, arguments.auth)
    finally:
        if arguments.drop:
            drop_database(arguments.admin_url, arguments.db)
            log(f"dropped {arguments.db}")
    out = save_results("analysis", result)
    print_summary(summary(result), out)


if __name__ == "__main__":
    main()
