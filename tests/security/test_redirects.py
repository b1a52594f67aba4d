"""`/login?next=...` sends people only to paths of this site, whatever `next` holds.

The reference for "where would a browser go" is Chromium's own URL parser
(the WHATWG URL standard): each Location the app answers is resolved there.
"""

from __future__ import annotations

import pytest

from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.security.helpers import log_in, session_csrf
from tests.support.services import require_service

HOME = "/dashboard/"
ORIGIN = "http://app.test"
# (next as the form or query string carries it, the Location the app must answer).
NEXT_CASES = [
    ("/\t/evil.example", HOME),  # issue 14: the tab went after the `//` check
    ("/\n/x", HOME),  # issue 14: a 500 (a newline in a header)
    ("/\r/evil.example", HOME),
    ("/\r\n/evil.example", HOME),
    ("\t//evil.example", HOME),
    (" //evil.example", HOME),
    ("\x00//evil.example", HOME),
    ("\x1f/\t/evil.example", HOME),
    ("//evil.example", HOME),
    ("///evil.example", HOME),
    ("////evil.example/", HOME),
    ("/\\evil.example", HOME),
    ("\\\\evil.example", HOME),
    ("\\/evil.example", HOME),
    ("/\t\\evil.example", HOME),
    ("/ \\evil.example", HOME),
    ("https://evil.example/", HOME),
    ("HTTPS://evil.example/", HOME),
    ("https:evil.example", HOME),
    ("h\tttps://evil.example", HOME),
    ("javascript:alert(1)", HOME),
    ("java\nscript:alert(1)", HOME),
    (" javascript:alert(1)", HOME),
    ("data:text/html,<script>alert(1)</script>", HOME),
    ("evil.example", HOME),
    ("dashboard/", HOME),
    ("/dashboard/\x00", HOME),
    ("/dashboard/\x7f", HOME),
    ("", HOME),
    # Paths of this site stay as they are (made ASCII, as a header must be).
    ("/dashboard/", "/dashboard/"),
    ("/dashboard/abtests/feature_a?range=7d#chart", "/dashboard/abtests/feature_a?range=7d#chart"),
    ("/dashboard/ ", "/dashboard/"),
    ("  /dashboard/tests\t", "/dashboard/tests"),
    ("/%2F/evil.example", "/%2F/evil.example"),
    ("/%09/evil.example", "/%09/evil.example"),
    ("/%5Cevil.example", "/%5Cevil.example"),
    ("/.//evil.example", "/.//evil.example"),
    ("/dashboard/é", "/dashboard/%C3%A9"),
    ("/\u3000/evil.example", "/%E3%80%80/evil.example"),
    ("/\uff0f\uff0fevil.example", "/%EF%BC%8F%EF%BC%8Fevil.example"),
    ('/a b"<c>', "/a%20b%22%3Cc%3E"),
    ("/login?next=//evil.example", "/login?next=//evil.example"),
]


@pytest.fixture
def alice_client(secure_client, make_user):
    """A client logged in as alice."""
    make_user("alice")
    assert log_in(secure_client, "alice").status_code == 302
    return secure_client


def _locations(responses) -> list[tuple[int, str | None]]:
    return [(r.status_code, r.headers.get("Location")) for r in responses]


def test_login_page_redirects_only_to_this_site(alice_client):
    responses = [alice_client.get("/login", query_string={"next": raw}) for raw, _ in NEXT_CASES]
    assert _locations(responses) == [(302, expected) for _, expected in NEXT_CASES]


def test_the_posted_form_redirects_only_to_this_site(make_app, make_user):
    make_user("alice")
    client = make_app(RATE_LIMIT_LOGIN="").test_client()  # one POST per case
    log_in(client, "alice")
    csrf = session_csrf(client)
    responses = [
        client.post("/login", data={"csrf_token": csrf, "next": raw}) for raw, _ in NEXT_CASES
    ]
    assert _locations(responses) == [(302, expected) for _, expected in NEXT_CASES]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("/\t/evil.example", HOME), ("/\n/x", HOME), ("/dashboard/tests", "/dashboard/tests")],
)
def test_logging_in_redirects_only_to_this_site(secure_client, make_user, raw, expected):
    make_user("alice")
    response = log_in(secure_client, "alice", next=raw)
    assert (response.status_code, response.headers["Location"]) == (302, expected)


def test_demo_mode_redirects_only_to_this_site(make_app):
    client = make_app(AUTH="off", ENV="development").test_client()
    responses = [client.get("/login", query_string={"next": raw}) for raw, _ in NEXT_CASES]
    assert _locations(responses) == [(302, expected) for _, expected in NEXT_CASES]


def test_the_login_form_carries_a_safe_next(secure_client):
    page = secure_client.get("/login", query_string={"next": "/\t/evil.example"}).text
    assert f'name="next" value="{HOME}"' in page


@pytest.fixture(scope="module")
def url_parser():
    """`resolve(urls)`: where Chromium's URL parser sends each URL from a page at ORIGIN/login."""
    require_service(CHROMIUM.exists(), f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require_service(False, "the playwright package is missing (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()

        def resolve(urls: list[str]) -> list[str]:
            script = (
                "([base, urls]) => urls.map(u => { try { return new URL(u, base).origin; }"
                " catch (e) { return 'invalid'; } })"
            )
            return page.evaluate(script, [ORIGIN + "/login", urls])

        yield resolve
        browser.close()


@pytest.mark.slow
@pytest.mark.browser
def test_every_location_stays_on_this_origin_for_a_browser(alice_client, url_parser):
    raws = [raw for raw, _expected in NEXT_CASES]
    # The table is worth testing: a browser would leave the site for many raw values.
    raw_origins = url_parser(raws)
    assert sum(origin not in (ORIGIN, "invalid") for origin in raw_origins) >= 20
    locations = [
        alice_client.get("/login", query_string={"next": raw}).headers["Location"] for raw in raws
    ]
    assert url_parser(locations) == [ORIGIN] * len(locations)
