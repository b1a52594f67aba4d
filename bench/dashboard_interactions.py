"""The A/B test page in use, in Debian's Chromium (bench_dashboard.py --interactions).

On two days of demo data ending now (`tsm_bench_dashboard_2d`, seeded as the browser tests
seed theirs), so the presets have data: a preset change to the charts redrawn, a refresh to
the charts redrawn, and navigation start to the scorecard drawn. Each action is timed both
ways in the same page, interleaved: in place (morph.js, Chart.js `update`: today's code) and
as a swap of the charts' HTML (the code before issue 16: the same request, swapped by htmx
with its charts drawn anew; the results panel not refreshed). Times are the page's own
(performance.now() around the action, to the moment charts.js has drawn).
"""

from __future__ import annotations

import statistics

import psycopg
from common import (
    DEFAULT_ADMIN_URL,
    ROOT,
    create_database,
    database_exists,
    database_url,
    gunicorn,
    log,
)
from datasets import connector

from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS
from tsmetrics.demo.seed import seed

DATABASE = "tsm_bench_dashboard_2d"
PAGE = "/dashboard/abtests/feature_a"
GOALS_MS = {"preset_in_place": 300.0, "scorecard": 500.0}
# The code before issue 16, on today's page: the charts are swapped, not updated, and the
# results panel does not refresh with them.
_AS_BEFORE = """() => {
    document.getElementById('charts').removeAttribute('data-morph');
    const panel = document.getElementById('comparison');
    if (panel) panel.removeAttribute('data-refresh');
}"""
_PRESET = (
    "(value) => document.querySelector(`#controls input[name=range][value='${value}']`).click()"
)
_REFRESH = "() => document.getElementById('refresh-now').click()"


def ensure_database() -> str:
    """Two days of demo data (a sample every 10 s) up to now; reseeded when older than 2 h."""
    if database_exists(DEFAULT_ADMIN_URL, DATABASE):
        url = database_url(DEFAULT_ADMIN_URL, DATABASE)
        with psycopg.connect(url) as conn:
            fresh = conn.execute(
                "SELECT max(last_time) > now() - interval '2 hours' FROM series"
            ).fetchone()[0]
        if fresh:
            return url
        with psycopg.connect(DEFAULT_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{DATABASE}" WITH (FORCE)')
    log(f"{DATABASE}: seeding 2 days of demo data")
    url = create_database(DEFAULT_ADMIN_URL, DATABASE)
    seed(connector(url), days=2, interval=10, out=lambda _line: None)
    return url


def _timed(page, action: str, arg, count: int) -> float:
    """Milliseconds from the action to the charts drawn (the count-th set)."""
    from playwright.sync_api import expect

    start = page.evaluate("() => performance.now()")
    page.evaluate(action, arg)
    page.wait_for_selector(f'html[data-charts-drawn="{count}"]', state="attached")
    drawn = int(page.get_attribute("html", "data-charts-last-drawn-ms"))
    expect(page.locator(".htmx-request")).to_have_count(0, timeout=30_000)
    return drawn - start


def _stats(times: list[float]) -> dict:
    ordered = sorted(times)
    return {
        "p50_ms": statistics.median(ordered),
        "p90_ms": ordered[int(0.9 * (len(ordered) - 1))],
        "runs_ms": [round(t, 1) for t in times],
    }


def bench_interactions(runs: int) -> dict:
    """Preset change and refresh (in place vs swapped), and navigation to the scorecard."""
    from playwright.sync_api import sync_playwright

    url = ensure_database()
    env = {"TSMETRICS_AUTH": "off", "TSMETRICS_RATE_LIMIT_DASHBOARD": ""}
    times: dict[str, list[float]] = {
        "preset_in_place": [],
        "preset_swap": [],
        "refresh_in_place": [],
        "refresh_swap": [],
        "scorecard": [],
        "charts_first": [],
    }
    with gunicorn(url, label="dashboard-ui", env=env, root=ROOT) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        base = f"http://127.0.0.1:{server.port}"
        for _ in range(runs):
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.goto(base + PAGE)
            page.wait_for_selector("html[data-scorecard-drawn-ms]", state="attached")
            times["scorecard"].append(int(page.get_attribute("html", "data-scorecard-drawn-ms")))
            page.wait_for_selector('html[data-charts-drawn="1"]', state="attached")
            page.wait_for_selector("html[data-charts-first-drawn-ms]", state="attached")
            first = page.get_attribute("html", "data-charts-first-drawn-ms")
            times["charts_first"].append(int(first))
            count = 1
            for way in ("in_place", "swap"):
                for value in ("6h", "24h"):
                    if way == "swap":
                        page.evaluate(_AS_BEFORE)
                    count += 1
                    times[f"preset_{way}"].append(_timed(page, _PRESET, value, count))
                if way == "swap":
                    page.evaluate(_AS_BEFORE)
                count += 1
                times[f"refresh_{way}"].append(_timed(page, _REFRESH, None, count))
            context.close()
        browser.close()
    result = {name: _stats(values) for name, values in times.items()}
    for name, stats in result.items():
        log(f"browser {name}: p50 {stats['p50_ms']:.0f} ms, p90 {stats['p90_ms']:.0f} ms")
    return result


def summary(result: dict) -> list[str]:
    """The lines to print (and to copy into bench/RESULTS.md)."""
    lines = []
    for name, goal in GOALS_MS.items():
        p50 = result[name]["p50_ms"]
        verdict = "meets" if p50 <= goal else "MISSES"
        lines.append(f"goal: {name} p50 <= {goal:.0f} ms: {p50:.0f} ms, {verdict} it")
    ratio = result["refresh_in_place"]["p50_ms"] / result["refresh_swap"]["p50_ms"]
    verdict = "meets" if ratio <= 1.0 else "MISSES"
    lines.append(f"goal: refresh in place / swapped (p50) <= 1: {ratio:.2f}, {verdict} it")
    ratio = result["preset_in_place"]["p50_ms"] / result["preset_swap"]["p50_ms"]
    lines.append(f"preset in place / swapped (p50): {ratio:.2f}")
    ratio = result["scorecard"]["p50_ms"] / result["charts_first"]["p50_ms"]
    lines.append(f"navigation to scorecard / to all charts drawn (p50): {ratio:.2f}")
    return lines
