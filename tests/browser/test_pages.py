"""Every page in a real browser (Debian's Chromium): no console error, one global, and both
kinds of chart drawn by static/js/charts.js, before and after an htmx swap. (/swagger, which
is not a dashboard page, is test_dashboard.py's.)

Waits use selectors and Playwright's expectations only (the page's Content-Security-Policy
refuses a string predicate); page.evaluate reads the page's state.
"""

from __future__ import annotations

import pytest

from tests.browser.test_dashboard import expect, open_details, wait_for_draw

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PAGE = "/dashboard/abtests/feature_a"
PAGES = [
    "/dashboard/",
    PAGE,
    PAGE + "/charts/response_time",
    PAGE + "/comparison",
    PAGE + "/lift/response_time",
    "/dashboard/manage/abtests",
    "/dashboard/manage/abtests/feature_a",
    "/dashboard/manage/metrics/",
    "/dashboard/manage/metrics/response_time",
    "/logout",
]
# The globals of the vendored scripts (htmx, Chart.js; the date adapter registers into
# Chart), and ours: one namespace.
EXPECTED_GLOBALS = {"htmx", "Chart", "TSMetrics"}
METRICS = ("add_to_cart", "cpu_usage", "ram_usage", "response_time")

# Per chart frame on the page: its id and kind, whether the registry holds the Chart its
# canvas shows, and how many pixels of its plot area are the treatment's colour (#d55e00,
# the second variant: its line in a time series, its lift line); and the registry against
# Chart.js's own list, so no chart is kept after htmx removed its canvas. One synchronous
# run, so no chart loads in between.
_SNAPSHOT = """() => {
    const frames = Array.from(document.querySelectorAll('[data-chart]'))
        .filter(frame => frame.querySelector('canvas'))
        .map(frame => {
            const canvas = frame.querySelector('canvas');
            const chart = Chart.getChart(canvas);
            const ratio = chart.currentDevicePixelRatio, area = chart.chartArea;
            const pixels = canvas.getContext('2d').getImageData(
                area.left * ratio, area.top * ratio, area.width * ratio, area.height * ratio).data;
            let painted = 0;
            for (let i = 0; i < pixels.length; i += 4) {
                const [r, g, b, a] = pixels.slice(i, i + 4);
                if (Math.abs(r - 213) < 32 && Math.abs(g - 94) < 32 && b < 48 && a > 200) painted++;
            }
            return {id: frame.id, kind: frame.dataset.chart,
                    registered: TSMetrics.charts.get(frame.id) === chart, painted: painted};
        });
    return {frames: frames, ids: TSMetrics.charts.ids().sort(),
            instances: Object.keys(Chart.instances).length};
}"""
# A request in flight (htmx marks its element or indicator), or a chart swapped in and
# not drawn yet (htmx calls onLoad once the swap settles).
_UNSETTLED = "[data-chart]:has(canvas):not([data-drawn]), .htmx-request"


def _globals(page) -> set[str]:
    return set(page.evaluate("() => Object.getOwnPropertyNames(window)"))


def _baseline_globals(context) -> set[str]:
    """The globals of a scriptless page of the same origin (a secure context has more APIs)."""
    blank = context.new_page()
    blank.route("**/blank", lambda route: route.fulfill(body="<!doctype html><title>-</title>"))
    blank.goto("/blank")
    names = _globals(blank)
    blank.close()
    return names


def _show_lift(page, metric: str) -> None:
    """Open the detailed results, scroll the lift chart of `metric` into view (it loads then)
    and wait until it is drawn."""
    page.wait_for_selector(f"#lift-{metric}", state="attached")
    open_details(page)
    page.evaluate("(id) => document.getElementById(id).scrollIntoView()", f"lift-{metric}")
    page.wait_for_selector(f"#lift-{metric}[data-drawn] canvas", state="attached")


def _assert_all_drawn(page, kinds: set[str]) -> list[dict]:
    """Once nothing is loading: every chart frame painted and registered, nothing else kept."""
    expect(page.locator(_UNSETTLED)).to_have_count(0)
    snapshot = page.evaluate(_SNAPSHOT)
    frames = snapshot["frames"]
    assert {frame["kind"] for frame in frames} == kinds, frames
    for frame in frames:
        assert frame["registered"], frame
        assert frame["painted"] >= 200, frame  # a line, not only axes and grid
    assert snapshot["ids"] == sorted(frame["id"] for frame in frames)
    assert snapshot["instances"] == len(frames)
    return frames


@pytest.mark.parametrize("path", PAGES)
def test_every_page_loads_clean_with_one_global(browser_page, path):
    page, watch = browser_page
    baseline = _baseline_globals(page.context)
    page.goto(path)
    page.wait_for_load_state("networkidle")
    expect(page.locator(_UNSETTLED)).to_have_count(0)  # the lazy panel and charts are in
    watch.assert_clean()
    assert _globals(page) - baseline == EXPECTED_GLOBALS
    assert page.evaluate("() => Object.keys(TSMetrics).sort()") == [
        "all",
        "charts",
        "localTime",
        "localizeTimes",
        "timeZone",
        "utcLabel",
    ]


def test_series_and_lift_charts_draw_and_redraw_after_an_htmx_swap(browser_page):
    page, watch = browser_page
    page.goto(PAGE)
    wait_for_draw(page, 1)
    _show_lift(page, "response_time")
    before = _assert_all_drawn(page, {"series", "lift"})
    assert {f"chart-{metric}" for metric in METRICS} <= {frame["id"] for frame in before}

    # The controls swap #charts; the results panel follows the range and swaps too.
    page.get_by_label("6h", exact=True).check()
    page.wait_for_url(f"**{PAGE}?range=6h")
    wait_for_draw(page, 2)
    page.wait_for_selector("#comparison input[name=range][value='6h']", state="attached")
    _show_lift(page, "response_time")
    after = _assert_all_drawn(page, {"series", "lift"})
    assert "lift-response_time" in {frame["id"] for frame in after}
    assert int(page.get_attribute("html", "data-lift-drawn")) >= 2
    watch.assert_clean()


def test_a_registered_chart_updates_in_place(browser_page):
    """The update path: new data into the same Chart, as an in-place refresh would do."""
    page, watch = browser_page
    page.goto(PAGE + "?range=6h")
    wait_for_draw(page, 1)
    result = page.evaluate(
        """() => {
            // One synchronous run: no lift chart can load meanwhile and change the count.
            const instances = Object.keys(Chart.instances).length;
            const id = 'chart-response_time';
            const chart = TSMetrics.charts.get(id);
            const island = document.querySelector('#' + id + ' script[type="application/json"]');
            const body = JSON.parse(island.textContent);
            const full = chart.data.datasets.map(d => d.data.length);
            body.series.forEach(s => { s.points = s.points.slice(0, 10); });
            const updated = TSMetrics.charts.update(id, body);
            const cut = chart.data.datasets.map(d => d.data.filter(p => p.y !== null).length);
            // The frame's canvas shows this chart already: drawing it again updates it.
            const redrawn = TSMetrics.charts.draw(island);
            return {same: updated === chart && redrawn === chart, full: full, cut: cut,
                    back: chart.data.datasets.map(d => d.data.length),
                    added: Object.keys(Chart.instances).length - instances};
        }"""
    )
    assert result["same"] is True
    assert result["cut"] == [10, 10]
    assert result["back"] == result["full"] and min(result["full"]) >= 300
    assert result["added"] == 0
    watch.assert_clean()
