"""Where /login sends a browser after login, as Chromium's own URL parser reads it.

The independent reference for tests/security/test_redirects.py: every Location
the app answers for a table of hostile `next` values must resolve, by the WHATWG
URL standard as Chromium implements it, to this site's origin.
"""

from __future__ import annotations

import pytest

from tests.security.redirect_cases import NEXT_CASES

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ORIGIN = "http://app.test"
_RESOLVE = (
    "([base, urls]) => urls.map(u => { try { return new URL(u, base).origin; }"
    " catch (e) { return 'invalid'; } })"
)


def test_every_location_from_login_stays_on_this_origin(client, chromium):
    page = chromium.new_page()
    try:

        def resolve(urls: list[str]) -> list[str]:
            return page.evaluate(_RESOLVE, [ORIGIN + "/login", urls])

        raws = [raw for raw, _expected in NEXT_CASES]
        # The table is worth testing: a browser would leave the site for many raw values.
        raw_origins = resolve(raws)
        assert sum(origin not in (ORIGIN, "invalid") for origin in raw_origins) >= 20
        # Demo mode (the `client` fixture) redirects at once, through the same check.
        responses = [client.get("/login", query_string={"next": raw}) for raw in raws]
        assert [r.status_code for r in responses] == [302] * len(raws)
        assert resolve([r.headers["Location"] for r in responses]) == [ORIGIN] * len(raws)
    finally:
        page.close()
