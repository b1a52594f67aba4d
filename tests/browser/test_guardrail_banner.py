"""The guardrail banner in a real browser: shown on the A/B test page, gone after a refresh."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from tsmetrics.guardrails.watch import Watcher
from tsmetrics.settings import load_settings

pytestmark = pytest.mark.browser
PAGE = "/dashboard/abtests/feature_a"


def expect(target):
    """Playwright's expect(), imported late so a missing package skips instead of erroring."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


@pytest.fixture
def ram_guarded(demo_database: str) -> Iterator[psycopg.Connection]:
    """feature_a's ram_usage as a guardrail, evaluated once; the demo's plans restored after."""
    with psycopg.connect(demo_database, autocommit=True) as conn:
        # The demo seed plans every metric (1% MDE) and guards two of feature_a's.
        seeded = conn.execute(
            "SELECT abtest_id, metric_id, mde_relative, guardrail FROM abtest_metric_plans"
        ).fetchall()
        conn.execute(
            "INSERT INTO abtest_metric_plans (abtest_id, metric_id, guardrail)"
            " SELECT a.id, m.id, true FROM abtests a, metrics m"
            " WHERE a.name = 'feature_a' AND m.name = 'ram_usage'"
            " ON CONFLICT (abtest_id, metric_id) DO UPDATE SET guardrail = true"
        )
        settings = load_settings({"DATABASE_URL": demo_database}, environ={})
        assert Watcher(settings).run(once=True) == 0
        try:
            yield conn
        finally:
            for table in ("guardrail_deliveries", "guardrail_states", "abtest_metric_plans"):
                conn.execute(f"DELETE FROM {table}")
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO abtest_metric_plans"
                    " (abtest_id, metric_id, mde_relative, guardrail) VALUES (%s, %s, %s, %s)",
                    seeded,
                )


def test_banner_names_the_raised_guardrail_and_follows_the_refresh(browser_page, ram_guarded):
    page, _watch = browser_page
    page.goto(PAGE)
    banner = page.locator("#guardrail-banner [role=alert]")
    expect(banner).to_contain_text("ram_usage in treatment")
    expect(banner).to_contain_text("95% interval")
    # The guardrail is dropped; the page's refresh brings the banner up to date.
    ram_guarded.execute("UPDATE abtest_metric_plans SET guardrail = false")
    page.get_by_role("button", name="Refresh now").click()
    expect(page.locator("#guardrail-banner [role=alert]")).to_have_count(0)
    expect(page.locator("#guardrail-banner")).to_have_count(1)
