"""A percentile line and band in Debian's Chromium: the demo's response_time keeps distributions.

The chart must draw the fields its JSON twin answers (line: q.p95, band: q.p5 to
q.p95), and the line and band controls must survive a refresh and a reload, as
the range and granularity do; back returns to the view before. Waits use selectors
and Playwright's expectations.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit
from urllib.request import urlopen

import pytest

from tests.browser.test_dashboard import expect, wait_for_draw

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PAGE = "/dashboard/abtests/feature_a"
# Per dataset of the response_time chart: its label, and [y, low, high, q, a] of each drawn point.
DRAWN = """() => TSMetrics.charts.get('chart-response_time').data.datasets.map(d =>
    [d.label, d.data.filter(p => p.raw).map(p => [p.y, p.low, p.high, p.raw.q, p.raw.a])])"""


def _drawn(page) -> dict[str, list]:
    return dict(page.evaluate(DRAWN))


def _twins(page, base_url: str) -> dict[str, dict]:
    """The /metrics bodies of the response_time chart's JSON links, by variant."""
    links = page.locator("#chart-response_time .chart-links a[href^='/metrics']")
    bodies = {}
    for href in links.evaluate_all("links => links.map(a => a.getAttribute('href'))"):
        assert parse_qs(urlsplit(href).query)["quantiles"] == ["p5,p95"]
        with urlopen(base_url + href) as response:  # noqa: S310 - the local test server
            body = json.load(response)
        bodies[body["variant"]] = body
    return bodies


def _assert_p95_line_with_p5_p95_band(page, base_url: str) -> None:
    drawn, twins = _drawn(page), _twins(page, base_url)
    assert set(drawn) == set(twins) == {"control", "treatment"}
    for variant, points in drawn.items():
        answered = twins[variant]["datapoints"]
        assert len(points) == len(answered) > 100
        for (y, low, high, q, _mean), datapoint in zip(points, answered, strict=True):
            assert q == datapoint["q"]
            assert [y, low, high] == [q["p95"], q["p5"], q["p95"]]
            assert low <= high


def test_p95_line_and_p5_p95_band_survive_refresh_and_reload(browser_page, live_server):
    page, watch = browser_page
    page.goto(PAGE + "?range=6h")
    wait_for_draw(page, 1)
    expect(page.locator("#line")).to_have_value("mean")
    expect(page.locator("#band")).to_have_value("p5-p95")
    # The default: the mean, and the p5-p95 band.
    for points in _drawn(page).values():
        assert all([y, low, high] == [a, q["p5"], q["p95"]] for y, low, high, q, a in points)

    page.select_option("#line", "p95")
    page.wait_for_url("**line=p95**")
    wait_for_draw(page, 2)
    expect(page.locator("#chart-response_time .chart-meta")).to_have_attribute("data-line", "p95")
    _assert_p95_line_with_p5_p95_band(page, live_server.url)
    # The table shows the percentiles drawn beside mean, minimum and maximum.
    frame = page.locator("#chart-response_time")
    frame.locator("summary").click()
    heads = frame.locator("[data-chart-table] thead tr").nth(1).locator("th")
    expect(heads).to_have_text(["mean", "min", "max", "p5", "p95"] * 2)

    page.evaluate("() => document.getElementById('refresh-now').click()")
    wait_for_draw(page, 3)
    expect(page.locator("#line")).to_have_value("p95")
    expect(page.locator("#band")).to_have_value("p5-p95")
    _assert_p95_line_with_p5_p95_band(page, live_server.url)

    page.reload()
    wait_for_draw(page, 1)
    expect(page.locator("#line")).to_have_value("p95")
    expect(page.locator("#band")).to_have_value("p5-p95")
    _assert_p95_line_with_p5_p95_band(page, live_server.url)

    # Back: the view before, the mean line and its controls.
    page.go_back()
    page.wait_for_url("**/feature_a?range=6h")
    expect(page.locator("#line")).to_have_value("mean")
    expect(page.locator("#chart-response_time .chart-meta")).to_have_attribute("data-line", "mean")
    expect(page.locator("#chart-response_time[data-drawn]")).to_be_attached()
    for points in _drawn(page).values():
        assert all([y, low, high] == [a, q["p5"], q["p95"]] for y, low, high, q, a in points)
    watch.assert_clean()
