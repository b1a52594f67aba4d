"""The range controls in Debian's Chromium (issue 16): a custom range applies on Apply or Enter
only, is checked in the browser with the message next to the fields, is put back after a
refused request and reaches the URL well formed; presets apply when chosen, not when passed
with the arrow keys; a back the server cannot answer says so and leaves a consistent page.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.browser.test_dashboard import expect, wait_for_draw
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PAGE = "/dashboard/abtests/feature_a"
PARIS = ZoneInfo("Europe/Paris")
_MOMENT = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
_WELL_FORMED = re.compile(f"start={_MOMENT}&end={_MOMENT}")


def _page_requests(page) -> list[str]:
    """The URLs of every request the range controls send from now on (not the auto-refresh's)."""
    sent: list[str] = []
    page.on("request", lambda r: r.headers.get("hx-trigger") == "controls" and sent.append(r.url))
    return sent


def test_typing_a_date_sends_nothing_until_apply(browser_page):
    page, watch = browser_page
    page.goto(PAGE)
    wait_for_draw(page, 1)
    sent = _page_requests(page)
    start_field, end_field = page.get_by_label("From"), page.get_by_label("to", exact=True)
    end = datetime.now(PARIS).replace(second=0, microsecond=0) - timedelta(hours=1)
    start = end - timedelta(hours=3)
    # Field by field, segment by segment, as a person types.
    start_field.fill(f"{start:%Y-%m-%dT%H:%M}")
    end_field.click()
    end_field.press_sequentially(f"{end:%d%m%Y%H%M}", delay=10)
    expect(page.get_by_label("Custom")).to_be_checked()
    page.wait_for_load_state("networkidle")
    assert sent == []

    # End before start: refused here, next to the fields, focus on the field to fix.
    end_field.fill(f"{start - timedelta(hours=1):%Y-%m-%dT%H:%M}")
    page.get_by_role("button", name="Apply").click()
    message = page.locator("#custom-range-error")
    expect(message).to_have_text("The end must be after the start.")
    expect(end_field).to_be_focused()
    expect(end_field).to_have_attribute("aria-invalid", "true")
    # A year out of range.
    start_field.fill("1999-12-31T10:00")
    start_field.press("Enter")
    expect(message).to_contain_text("the year must be between 2000 and 2099")
    expect(start_field).to_be_focused()
    page.wait_for_load_state("networkidle")
    assert sent == []

    start_field.fill(f"{start:%Y-%m-%dT%H:%M}")
    end_field.fill(f"{end:%Y-%m-%dT%H:%M}")
    expect(message).to_be_empty()
    end_field.press("Enter")
    utc = [f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}" for moment in (start, end)]
    page.wait_for_url(f"**{PAGE}?range=custom&start={utc[0]}&end={utc[1]}")
    wait_for_draw(page, 2)
    assert len(sent) == 1 and _WELL_FORMED.search(page.url)
    watch.assert_clean()


def test_a_refused_range_puts_the_form_back(browser_page):
    page, watch = browser_page
    page.goto(PAGE + "?range=6h")
    wait_for_draw(page, 1)
    start_field = page.get_by_label("From")
    shown = start_field.input_value()
    # A page whose fields allow more than the server does (an older page, say).
    page.evaluate("() => document.getElementById('start-local').min = '1990-01-01T00:00'")
    start_field.fill("1995-06-01T10:00")
    with page.expect_response(lambda r: r.status == 400):
        start_field.press("Enter")
    message = page.locator("#custom-range-error")
    expect(message).to_contain_text("start: the year must be between 2000 and 2099")
    expect(start_field).to_have_value(shown)
    expect(page.get_by_label("6h", exact=True)).to_be_checked()
    assert page.url.endswith(f"{PAGE}?range=6h")
    assert watch.errors and all("400" in error for error in watch.errors), watch.errors
    watch.errors.clear()


def test_presets_apply_when_chosen_not_when_passed(browser_page):
    page, _watch = browser_page
    page.goto(PAGE + "?range=1h")
    wait_for_draw(page, 1)
    sent = _page_requests(page)
    page.get_by_label("1h", exact=True).focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    expect(page.get_by_label("7d", exact=True)).to_be_checked()
    expect(page.get_by_label("7d", exact=True)).to_be_focused()
    page.wait_for_load_state("networkidle")
    assert sent == [] and page.url.endswith("?range=1h")
    page.keyboard.press("Space")
    page.wait_for_url(f"**{PAGE}?range=7d")
    wait_for_draw(page, 2)
    page.get_by_label("30d", exact=True).click()
    page.wait_for_url(f"**{PAGE}?range=30d")
    wait_for_draw(page, 3)


def test_a_back_the_server_cannot_answer_says_so(browser_page, live_server):
    page, watch = browser_page
    page.goto(PAGE)
    wait_for_draw(page, 1)
    page.get_by_label("6h", exact=True).check()
    page.wait_for_url(f"**{PAGE}?range=6h")
    wait_for_draw(page, 2)
    with live_server.database_down():
        with page.expect_response(lambda r: r.status == 503):
            page.go_back()
        expect(page.locator("#page-status")).to_contain_text("Could not go back to that view")
    # The address is the view on screen again, and the form shows it too.
    assert page.url.endswith(f"{PAGE}?range=6h")
    expect(page.get_by_label("6h", exact=True)).to_be_checked()
    # The console has the 503 and htmx's own report of the failed restore, and only those.
    expected = ("503", "htmx:historyCacheMissLoadError")
    # page.evaluate lets Playwright deliver the console events that are on their way.
    wait_for(lambda: page.evaluate("() => true") and len(watch.errors) >= 2, 5, "2 console errors")
    assert all(any(e in error for e in expected) for error in watch.errors), watch.errors
    watch.errors.clear()
