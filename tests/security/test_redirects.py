"""`/login?next=...` sends people only to paths of this site, whatever `next` holds.

tests/browser/test_login_redirects.py has Chromium's URL parser (the WHATWG URL
standard) resolve every answer, as the independent reference.
"""

from __future__ import annotations

import pytest

from tests.security.helpers import log_in, session_csrf
from tests.security.redirect_cases import HOME, NEXT_CASES


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
