"""The A/B test page answers first (issue 16), in Debian's Chromium: under the controls a
scorecard (a row per metric, a card on phones), then the charts, each with its legend; the
detailed results collapsed below the scorecard. The overview becomes cards on phones.
"""

from __future__ import annotations

import pytest

from tests.browser.test_dashboard import expect, open_details, wait_for_draw
from tests.browser.test_phone import WIDTH, phone  # noqa: F401 - the fixture

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PAGE = "/dashboard/abtests/feature_a"
METRICS = ["add_to_cart", "cpu_usage", "ram_usage", "response_time"]


def test_scorecard_then_charts_within_the_first_screen(browser_page, artifacts):
    page, watch = browser_page
    page.goto(PAGE)
    wait_for_draw(page, 1)
    rows = page.locator("table.scorecard tbody tr")
    expect(rows).to_have_count(4)
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.scoreMetric)") == METRICS
    scorecard = page.locator("table.scorecard").bounding_box()
    chart = page.locator("#charts .chart").first.bounding_box()
    page.screenshot(path=artifacts / "abtest-scorecard.png")
    # Below the scorecard, and its top on the first screen (900 px high), without scrolling.
    assert scorecard["y"] + scorecard["height"] <= chart["y"] < 900, (scorecard, chart)
    # Each chart has its own legend: its variants, in their colours.
    legend = page.evaluate(
        """() => Array.from(document.querySelectorAll('#charts .chart canvas')).map(canvas => {
            const chart = Chart.getChart(canvas);
            return [chart.options.plugins.legend.display,
                    chart.legend.legendItems.map(item => item.text)];
        })"""
    )
    assert legend == [[True, ["control", "treatment"]]] * 4
    # The same report as the detailed tables: the same verdicts, metric by metric.
    detailed = page.evaluate(
        """() => Array.from(document.querySelectorAll('table.comparison-table[data-metric]'))
             .map(t =>
               [t.dataset.metric, t.querySelector('tr[data-variant=treatment] [data-field=verdict]')
                   .dataset.value])"""
    )
    shown = rows.evaluate_all(
        "rs => rs.map(r => [r.dataset.scoreMetric, r.querySelector('[data-score-verdict]')"
        ".dataset.scoreVerdict])"
    )
    assert shown == detailed
    # The details are collapsed, and open on demand.
    expect(page.locator("table.comparison-table").first).to_be_hidden()
    open_details(page)
    expect(page.locator("table.comparison-table").first).to_be_visible()
    watch.assert_clean()


def test_phone_shows_cards_without_sideways_scrolling(phone):  # noqa: F811
    phone.goto(PAGE)
    card = phone.locator("table.scorecard tbody tr").first
    expect(card).to_be_visible()
    assert card.evaluate("tr => getComputedStyle(tr).display") == "block"
    verdict = card.locator("[data-score-verdict]")
    box = verdict.bounding_box()
    assert box["x"] + box["width"] <= WIDTH
    label = card.locator("td[data-label=Lift]").evaluate(
        "td => getComputedStyle(td, '::before').content"
    )
    assert label == '"Lift: "'
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= WIDTH

    phone.goto("/dashboard/")
    row = phone.locator("#abtests tbody tr").first
    expect(row).to_be_visible()
    assert row.evaluate("tr => getComputedStyle(tr).display") == "block"
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= WIDTH
    for cell in ("Status", "Variants", "Metrics", "Latest sample"):
        box = row.locator(f"td[data-label='{cell}']").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, (cell, box)
