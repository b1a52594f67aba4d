"""The results panel and the management forms in a real browser (Debian's Chromium).

Waits use selectors and Playwright's expectations only: a string predicate
would be evaluated in the page, which its Content-Security-Policy refuses.
"""

from __future__ import annotations

import psycopg
import pytest

from tests.browser.test_dashboard import expect, open_details, wait_for_draw

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PAGE = "/dashboard/abtests/feature_a"
CREATED = "browser_made"


def lift_points(page, metric: str) -> list[list]:
    """[label, points drawn] of the lift chart's lines (the interval edges left out)."""
    return page.evaluate(
        """(metric) => Chart.getChart(document.querySelector('#lift-' + metric + ' canvas'))
               .data.datasets.filter(d => !d.band)
               .map(d => [d.label, d.data.filter(p => p.y !== null).length])""",
        metric,
    )


def test_results_panel_and_lift_chart(browser_page):
    page, watch = browser_page
    page.goto(PAGE)
    wait_for_draw(page, 1)
    panel = page.locator("#comparison")
    # The panel loads after the page, over the page's range (24 hours).
    expect(panel.locator("table.comparison-table[data-metric]")).to_have_count(4)
    # Percentile tables for the demo's three distribution metrics, not add_to_cart.
    expect(panel.locator("table.quantile-table")).to_have_count(3)
    assert panel.get_attribute("data-view") == "24h"
    verdicts = panel.locator("tr[data-variant=treatment] .verdict")
    expect(verdicts).to_have_count(4)
    colours = verdicts.evaluate_all(
        "els => els.map(e => [e.dataset.value, getComputedStyle(e).backgroundColor])"
    )
    by_verdict = {verdict: colour for verdict, colour in colours}
    assert by_verdict.get("better") in (None, "rgb(218, 251, 225)")
    assert by_verdict.get("worse") in (None, "rgb(255, 241, 240)")
    assert "better" in by_verdict and "worse" in by_verdict
    assert panel.locator("[data-srm]").count() == 0

    lift = page.locator("#lift-response_time")
    open_details(page)
    lift.scroll_into_view_if_needed()
    page.wait_for_selector("#lift-response_time[data-drawn] canvas")
    ((label, points),) = lift_points(page, "response_time")
    assert label == "treatment" and points >= 40  # 24 h of 30-minute buckets
    lift.get_by_text("Show as table").click()
    expect(lift.locator("table tbody tr")).to_have_count(points)

    # The controls move the page to another range: the panel follows.
    page.get_by_label("6h", exact=True).check()
    page.wait_for_url(f"**{PAGE}?range=6h")
    # Its own form carries the range it was computed for.
    page.wait_for_selector("#comparison input[name=range][value='6h']", state="attached")
    expect(panel.locator("table.comparison-table[data-metric]")).to_have_count(4)
    href = panel.locator(".range-summary a").first.get_attribute("href")
    assert href.startswith("/abtest/feature_a/compare?start=")
    page.wait_for_load_state("networkidle")  # the lift charts in view load again
    watch.assert_clean()


@pytest.fixture
def cleanup(demo_database):
    """Remove the A/B test the form creates, so the other browser tests see the demo data only."""
    yield
    with psycopg.connect(demo_database, autocommit=True) as conn:
        conn.execute("DELETE FROM abtests WHERE name = %s", (CREATED,))


def _expected_conflicts(watch) -> None:
    """The browser logs each 409 answer in its console; those, and only those, are expected."""
    assert watch.errors and all("409" in error for error in watch.errors), watch.errors
    watch.errors.clear()


def test_create_an_abtest_without_reloading_the_page(browser_page, cleanup):
    page, watch = browser_page
    page.goto("/dashboard/")
    rows = page.locator("#abtests tbody tr")
    expect(rows).to_have_count(2)
    page.evaluate("() => { window.samePage = true; }")
    page.get_by_role("link", name="New A/B test").click()
    form = page.locator("#abtest-new")
    name = form.locator("#abtest-new-name")
    name.fill("Bad Name")
    name.press("Tab")  # leaving the field checks it: the message appears beside it
    expect(form.locator("#abtest-new-name-error")).to_contain_text("Must be 1 to 50 of a-z")
    expect(form.locator("#abtest-new-name")).to_have_attribute("aria-invalid", "true")
    form.locator("#abtest-new-name").fill(CREATED)
    form.locator("#abtest-new-title").focus()
    expect(form.locator("#abtest-new-name-error")).to_be_empty()
    form.locator("#abtest-new-title").fill("Made in a browser")
    form.locator("#abtest-new-variants").fill("control, fast, slow")
    form.locator("#abtest-new-expectedSplit").fill("2:1:1")
    form.get_by_role("button", name="Create A/B test").click()
    expect(form.locator(".notice-success")).to_contain_text(f"Created {CREATED}")
    # The overview asked for its list again: the new test is there, no reload needed.
    expect(rows).to_have_count(3)
    expect(page.locator("#abtests")).to_contain_text("control, fast, slow")
    assert page.evaluate("() => window.samePage") is True

    # The same name again: the field check says so, and so does the 409 of a submission.
    page.locator("#abtest-new-name").fill(CREATED)
    page.locator("#abtest-new-name").press("Tab")
    expect(page.locator("#abtest-new-name-error")).to_contain_text("already exists")
    with page.expect_response(lambda response: response.status == 409):
        page.get_by_role("button", name="Create A/B test").click()
    expect(page.locator("#abtest-new-name-error")).to_contain_text("already exists")
    expect(page.locator("#abtest-new-name")).to_have_value(CREATED)
    assert page.evaluate("() => window.samePage") is True
    _expected_conflicts(watch)

    # Archive it (after a confirmation) from its own page: it leaves the overview.
    page.goto(f"/dashboard/manage/abtests/{CREATED}")
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Archive").click()
    expect(page.locator("#abtest-edit .status")).to_have_text("archived")
    page.goto("/dashboard/")
    expect(rows).to_have_count(2)
    watch.assert_clean()


@pytest.fixture
def drop_metric(demo_database):
    """Remove the metric the form creates, so the other browser tests see the demo data only."""
    yield
    with psycopg.connect(demo_database, autocommit=True) as conn:
        conn.execute("DELETE FROM metrics WHERE name = %s", (CREATED,))


def test_a_metric_keeps_a_distribution_set_by_keyboard(browser_page, drop_metric):
    page, watch = browser_page
    page.goto("/dashboard/manage/metrics/")
    form = page.locator("#metric-new")
    form.locator("#metric-new-name").fill(CREATED)
    box = form.get_by_label("Keep a distribution (percentiles)")
    box.focus()
    box.evaluate("(el) => { el.dataset.before = 'swap'; }")
    # Space ticks it; its field check swaps its wrapper, and the focus stays on the box.
    page.keyboard.press("Space")
    expect(box).not_to_have_attribute("data-before", "swap")
    expect(box).to_be_checked()
    expect(box).to_be_focused()
    form.get_by_role("button", name="Add metric").click()
    expect(form.locator(".notice-success")).to_contain_text(f"Added {CREATED}")
    row = page.locator("#metrics tr", has=page.get_by_role("link", name=CREATED, exact=True))
    expect(row.locator("td").nth(4)).to_have_text("yes")
    assert page.request.get(f"/metrics/catalogue/{CREATED}").json()["distribution"] is True
    watch.assert_clean()
