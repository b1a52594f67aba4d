"""Refresh without loss (issue 16), in Debian's Chromium: a refresh changes the charts and the
results in place (Chart.js `update`), keeping an open table, its scroll, the focus, and every
box where it was; the auto-refresh choice outlives a reload.

Waits use selectors and Playwright's expectations only (the page's Content-Security-Policy
refuses a string predicate); page.evaluate reads the page's state.
"""

from __future__ import annotations

import pytest

from tests.browser.test_dashboard import expect, wait_for_draw

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PAGE = "/dashboard/abtests/feature_a"
# Collects layout shifts from the start, as Chromium reports them.
RECORD_SHIFTS = """
window.__shifts = [];
new PerformanceObserver(list => {
    for (const entry of list.getEntries()) window.__shifts.push(entry.value);
}).observe({type: 'layout-shift', buffered: true});
"""
STATE = """() => {
    const frame = document.getElementById('chart-response_time');
    const scroller = frame.querySelector('[data-chart-table]');
    return {open: frame.querySelector('details.chart-table').open,
            scrollTop: scroller.scrollTop,
            rows: scroller.querySelectorAll('tbody tr').length,
            focused: document.activeElement === frame.querySelector('summary'),
            sameChart: TSMetrics.charts.get('chart-response_time') === window.__chart,
            sameCanvas: frame.querySelector('canvas') === window.__canvas,
            sameFrame: document.getElementById('chart-response_time') === window.__frame,
            shifts: window.__shifts.slice(window.__mark)};
}"""


def _comparison(response) -> bool:
    return "/comparison?" in response.url and response.status == 200


def test_refresh_keeps_open_table_scroll_focus_and_layout(browser_page):
    page, watch = browser_page
    page.add_init_script(RECORD_SHIFTS)
    page.goto(PAGE + "?range=6h")
    wait_for_draw(page, 1)
    expect(page.locator("#comparison table.comparison-table[data-metric]")).to_have_count(4)
    frame = page.locator("#chart-response_time")
    summary = frame.locator("summary")
    summary.scroll_into_view_if_needed()
    summary.click()
    expect(frame.locator("[data-chart-table] tbody tr").first).to_be_attached()
    page.evaluate(
        """() => {
            const frame = document.getElementById('chart-response_time');
            frame.querySelector('[data-chart-table]').scrollTop = 600;
            window.__chart = TSMetrics.charts.get('chart-response_time');
            window.__canvas = frame.querySelector('canvas');
            window.__frame = frame;
        }"""
    )
    summary.focus()
    # Once the page is still: every shift from here on is the refresh's.
    page.wait_for_load_state("networkidle")
    page.evaluate("() => { window.__mark = window.__shifts.length; }")
    before = page.evaluate(STATE)
    assert before["open"] and before["scrollTop"] == 600 and before["focused"], before

    with page.expect_response(_comparison):
        # A click through the DOM: the refresh auto-refresh makes, focus left where it is.
        page.evaluate("() => document.getElementById('refresh-now').click()")
    wait_for_draw(page, 2)
    page.wait_for_load_state("networkidle")
    expect(page.locator(".htmx-request")).to_have_count(0)
    after = page.evaluate(STATE)
    assert after["open"] and after["focused"], after
    assert after["scrollTop"] == 600 and after["rows"] >= 300, after
    assert after["sameChart"] and after["sameCanvas"] and after["sameFrame"], after
    assert sum(after["shifts"]) == 0, after["shifts"]
    watch.assert_clean()


def test_a_preset_updates_the_charts_in_place_and_the_url(browser_page, live_server):
    page, _watch = browser_page
    page.goto(PAGE)
    wait_for_draw(page, 1)
    page.evaluate("() => { window.__chart = TSMetrics.charts.get('chart-cpu_usage'); }")
    page.get_by_label("1h", exact=True).check()
    page.wait_for_url(f"**{PAGE}?range=1h")
    wait_for_draw(page, 2)
    assert page.evaluate("() => TSMetrics.charts.get('chart-cpu_usage') === window.__chart")
    expect(page.locator("#charts .range-summary")).to_contain_text("the last hour")
    link = page.locator("#chart-cpu_usage .chart-links a").first.get_attribute("href")
    assert "granularity=1m" in link  # the links follow the new range too


def test_auto_refresh_choice_survives_a_reload(browser_page):
    page, _watch = browser_page
    page.goto(PAGE)
    wait_for_draw(page, 1)
    switch = page.get_by_label("Refresh every 30 s")
    expect(switch).to_be_checked()
    switch.uncheck()
    page.reload()
    wait_for_draw(page, 1)
    expect(page.get_by_label("Refresh every 30 s")).not_to_be_checked()
    assert page.get_attribute("html", "data-auto-refresh") == "off"
    page.get_by_label("Refresh every 30 s").check()
    page.reload()
    wait_for_draw(page, 1)
    expect(page.get_by_label("Refresh every 30 s")).to_be_checked()
    assert page.get_attribute("html", "data-auto-refresh") == "on"
