"""Core benchmark: GET /metrics through gunicorn, growth with data and tests, seed rate, memory.

Creates, migrates and seeds its databases on first use and keeps them for the
next run (--drop removes them at the end, --recreate starts them afresh).
Figures go to the terminal and, as JSON, to bench/out/.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import psycopg
from calls import direct_call, http_call, last_window, metrics_path, serving
from common import (
    DEFAULT_ADMIN_URL,
    HttpClient,
    change,
    compare,
    create_database,
    database_exists,
    database_size,
    database_url,
    drop_database,
    log,
    newest_sample,
    print_summary,
    rss_mb,
    save_results,
)
from datasets import connector, ensure_demo_db, ensure_tests_db, iso

from tsmetrics.demo.seed import DAY, SeedReport, seed

DB_30, DB_60, DB_7, DB_7X10, DB_SEED = (
    "tsm_bench",
    "tsm_bench60",
    "tsm_bench7",
    "tsm_bench10x",
    "tsm_bench_seed",
)
STEPS = ("api", "growth-days", "growth-tests", "seed", "memory")
SKETCH_P50_MS = (23.0, 26.0)  # the sketch's 5m continuous aggregate, psycopg, no HTTP
Results = dict[str, dict]


def bench_api(url: str, requests: int, auth: str) -> dict:
    """30 days at 5m through gunicorn over HTTP vs the same query straight through psycopg."""
    start, end = last_window(url, 30)
    log(f"api: {iso(start)} .. {iso(end)} at 5m, {requests} requests each way")
    with (
        psycopg.connect(url, autocommit=True) as conn,
        serving(url, auth, "api") as (server, headers),
    ):
        direct, count = direct_call(conn, start, end, "5m")
        client = HttpClient(server.port, headers)
        http = http_call(client, metrics_path(start, end, "5m"), count)
        stats = compare({"http": http, "direct": direct}, total=requests)
        client.close()
    result = {
        "buckets": count,
        "http": asdict(stats["http"]),
        "direct": asdict(stats["direct"]),
        "ratio": stats["http"].p50 / stats["direct"].p50,
    }
    log(
        f"api: {count} buckets; HTTP {stats['http']}; direct {stats['direct']}; "
        f"ratio {result['ratio']:.2f}"
    )
    return result


def _compare_dbs(label: str, urls: dict[str, str], windows: dict, requests: int, auth: str) -> dict:
    """The same 5m query on each database, direct and over HTTP, interleaved."""
    calls: dict[str, Callable[[], object]] = {}
    counts = {}
    with ExitStack() as stack:
        for name, url in urls.items():
            start, end = windows[name]
            conn = stack.enter_context(psycopg.connect(url, autocommit=True))
            calls[f"direct {name}"], counts[name] = direct_call(conn, start, end, "5m")
            server, headers = stack.enter_context(
                serving(url, auth, f"{label}-{name.replace(' ', '')}")
            )
            client = HttpClient(server.port, headers)
            stack.callback(client.close)
            path = metrics_path(start, end, "5m")
            calls[f"http {name}"] = http_call(client, path, counts[name])
        log(f"{label}: {counts} buckets, {requests} requests each, interleaved")
        stats = compare(calls, total=requests)
    return {"buckets": counts, **{name: asdict(value) for name, value in stats.items()}}


def _growth(label: str, result: dict, base: str, other: str) -> dict:
    for way in ("direct", "http"):
        pct = change(result[f"{way} {base}"]["p50"], result[f"{way} {other}"]["p50"])
        result[f"change {way} %"] = pct
        log(
            f"{label}: {way} p50 {result[f'{way} {base}']['p50']:.2f} ms -> "
            f"{result[f'{way} {other}']['p50']:.2f} ms ({pct:+.1f}%)"
        )
    return result


def bench_growth_days(admin: str, url_30: str, requests: int, auth: str) -> dict:
    """The last 7 days at 5m on 30 days of data and on 60 days of data."""
    urls = {"30d": url_30, "60d": ensure_demo_db(admin, DB_60, 60)[0]}
    windows = {name: last_window(url, 7) for name, url in urls.items()}
    result = _compare_dbs("days", urls, windows, requests, auth)
    result["sizes"] = {name: database_size(url) for name, url in urls.items()}
    return _growth("growth-days", result, "30d", "60d")


def bench_growth_tests(admin: str, requests: int, auth: str) -> dict:
    """One series' 7 days at 5m with 2 A/B tests and with 20, same days, same samples."""
    end_s = int(datetime.now(UTC).timestamp()) // DAY * DAY
    for name in (DB_7, DB_7X10):
        # Both databases must end at the same moment: reuse the one already there.
        if database_exists(admin, name):
            end_s = int(newest_sample(database_url(admin, name)).timestamp()) + 2
    urls = {
        "2 tests": ensure_tests_db(admin, DB_7, 1, end_s),
        "20 tests": ensure_tests_db(admin, DB_7X10, 10, end_s),
    }
    end = datetime.fromtimestamp(end_s, UTC)
    window = (end - timedelta(days=7), end)
    result = _compare_dbs("tests", urls, dict.fromkeys(urls, window), requests, auth)
    result["sizes"] = {name: database_size(url) for name, url in urls.items()}
    return _growth("growth-tests", result, "2 tests", "20 tests")


def bench_seed(admin: str, fresh: SeedReport | None) -> dict:
    """The default 30-day seed's rate, rollups included (a scratch database unless fresh)."""
    if fresh is None:
        drop_database(admin, DB_SEED)
        url = create_database(admin, DB_SEED)
        log(f"seed: {DB_SEED}: 30 days of demo data into a scratch database")
        fresh = seed(connector(url), days=30, interval=2, out=lambda line: log(f"seed: {line}"))
        drop_database(admin, DB_SEED)
    return {"samples": fresh.samples, "seconds": fresh.seconds, "rate": fresh.rate}


def bench_memory(url: str, requests: int, auth: str) -> dict:
    """Worker RSS while serving 10,000-bucket pages (1m over 30 days, every page in turn)."""
    start, end = last_window(url, 30)
    paths = [metrics_path(start, end, "1m", skip) for skip in range(0, 43_200, 10_000)]
    with serving(url, auth, "memory") as (server, headers):
        workers = server.worker_pids()
        before = {pid: rss_mb(pid) for pid in workers}
        peak = dict(before)
        # Several connections, so both workers get pages to serve.
        clients = [HttpClient(server.port, headers) for _ in range(4)]
        for i in range(requests):
            status, _ = clients[i % len(clients)].get(paths[i % len(paths)])
            if status != 200:
                raise RuntimeError(f"GET {paths[i % len(paths)]}: {status}")
            if i % 10 == 9:
                peak = {pid: max(peak[pid], rss_mb(pid)) for pid in workers}
                if i % 100 == 99:
                    log(f"memory: {i + 1} pages, worker RSS {_mb(peak)}")
        after = {pid: rss_mb(pid) for pid in workers}
        for client in clients:
            client.close()
    result = {"requests": requests, "before": before, "after": after, "peak": peak}
    result["max"] = max(peak.values())
    log(f"memory: before {_mb(before)}, after {_mb(after)}, peak {_mb(peak)}")
    return result


def _mb(by_pid: dict[int, float]) -> str:
    return ", ".join(f"{pid}: {value:.1f} MB" for pid, value in by_pid.items())


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def summary(results: Results) -> list[str]:
    """One line per figure, with its goal."""
    lines = []
    if api := results.get("api"):
        http, direct, ratio = api["http"], api["direct"], api["ratio"]
        lines.append(
            f"/metrics 30 d at 5m ({api['buckets']} buckets) over HTTP: p50 {http['p50']:.2f} ms, "
            f"p99 {http['p99']:.2f} ms; direct psycopg p50 {direct['p50']:.2f} ms; "
            f"ratio {ratio:.2f} (goal <= 2: {_verdict(ratio <= 2)}); "
            f"sketch {SKETCH_P50_MS[0]:.0f}-{SKETCH_P50_MS[1]:.0f} ms without HTTP "
            f"({_verdict(http['p50'] < SKETCH_P50_MS[0])} beating it)"
        )
    for key, label in (("growth-days", "30 -> 60 days"), ("growth-tests", "2 -> 20 tests")):
        if growth := results.get(key):
            direct, http = growth["change direct %"], growth["change http %"]
            met = abs(direct) <= 20 and abs(http) <= 20
            lines.append(
                f"growth {label}, last 7 days at 5m: direct p50 {direct:+.1f}%, "
                f"HTTP p50 {http:+.1f}% (goal within 20%: {_verdict(met)})"
            )
    if rate := results.get("seed"):
        lines.append(
            f"seed 30 days: {rate['samples']:,} samples in {rate['seconds']:.1f} s = "
            f"{rate['rate']:,.0f} samples/s with rollups (goal >= 150,000: "
            f"{_verdict(rate['rate'] >= 150_000)})"
        )
    if memory := results.get("memory"):
        lines.append(
            f"memory: {memory['requests']} pages of 10,000 buckets, worker RSS peak "
            f"{memory['max']:.1f} MB (goal < 150 MB: {_verdict(memory['max'] < 150)})"
        )
    return lines


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL, help="server to create DBs on")
    parser.add_argument("--steps", default=",".join(STEPS), help="comma-separated subset")
    parser.add_argument("--requests", type=int, default=300, help="timed requests per series")
    parser.add_argument("--memory-requests", type=int, default=500, help="10,000-bucket pages")
    parser.add_argument(
        "--auth",
        choices=("off", "token"),
        default="off",
        help="off: the core data path; token: bearer-token checks as in production",
    )
    parser.add_argument("--recreate", action="store_true", help="drop the bench DBs first")
    parser.add_argument("--drop", action="store_true", help="drop the bench DBs at the end")
    arguments = parser.parse_args()
    arguments.steps = [step.strip() for step in arguments.steps.split(",") if step.strip()]
    unknown = set(arguments.steps) - set(STEPS)
    if unknown:
        parser.error(f"unknown steps {sorted(unknown)}; choose from {', '.join(STEPS)}")
    return arguments


def run(arguments: argparse.Namespace) -> Results:
    """Every chosen step, in order."""
    admin, results = arguments.admin_url, {}
    if arguments.recreate:
        for name in (DB_30, DB_60, DB_7, DB_7X10):
            drop_database(admin, name)
    url, fresh = ensure_demo_db(admin, DB_30, 30)
    if "seed" in arguments.steps:
        results["seed"] = bench_seed(admin, fresh)
    if "api" in arguments.steps:
        results["api"] = bench_api(url, arguments.requests, arguments.auth)
    if "growth-days" in arguments.steps:
        results["growth-days"] = bench_growth_days(admin, url, arguments.requests, arguments.auth)
    if "growth-tests" in arguments.steps:
        results["growth-tests"] = bench_growth_tests(admin, arguments.requests, arguments.auth)
    if "memory" in arguments.steps:
        results["memory"] = bench_memory(url, arguments.memory_requests, arguments.auth)
    return results


def main() -> None:
    """Run the benchmark, print the summary, save the figures."""
    arguments = _arguments()
    try:
        results = run(arguments)
    finally:
        if arguments.drop:
            for name in (DB_30, DB_60, DB_7, DB_7X10, DB_SEED):
                drop_database(arguments.admin_url, name)
            log("dropped the benchmark databases")
    out = save_results("metrics_api", results)
    print_summary(summary(results), out)


if __name__ == "__main__":
    main()
