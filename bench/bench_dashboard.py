"""Dashboard benchmark: A/B test page and chart fragment vs GET /metrics for the same data.

    .venv/bin/python bench/bench_dashboard.py [--requests 200] [--browser-runs 10] [--base DIR]
    .venv/bin/python bench/bench_dashboard.py --requests 0 --interactions 15

Serves the 30-day demo database (`tsm_bench`, seeded with the defaults when it
does not exist yet, shared with bench_metrics_api.py) through gunicorn over HTTP
on 127.0.0.1. Server time is gunicorn's own request time (%(D)s in its access
log); the client's round trip is reported beside it. Views end at the newest
sample, so a database seeded hours ago still fills every window. Then Debian's
Chromium measures navigation start to every chart drawn. Figures go to the
terminal and, as JSON, to bench/out/. With `--base DIR` (a git worktree of an
older commit) a second server runs that code and its requests are interleaved
with this tree's, so before and after are measured side by side.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import sys
from contextlib import ExitStack
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import psycopg
from common import (
    DEFAULT_ADMIN_URL,
    ROOT,
    HttpClient,
    Stats,
    compare,
    cpu_model,
    gunicorn,
    log,
    save_results,
)
from datasets import ensure_demo_db, iso

sys.path.insert(0, str(ROOT))
# Debian's Chromium, launched as the browser tests launch it.
import dashboard_interactions

from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS
from tsmetrics.granularity import floor_to

DATABASE = "tsm_bench"
ABTEST, METRIC = "feature_a", "response_time"
GOALS_MS = {"page_24h": 100.0, "fragment_30d": 50.0}
BROWSER_GOAL_MS = 1500.0
# gunicorn logs each request as "<path?query> <status> <microseconds>".
ACCESS_FORMAT = "%(U)s?%(q)s %(s)s %(D)s"
_LOG_LINE = re.compile(r"^(\S+) (\d{3}) (\d+)$")


def paths(newest: datetime) -> dict[str, tuple[str, bool]]:
    """The timed requests: (path, sent as htmx) by name, every window ending at `end`."""
    end = floor_to(newest, 60) + timedelta(minutes=1)

    def window(days: float) -> dict[str, str]:
        return {"start": iso(end - timedelta(days=days)), "end": iso(end)}

    def page(days: float) -> str:
        return f"/dashboard/abtests/{ABTEST}?" + urlencode({"range": "custom"} | window(days))

    def api(days: float) -> str:
        query = {"abTestName": ABTEST, "metricName": METRIC, "granularity": "auto"}
        return "/metrics?" + urlencode(query | window(days) | {"variant": "control"})

    fragment = f"/dashboard/abtests/{ABTEST}/charts/{METRIC}?"
    # The results panel the page loads after itself, and one of its lift charts.
    results = f"/dashboard/abtests/{ABTEST}/comparison?"
    lift = f"/dashboard/abtests/{ABTEST}/lift/{METRIC}?"
    return {
        "page_24h": (page(1), False),
        "api_24h": (api(1), False),
        "fragment_30d": (fragment + urlencode({"range": "custom"} | window(30)), True),
        "api_30d": (api(30), False),
        "page_30d": (page(30), False),
        "results_24h": (results + urlencode({"range": "custom"} | window(1)), True),
        "lift_24h": (lift + urlencode({"range": "custom"} | window(1)), True),
    }


def server_times(
    log_path: Path, requests: dict[str, tuple[str, bool]], n: int, prefix: str = ""
) -> dict:
    """Percentiles of gunicorn's request time per timed path (its last n requests)."""
    by_path: dict[str, list[float]] = {}
    for line in log_path.read_text().splitlines():
        match = _LOG_LINE.match(line.strip())
        if match and match[2] == "200":
            by_path.setdefault(match[1], []).append(int(match[3]) / 1000)
    return {prefix + name: Stats.of(by_path[path][-n:]) for name, (path, _hx) in requests.items()}


def machine() -> dict[str, str | int]:
    """What the figures were measured on."""
    with psycopg.connect(DEFAULT_ADMIN_URL) as conn:
        server = conn.execute("SHOW server_version").fetchone()[0]
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpus": os.cpu_count() or 0,
        "cpu": cpu_model(),
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "postgresql": server,
        "load_average": " ".join(f"{load:.1f}" for load in os.getloadavg()),
    }


def bench_http(
    url: str, requests: dict[str, tuple[str, bool]], total: int, roots: dict[str, Path]
) -> dict:
    """Client round trips (interleaved blocks) and server times of every timed request.

    One server per code tree in `roots`; with more than one, each name is
    prefixed with its tree's ("new page_24h", "base page_24h").
    """
    env = {
        "TSMETRICS_AUTH": "off",
        "TSMETRICS_RATE_LIMIT_READ": "",
        "TSMETRICS_RATE_LIMIT_DASHBOARD": "",
        # Text logs: in JSON mode gunicorn writes no access log, which gives the server times.
        "TSMETRICS_LOG_FORMAT": "text",
        "GUNICORN_CMD_ARGS": f"--access-logformat='{ACCESS_FORMAT}'",
    }
    calls, sizes, logs = {}, {}, {}
    with ExitStack() as stack:
        for code, root in roots.items():
            prefix = f"{code} " if len(roots) > 1 else ""
            label = f"dashboard-{code}"
            server = stack.enter_context(gunicorn(url, label=label, env=env, root=root))
            logs[prefix] = Path(f"/tmp/tsmetrics-{label}-{server.port}.log")  # noqa: S108
            plain, htmx = HttpClient(server.port), HttpClient(server.port, {"HX-Request": "true"})
            stack.callback(plain.close)
            stack.callback(htmx.close)
            for name, (path, hx) in requests.items():
                client = htmx if hx else plain
                status, body = client.get(path)
                if status != 200:
                    raise RuntimeError(f"GET {path}: {status} {body[:300]!r}")
                sizes[prefix + name] = len(body)
                calls[prefix + name] = lambda c=client, p=path: c.get(p)
        log(f"timing {len(calls)} requests x {total}, interleaved in blocks of 20")
        client_stats = compare(calls, total=total)
    server_stats = {}
    for prefix, log_path in logs.items():
        server_stats |= server_times(log_path, requests, total, prefix)
    return {"client": client_stats, "server": server_stats, "bytes": sizes}


def bench_browser(url: str, requests: dict[str, tuple[str, bool]], runs: int) -> dict:
    """Median navigation-to-all-charts-drawn over `runs` cold loads per page, in Chromium."""
    from playwright.sync_api import sync_playwright

    env = {"TSMETRICS_AUTH": "off", "TSMETRICS_RATE_LIMIT_DASHBOARD": ""}
    results = {}
    with gunicorn(url, label="dashboard-browser", env=env) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for name in ("page_24h", "page_30d"):
            times = []
            for _ in range(runs):
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                page.goto(f"http://127.0.0.1:{server.port}{requests[name][0]}")
                page.wait_for_selector("html[data-charts-first-drawn-ms]", state="attached")
                times.append(int(page.get_attribute("html", "data-charts-first-drawn-ms")))
                context.close()
            results[name] = {"median_ms": statistics.median(times), "runs_ms": times}
            log(f"browser {name}: median {statistics.median(times):.0f} ms over {runs} loads")
        browser.close()
    return results


def summary(http: dict, browser: dict | None, prefixes: list[str]) -> list[str]:
    """The lines to print (and to copy into bench/RESULTS.md)."""
    client, server, sizes = http["client"], http["server"], http["bytes"]
    lines = ["request             server p50  server p99  client p50   bytes"]
    for name in server:
        lines.append(
            f"{name:<19} {server[name].p50:7.2f} ms {server[name].p99:7.2f} ms "
            f"{client[name].p50:8.2f} ms {sizes[name]:>8,}"
        )
    for prefix in prefixes:
        page, api24 = server[prefix + "page_24h"].p50, server[prefix + "api_24h"].p50
        fragment, api30 = server[prefix + "fragment_30d"].p50, server[prefix + "api_30d"].p50
        lines += [
            f"{prefix}page_24h / api_24h = {page / api24:.1f} (4 metrics x 2 variants)",
            f"{prefix}fragment_30d / api_30d = {fragment / api30:.1f} (2 series)",
        ]
        for name, goal in GOALS_MS.items():
            p50 = server[prefix + name].p50
            verdict = "meets" if p50 <= goal else "MISSES"
            lines.append(
                f"goal: {prefix}{name} server p50 <= {goal:.0f} ms: {p50:.1f} ms, {verdict} it"
            )
    for name, result in (browser or {}).items():
        verdict = "meets" if result["median_ms"] <= BROWSER_GOAL_MS else "MISSES"
        lines.append(
            f"goal: {name} navigation to all charts drawn <= {BROWSER_GOAL_MS:.0f} ms: "
            f"median {result['median_ms']:.0f} ms, {verdict} it"
        )
    return lines


def main() -> None:
    """Run the benchmark and print its summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="timed requests per kind")
    parser.add_argument("--browser-runs", type=int, default=10, help="page loads per page")
    parser.add_argument("--base", type=Path, help="a worktree of the code to compare with")
    parser.add_argument(
        "--interactions", type=int, default=0, help="page sessions timing range change, refresh"
    )
    args = parser.parse_args()
    if args.interactions:
        # Preset change, refresh (in place vs swapped) and the scorecard, on 2 days to now.
        interactions = dashboard_interactions.bench_interactions(args.interactions)
        lines = dashboard_interactions.summary(interactions)
        print("\n".join(lines))
        out = save_results(
            "dashboard-interactions",
            {"machine": machine(), "browser": interactions, "summary": lines},
        )
        log(f"wrote {out.relative_to(ROOT)}")
        if not args.requests:
            return
    roots = {"new": ROOT} | ({"base": args.base} if args.base else {})
    prefixes = [f"{code} " for code in roots] if len(roots) > 1 else [""]
    log(f"load average {' '.join(f'{load:.1f}' for load in os.getloadavg())}")
    url, _report = ensure_demo_db(DEFAULT_ADMIN_URL, DATABASE, 30)
    with psycopg.connect(url) as conn:
        newest = conn.execute("SELECT max(last_time) FROM series").fetchone()[0]
    requests = paths(newest.astimezone(UTC))
    http = bench_http(url, requests, args.requests, roots)
    browser = bench_browser(url, requests, args.browser_runs) if args.browser_runs else None
    lines = summary(http, browser, prefixes)
    print("\n".join(lines))
    result = {
        "machine": machine(),
        "requests": {name: path for name, (path, _hx) in requests.items()},
        "server": {name: asdict(stats) for name, stats in http["server"].items()},
        "client": {name: asdict(stats) for name, stats in http["client"].items()},
        "bytes": http["bytes"],
        "browser": browser,
        "summary": lines,
    }
    out = save_results("dashboard", result)
    log(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
