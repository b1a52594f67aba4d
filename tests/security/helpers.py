"""Helpers of the security tests: settings, credentials, logging in through the real form."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

SECRET_KEY = "test-only-secret-key-0123456789abcdefghijklmnop"
SECURE_CONFIG = {
    "AUTH": "on",
    "ENV": "production",
    "SECRET_KEY": SECRET_KEY,
    "POOL_MIN_SIZE": 1,
    "POOL_MAX_SIZE": 2,
    "TESTING": True,
}
PASSWORD = "correct horse battery staple"
PROBLEM = "application/problem+json"
_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for a token."""
    return {"Authorization": f"Bearer {token}"}


def csrf_from(html: str) -> str:
    """The CSRF token of a rendered form."""
    match = _CSRF_FIELD.search(html)
    assert match, "no csrf_token field in the page"
    return match[1]


def log_in(client: FlaskClient, username: str, password: str = PASSWORD, **extra: str):
    """Log in through the real form (fetching its CSRF token first); the POST's response."""
    page = client.get("/login")
    assert page.status_code == 200, page.get_data(as_text=True)
    form = {
        "username": username,
        "password": password,
        "csrf_token": csrf_from(page.get_data(as_text=True)),
    }
    return client.post("/login", data={**form, **extra})


def session_csrf(client: FlaskClient) -> str:
    """The CSRF token stored in the client's session."""
    with client.session_transaction() as session:
        return session["csrf"]
