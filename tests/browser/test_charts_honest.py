"""Honest charts, focus and errors, dark mode (issue 16), in Debian's Chromium."""

from __future__ import annotations

import re

import pytest

from tests.browser.test_dashboard import expect, wait_for_draw
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PAGE = "/dashboard/abtests/feature_a"

_AXES = """() => Array.from(document.querySelectorAll('#charts .chart canvas')).map(canvas => {
    const chart = Chart.getChart(canvas);
    // The points on the axis: a bucket that starts before the range's start is off it.
    const shown = d => d.data.filter(p => p.y !== null && p.x >= chart.scales.x.min
                                         && p.x <= chart.scales.x.max);
    const ys = chart.data.datasets.flatMap(d => shown(d).map(p => p.y));
    const lows = chart.data.datasets.flatMap(d => shown(d).map(p => p.low));
    return {xMin: chart.scales.x.min, xMax: chart.scales.x.max,
            yMin: chart.scales.y.min, yMax: chart.scales.y.max,
            lineMin: Math.min(...ys), lineMax: Math.max(...ys), bandMin: Math.min(...lows),
            ticks: chart.scales.x.ticks.map(t => chart.scales.x.options.ticks.callback(t.value)),
            colours: chart.data.datasets.map(d => d.borderColor)};
})"""


def _view(page) -> tuple[int, int]:
    return page.evaluate(
        """() => { const c = document.getElementById('charts');
                   return [Date.parse(c.dataset.viewStart), Date.parse(c.dataset.viewEnd)]; }"""
    )


def test_axes_span_the_range_fit_the_lines_and_show_dates(browser_page):
    page, watch = browser_page
    page.goto(PAGE + "?range=1h")
    wait_for_draw(page, 1)
    start, end = _view(page)
    axes = page.evaluate(_AXES)
    for axis in axes:
        # The x axis of a 1 h view ends at the range's end, not at the last sample.
        assert (axis["xMin"], axis["xMax"]) == (start, end), axis
        # The y axis fits the means...
        assert axis["yMin"] <= axis["lineMin"] and axis["yMax"] >= axis["lineMax"], axis
    # ...and clips the band (min to max), which reaches below it.
    assert any(axis["bandMin"] < axis["yMin"] for axis in axes), axes
    # The box scales a clipped chart to its whole band.
    clipped = next(i for i, axis in enumerate(axes) if axis["bandMin"] < axis["yMin"])
    page.locator("#charts .chart").nth(clipped).get_by_label("Scale to the whole band").check()
    before, after = axes[clipped], page.evaluate(_AXES)[clipped]
    assert after["yMin"] <= after["bandMin"] and after["yMin"] < before["yMin"], (before, after)
    frame = page.locator("#chart-response_time")

    page.get_by_label("7d", exact=True).check()
    page.wait_for_url(f"**{PAGE}?range=7d")
    wait_for_draw(page, 2)
    ticks = page.evaluate(_AXES)[0]["ticks"]
    # Dates on a multi-day axis (en-GB: "3 Dec"), in the page's one locale and zone.
    assert any(any(month in str(tick) for month in ("Nov", "Dec", "Jan")) for tick in ticks), ticks
    frame.get_by_text("Show as table").click()
    decimals = page.evaluate(
        "() => JSON.parse(document.querySelector('#chart-response_time .chart-data').textContent)"
        ".decimals"
    )
    cell = frame.locator("[data-chart-table] tbody td").first
    # The metric's display decimals, exactly.
    expect(cell).to_have_text(re.compile(rf"^-?[\d,]+\.\d{{{decimals}}}$"))
    sticky = frame.locator("[data-chart-table] thead").evaluate(
        "el => getComputedStyle(el).position"
    )
    assert sticky == "sticky"
    watch.assert_clean()


def test_forms_move_the_focus_and_show_errors(browser_page):
    page, watch = browser_page
    page.goto("/dashboard/")
    page.get_by_role("link", name="New A/B test").click()
    expect(page.locator("#abtest-new-name")).to_be_focused()
    page.locator("#abtest-new-name").fill("Bad Name")
    page.locator("#abtest-new-variants").fill("")
    with page.expect_response(lambda r: r.status == 422):
        page.get_by_role("button", name="Create A/B test").click()
    field = page.locator("#abtest-new-name")
    expect(field).to_be_focused()
    expect(field).to_have_attribute("aria-invalid", "true")
    colour = field.evaluate("el => getComputedStyle(el).borderTopColor")
    assert colour == "rgb(207, 34, 46)"  # --error-line, not .manage's grey
    page.get_by_role("link", name="Cancel").click()
    expect(page.locator("#abtest-new")).to_have_count(0)
    expect(page.get_by_role("link", name="New A/B test")).to_be_focused()
    # Demo mode has nobody logged in: no "Log out".
    expect(page.get_by_role("link", name="Log out")).to_have_count(0)
    # page.evaluate lets Playwright deliver the console events that are on their way.
    wait_for(lambda: page.evaluate("() => true") and watch.errors, 5, "the console's 422")
    assert all("422" in error for error in watch.errors), watch.errors
    watch.errors.clear()


def test_dark_mode_reaches_the_charts(chromium, live_server):
    context = chromium.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}, color_scheme="dark"
    )
    page = context.new_page()
    page.goto(PAGE)
    wait_for_draw(page, 1)
    background = page.evaluate("() => getComputedStyle(document.documentElement).backgroundColor")
    assert background == "rgb(13, 17, 23)"
    axis = page.evaluate(_AXES)[0]
    assert axis["colours"] == ["#56b4e9", "#ff8c42"]  # the dark scheme's variant colours
    tick_colour = page.evaluate(
        "() => Chart.getChart(document.querySelector('#charts canvas'))"
        ".scales.y.options.ticks.color"
    )
    assert tick_colour == "#9da7b3"
    context.close()
