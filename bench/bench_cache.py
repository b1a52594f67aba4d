"""Cache benchmark: GET /metrics cached and uncached in the same run, and the dashboard's hit rate.

Three gunicorn servers on one database, queried in alternating blocks so that
machine noise hits all alike: the cache off, the cache in each process, and
the cache in a Redis of the benchmark's own (no local cache, so every hit is
a Redis round trip and a decode). Then the dashboard's auto-refresh against a
server with the cache on while samples arrive live, with the chunk hit rate
read from the server's /internal/prometheus.

    ./dev bench bench_cache [--requests 300] [--refreshes 30] [--base DIR]

With `--base DIR` (a git worktree of an older commit) the /metrics servers run
that code too, interleaved with this tree's, so before and after are side by side.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path

import psycopg
from calls import http_call, last_window, metrics_path
from common import DEFAULT_ADMIN_URL, ROOT, HttpClient, compare, gunicorn, log, save_results
from datasets import ensure_demo_db
from ops import cache_hits, redis_server, scrape

from tsmetrics.demo import synthetic
from tsmetrics.demo.seed import ensure_catalogue
from tsmetrics.store import samples

DB = "tsm_ops"
BASE_ENV = {
    "TSMETRICS_AUTH": "off",
    "TSMETRICS_RATE_LIMIT_READ": "",
    "TSMETRICS_RATE_LIMIT_DASHBOARD": "",
    "TSMETRICS_LOG_LEVEL": "WARNING",
}


def bench_metrics(url: str, redis_url: str, requests: int, roots: dict[str, Path]) -> dict:
    """30 days at 5m: uncached, cached in process, cached in Redis, and a 304 revalidation."""
    start, end = last_window(url, 30)
    path = metrics_path(start, end, "5m")
    envs = {
        "uncached": {"TSMETRICS_CACHE": "off"},
        "cached (process)": {},
        "cached (Redis)": {
            "TSMETRICS_REDIS_URL": redis_url,
            "TSMETRICS_CACHE_LOCAL_MAX_POINTS": "0",
        },
    }
    calls = {}
    with ExitStack() as stack:
        for code, root in roots.items():
            prefix = f"{code} " if len(roots) > 1 else ""
            for index, (name, env) in enumerate(envs.items()):
                label = f"cache-{code}-{index}"
                server_env = {**BASE_ENV, **env}
                server = stack.enter_context(gunicorn(url, label=label, env=server_env, root=root))
                client = HttpClient(server.port)
                stack.callback(client.close)
                _status, body = client.get(path)
                calls[prefix + name] = http_call(client, path, json.loads(body)["count"])
                if name == "cached (process)":
                    etag = {"If-None-Match": _etag(client, path)}
                    revalidating = HttpClient(server.port, etag)
                    stack.callback(revalidating.close)
                    calls[f"{prefix}304 (process)"] = lambda c=revalidating: _expect(
                        c.get(path), 304
                    )
        log(f"metrics: {path}")
        stats = compare(calls, total=requests)
    result = {name: asdict(value) for name, value in stats.items()}
    result["speedup_p50"] = {}
    for name, value in stats.items():
        prefix = name.split(" ", 1)[0] + " " if len(roots) > 1 else ""
        base = stats[prefix + "uncached"].p50
        result["speedup_p50"][name] = base / value.p50
        log(f"{name}: {value}; {base / value.p50:.1f}x uncached at p50")
    return result


def _etag(client: HttpClient, path: str) -> str:
    client.conn.request("GET", path)
    response = client.conn.getresponse()
    response.read()
    return response.headers["ETag"]


def _expect(answer: tuple[int, bytes], status: int) -> None:
    if answer[0] != status:
        raise RuntimeError(f"expected {status}, got {answer[0]}")


def _live_writer(url: str, stop: threading.Event) -> threading.Thread:
    """Samples of both demo tests every second at the current time, as a live feed writes."""

    def run() -> None:
        with psycopg.connect(url) as conn:
            abtests, metrics = ensure_catalogue(conn, 30)
            while not stop.is_set():
                now = int(time.time())
                batch = synthetic.generate(now - 1, now, 1, abtest_ids=abtests, metric_ids=metrics)
                with conn.transaction():
                    samples.insert_samples(conn, batch)
                stop.wait(1.0)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def bench_dashboard(url: str, refreshes: int) -> dict:
    """Each range preset's charts refreshed every second while samples arrive: the hit rate."""
    result = {}
    stop = threading.Event()
    writer = _live_writer(url, stop)
    with gunicorn(url, label="cache-dash", env=BASE_ENV) as server:
        client = HttpClient(server.port, {"HX-Request": "true"})
        for preset in ("24h", "7d", "30d"):
            page = f"/dashboard/abtests/feature_a?range={preset}"
            _expect(client.get(page), 200)  # the first view fills the cache
            before = scrape(server.port)
            began = time.perf_counter()
            for _ in range(refreshes):
                _expect(client.get(page), 200)
                time.sleep(1.0)
            elapsed = time.perf_counter() - began
            hits = cache_hits(before, scrape(server.port))
            result[preset] = {**hits, "refreshes": refreshes, "seconds": round(elapsed, 1)}
            log(
                f"dashboard {preset}: {hits['hit_rate']:.1%} of chunk lookups hit, "
                f"{hits['buckets_from_cache']:.1%} of buckets from the cache ({hits})"
            )
        client.close()
    stop.set()
    writer.join(10)
    return result


def main() -> None:
    """Run, print and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--refreshes", type=int, default=30)
    parser.add_argument("--skip-metrics", action="store_true", help="only the dashboard part")
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument("--base", type=Path, help="a worktree of the code to compare with")
    arguments = parser.parse_args()
    roots = {"new": ROOT} | ({"base": arguments.base} if arguments.base else {})
    url, _ = ensure_demo_db(arguments.admin_url, DB, 30)
    results = {}
    if not arguments.skip_metrics:
        with redis_server() as redis:
            results["metrics"] = bench_metrics(url, redis.url, arguments.requests, roots)
    results["dashboard"] = bench_dashboard(url, arguments.refreshes)
    out = save_results("cache", results)
    log(f"figures saved to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
