"""The results panel on a phone (390 x 844, Debian's Chromium): a card per treatment.

At 390 px every treatment's verdict and lift must be on screen without scrolling
sideways; at 1280 px the panel stays a table. Also the inference is stated in words.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import Watch
from tests.browser.test_dashboard import expect, open_details

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PAGE = "/dashboard/abtests/feature_a"
WIDTH, HEIGHT = 390, 844


@pytest.fixture
def phone(chromium, live_server):
    """A page at 390 x 844 (a phone), watched for console errors."""
    context = chromium.new_context(
        base_url=live_server.url,
        viewport={"width": WIDTH, "height": HEIGHT},
        device_scale_factor=3,
        is_mobile=True,
        has_touch=True,
        locale="en-GB",
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    watch = Watch(live_server.url)
    watch.attach(page)
    yield page
    context.close()
    watch.assert_clean()


def _inside(page, locator) -> None:
    """The element is visible and lies within the viewport's width."""
    locator.scroll_into_view_if_needed()
    expect(locator).to_be_visible()
    box = locator.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, box


def test_each_treatment_shows_its_verdict_and_lift_without_scrolling_sideways(phone, artifacts):
    phone.goto(PAGE)
    panel = phone.locator("#comparison")
    expect(panel.locator("table.comparison-table[data-metric]")).to_have_count(4)
    treatments = panel.locator("tr[data-variant=treatment]")
    expect(treatments).to_have_count(4)
    open_details(phone)
    for index in range(4):
        row = treatments.nth(index)
        _inside(phone, row.locator("[data-field=verdict]"))
        _inside(phone, row.locator("[data-field=relativeLift]"))
        _inside(phone, row.locator("[data-field=lift]"))
    # No sideways scrolling: not the page, nor any of the panel's tables.
    widths = phone.evaluate(
        """() => [document.documentElement.scrollWidth,
                  ...Array.from(document.querySelectorAll('#comparison .table-scroll'))
                      .map(t => t.scrollWidth - t.clientWidth)]"""
    )
    assert widths[0] <= WIDTH, widths
    assert all(extra <= 0 for extra in widths[1:]), widths
    # Cards: the header row is hidden, each cell carries its label.
    expect(panel.locator("table.comparison-table thead").first).to_be_hidden()
    label = treatments.first.locator("td[data-label=Verdict]").evaluate(
        "td => getComputedStyle(td, '::before').content"
    )
    assert label == '"Verdict: "'
    statement = panel.locator(".inference-statement")
    expect(statement).to_contain_text("Always valid: you may look at any time.")
    _inside(phone, statement)
    panel.screenshot(path=str(artifacts / "results-390.png"))


def test_wide_screens_keep_the_table(browser_page):
    page, _watch = browser_page
    page.goto(PAGE)
    panel = page.locator("#comparison")
    expect(panel.locator("table.comparison-table[data-metric]")).to_have_count(4)
    open_details(page)
    expect(panel.locator("table.comparison-table thead").first).to_be_visible()
    display = panel.locator("tr[data-variant=treatment]").first.evaluate(
        "tr => getComputedStyle(tr).display"
    )
    assert display == "table-row"
    expect(panel.locator(".analysis-unit").first).to_contain_text("Analysis unit:")
