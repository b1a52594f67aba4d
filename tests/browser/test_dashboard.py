"""The dashboard in a real browser (Debian's Chromium) on two days of demo data.

Waits use selectors and Playwright's expectations only: a string predicate
(`wait_for_function`) would be evaluated in the page, which the page's
Content-Security-Policy rightly refuses.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from urllib.request import urlopen
from zoneinfo import ZoneInfo

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PAGE = "/dashboard/abtests/feature_a"


def expect(target):
    """Playwright's expect(), imported late so a missing package skips instead of erroring."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def charts_drawn(page) -> int:
    """How many times charts.js has drawn a set of charts on this page."""
    return int(page.get_attribute("html", "data-charts-drawn") or 0)


def wait_for_draw(page, count: int) -> None:
    """Until charts.js has drawn `count` sets of charts."""
    page.wait_for_selector(f'html[data-charts-drawn="{count}"]', state="attached")


def open_details(page) -> None:
    """Open the results panel's detailed results (tables, planning, lift charts)."""
    details = page.locator("#results-details")
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    expect(details).to_have_attribute("open", "")


def chart_lines(page) -> list[list[list]]:
    """Per chart on the page, [variant, points] of each dataset (gaps not counted)."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('.chart canvas')).map(canvas =>
               Chart.getChart(canvas).data.datasets.map(d =>
                   [d.label, d.data.filter(p => p.y !== null).length]))"""
    )


def api_lines(page, base_url: str) -> list[list[list]]:
    """The same, from each chart's JSON twin links (GET /metrics, one per variant)."""
    charts = page.evaluate(
        """() => Array.from(document.querySelectorAll('.chart')).map(section =>
               Array.from(section.querySelectorAll('a[href^="/metrics"]:not([download])')).map(a =>
                   a.getAttribute('href')))"""
    )
    result = []
    for links in charts:
        lines = []
        for link in links:
            with urlopen(base_url + link) as response:  # noqa: S310 - the local test server
                body = json.load(response)
            lines.append([body["variant"], body["count"]])
        result.append(lines)
    return result


def test_overview_filters_as_you_type_and_links(browser_page, artifacts):
    page, watch = browser_page
    page.goto("/")
    page.wait_for_url("**/dashboard/")
    rows = page.locator("#abtests tbody tr")
    expect(rows).to_have_count(2)
    latest = page.locator("#abtests time").first
    assert latest.get_attribute("title").endswith(" UTC")
    assert not latest.inner_text().endswith("UTC")  # shown in the viewer's zone
    page.screenshot(path=artifacts / "overview.png", full_page=True)

    page.evaluate("() => { window.sameDocument = true; }")
    page.get_by_label("Name or title contains").press_sequentially("feature_b", delay=20)
    page.wait_for_url("**/dashboard/?q=feature_b")
    expect(rows).to_have_count(1)
    page.get_by_label("Status").select_option("paused")
    page.wait_for_url("**/dashboard/?status=paused&q=feature_b")
    expect(page.locator("#abtests")).to_contain_text("No A/B test whose name or title contains")
    assert page.evaluate("() => window.sameDocument") is True  # no full reload

    page.go_back()
    page.wait_for_url("**/dashboard/?q=feature_b")
    expect(rows).to_have_count(1)
    page.get_by_role("link", name="feature_b").click()
    page.wait_for_url("**/dashboard/abtests/feature_b")
    watch.assert_clean()


def test_abtest_page_draws_a_line_per_variant(browser_page, live_server, artifacts):
    page, _watch = browser_page
    page.goto(PAGE)
    page.wait_for_selector("html[data-charts-first-drawn-ms]", state="attached")
    drawn_ms = int(page.get_attribute("html", "data-charts-first-drawn-ms"))
    lines = chart_lines(page)
    assert len(lines) == 4
    for chart in lines:
        assert [variant for variant, _points in chart] == ["control", "treatment"]
        assert all(points >= 280 for _variant, points in chart)  # 24 h of 5-minute buckets
    assert lines == api_lines(page, live_server.url)

    assert page.locator("[data-time-zone]").inner_text() == "Europe/Paris"
    title = page.evaluate(
        """() => Chart.getChart(document.querySelector('.chart canvas'))
               .options.plugins.tooltip.callbacks.title([{parsed: {x: 0}}])"""
    )
    assert title == ["1 Jan 1970, 01:00 (Europe/Paris)", "1970-01-01 00:00 UTC"]
    page.screenshot(path=artifacts / "abtest.png", full_page=True)
    timings = {"navigation_to_all_charts_drawn_ms": drawn_ms, "data": "2 days, a sample every 10 s"}
    (artifacts / "timings.json").write_text(json.dumps(timings, indent=2) + "\n")
    # Recorded, not asserted: a time limit in a test fails on a busy machine; the goal
    # is measured as a ratio by bench/bench_dashboard.py.
    print(f"navigation to all charts drawn: {drawn_ms} ms")


def test_range_change_moves_the_url_and_the_chart(browser_page, live_server):
    page, _watch = browser_page
    page.goto(PAGE)
    wait_for_draw(page, 1)
    before = chart_lines(page)
    page.get_by_label("6h", exact=True).check()
    page.wait_for_url(f"**{PAGE}?range=6h")
    wait_for_draw(page, 2)
    after = chart_lines(page)
    assert after != before
    assert after == api_lines(page, live_server.url)
    # 6 h of 1-minute buckets (a 5-minute granularity would give at most 73); the demo
    # data leaves a few minutes of a variant empty at random, so not all 361.
    assert all(points >= 300 for chart in after for _v, points in chart)

    # From the keyboard: the arrow key moves along the range radios, Enter applies.
    page.get_by_label("6h", exact=True).focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(re.escape(PAGE) + "$"))
    wait_for_draw(page, 3)
    assert [len(chart) for chart in chart_lines(page)] == [2, 2, 2, 2]
    assert chart_lines(page) == api_lines(page, live_server.url)

    # Back asks the server for the page of that URL; the charts come back with it.
    page.go_back()
    page.wait_for_url(f"**{PAGE}?range=6h")
    wait_for_draw(page, 4)
    expect(page.get_by_label("6h", exact=True)).to_be_checked()
    # The same view, a moment later: compared with the API, as time has moved on.
    assert chart_lines(page) == api_lines(page, live_server.url)
    assert all(points >= 300 for chart in chart_lines(page) for _v, points in chart)


def test_custom_range_is_entered_in_local_time(browser_page, live_server):
    page, _watch = browser_page
    page.goto(PAGE)
    wait_for_draw(page, 1)
    paris = ZoneInfo("Europe/Paris")
    end = datetime.now(paris).replace(second=0, microsecond=0) - timedelta(hours=1)
    start = end - timedelta(hours=2)
    page.get_by_label("From").fill(f"{start:%Y-%m-%dT%H:%M}")
    page.get_by_label("to", exact=True).fill(f"{end:%Y-%m-%dT%H:%M}")
    page.get_by_label("to", exact=True).press("Enter")
    utc = [f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}" for moment in (start, end)]
    page.wait_for_url(f"**{PAGE}?range=custom&start={utc[0]}&end={utc[1]}")
    wait_for_draw(page, 2)
    expect(page.get_by_label("Custom")).to_be_checked()
    lines = chart_lines(page)
    assert lines == api_lines(page, live_server.url)
    assert all(110 <= points <= 121 for chart in lines for _v, points in chart)


def _unavailable(response) -> bool:
    return response.status == 503


def test_refresh_variant_toggle_and_database_down(browser_page, live_server, artifacts):
    page, watch = browser_page
    page.goto(PAGE)
    wait_for_draw(page, 1)
    page.get_by_role("button", name="Refresh now").click()
    wait_for_draw(page, 2)

    page.locator("input[name=variant][value=treatment]").uncheck()
    page.wait_for_url(f"**{PAGE}?variant=control")
    wait_for_draw(page, 3)
    assert {tuple(v for v, _p in chart) for chart in chart_lines(page)} == {("control",)}

    with live_server.database_down():
        with page.expect_response(_unavailable):
            page.get_by_role("button", name="Refresh now").click()
        alert = page.locator("#charts [role=alert]")
        expect(alert).to_contain_text("database is unavailable")
        page.screenshot(path=artifacts / "abtest-database-down.png", full_page=True)
        # The rest of the page still works: the controls still answer, inline.
        with page.expect_response(_unavailable):
            page.locator("input[name=variant][value=treatment]").check()
        expect(alert).to_contain_text("database is unavailable")
        expect(page.locator("#comparison [role=alert]")).to_contain_text("database is unavailable")
        expect(page.get_by_role("link", name="A/B tests").first).to_be_visible()
    # The browser reports each 503 in its console: the charts' twice, and the results
    # panel's, which refreshes with them; those three, and only those, are expected.
    for _ in range(20):
        if len(watch.errors) >= 3:
            break
        page.wait_for_timeout(100)
    assert len(watch.errors) == 3 and all("503" in e for e in watch.errors), watch.errors
    watch.errors.clear()

    page.get_by_role("button", name="Try again now").click()
    expect(page.locator(".chart canvas")).to_have_count(4)
    wait_for_draw(page, 4)
    assert {tuple(v for v, _p in chart) for chart in chart_lines(page)} == {
        ("control", "treatment")
    }


def test_auto_refresh_runs_and_pauses_while_hidden(browser_page):
    page, _watch = browser_page
    page.goto(PAGE)
    wait_for_draw(page, 1)
    assert page.get_attribute("html", "data-auto-refresh") == "on"
    # A one-second period (instead of 30 s) to see it fire: switch off, shorten, on.
    switch = page.get_by_label("Refresh every 30 s")
    switch.uncheck()
    assert page.get_attribute("html", "data-auto-refresh") == "off"
    page.evaluate("() => { document.getElementById('auto-refresh').dataset.seconds = '1'; }")
    switch.check()
    wait_for_draw(page, 2)
    page.evaluate(
        """() => { Object.defineProperty(document, 'hidden', {value: true, configurable: true});
                   document.dispatchEvent(new Event('visibilitychange')); }"""
    )
    assert page.get_attribute("html", "data-auto-refresh") == "paused"
    # No refresh starts while hidden (one started just before may still land and
    # draw, and bring the results panel after it, so refreshes are counted, not draws).
    started = page.get_attribute("html", "data-refreshes")
    assert int(started) >= 1
    page.wait_for_timeout(2500)  # two and a half periods of the one-second refresh
    assert page.get_attribute("html", "data-refreshes") == started


def test_phone_width_and_table_alternative(browser_page, artifacts):
    page, _watch = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(PAGE + "?range=6h")
    wait_for_draw(page, 1)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    chart = page.locator("#chart-response_time")
    chart.get_by_text("Show as table").click()
    # A row per bucket that any variant has.
    buckets = page.evaluate(
        """() => new Set(Chart.getChart(document.querySelector('#chart-response_time canvas'))
               .data.datasets.flatMap(d => d.data.filter(p => p.y !== null).map(p => p.x))).size"""
    )
    assert buckets >= 300
    expect(chart.locator("table tbody tr")).to_have_count(buckets)
    assert chart.locator("table caption").inner_text().endswith("times in Europe/Paris")
    page.screenshot(path=artifacts / "abtest-phone.png", full_page=True)


def test_swagger_ui_works_under_the_policy(browser_page):
    page, _watch = browser_page
    page.goto("/swagger")
    expect(page.locator(".opblock").first).to_be_visible()
    assert page.locator(".opblock").count() >= 3
