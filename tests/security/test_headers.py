"""Security headers on every kind of response, and templates that a strict CSP lets run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.security.helpers import bearer, log_in
from tsmetrics.store import catalogue

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
# Inline code a CSP without 'unsafe-inline' would block: <script> without src
# (JSON data blocks are not code), on* handler attributes, style attributes.
_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
_STYLE_ATTRIBUTE = re.compile(r"<[^>]+\sstyle\s*=", re.I)


def _directives(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in policy.split(";"))


@pytest.mark.parametrize(
    "path", ["/abtest", "/openapi.json", "/swagger", "/login", "/static/js/csrf.js", "/nowhere"]
)
def test_every_response_carries_the_headers(secure_client, path):
    response = secure_client.get(path)
    csp = _directives(response)
    assert csp["script-src"] == "'self'"
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert csp["object-src"] == "'none'"
    assert csp["frame-ancestors"] == "'none'"
    assert csp["base-uri"] == "'self'" and csp["form-action"] == "'self'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in response.headers
    response.close()


def test_hsts_only_over_https(secure_client):
    response = secure_client.get("/login", base_url="https://localhost")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Strict-Transport-Security" not in secure_client.get("/login").headers


def test_the_policy_is_sent_once(secure_client):
    # tsmetrics.security.headers is the only module that sets these headers.
    response = secure_client.get("/login")
    for name in ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy"):
        assert len(response.headers.getlist(name)) == 1, name


@pytest.mark.parametrize(
    "template", sorted(TEMPLATES.rglob("*.html")), ids=lambda path: str(path.relative_to(TEMPLATES))
)
def test_templates_have_no_inline_code(template):
    text = re.sub(r"\{#.*?#\}", "", template.read_text(), flags=re.S)  # Jinja comments
    assert not _INLINE_SCRIPT.search(text), "inline <script>: move it to static/js"
    assert not _HANDLER.search(text), "on* attribute: bind the handler in static/js"
    assert not _STYLE_ATTRIBUTE.search(text), "style attribute: use a class in static/css"


def test_no_store_on_whatever_carries_a_token_or_a_session(secure_client, make_token, make_user):
    admin = bearer(make_token("admin", "read"))
    assert secure_client.get("/tokens", headers=admin).headers["Cache-Control"] == "no-store"
    created = secure_client.post("/tokens", headers=admin, json={"name": "x", "scopes": ["read"]})
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    # The login form sets the session cookie that holds its CSRF token.
    login_page = secure_client.get("/login")
    assert login_page.headers["Cache-Control"] == "no-store"
    make_user("alice")
    logged_in = log_in(secure_client, "alice")
    assert logged_in.status_code == 302 and logged_in.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/dashboard/", "/abtest", "/overview", "/metrics/catalogue"])
def test_no_store_on_pages_and_answers_for_a_signed_in_caller(
    secure_client, make_user, make_token, path
):
    make_user("alice")
    log_in(secure_client, "alice")
    page = secure_client.get(path, headers={"Accept": "text/html"})
    assert page.status_code == 200, page.get_data(as_text=True)[:300]
    assert page.headers["Cache-Control"] == "no-store"
    with_token = secure_client.get(path, headers=bearer(make_token("read")))
    assert with_token.headers["Cache-Control"] == "no-store"


def test_a_view_that_chose_its_caching_keeps_it(secure_client, make_token, auth_db):
    # GET /metrics answers are private and briefly cacheable by design (api/metrics.py);
    # static files carry their own validators; an anonymous answer is nobody's own.
    catalogue.ensure_abtest(auth_db, "a", variants=["control", "treatment"])
    catalogue.ensure_metric(auth_db, "b", unit="ms")
    token = bearer(make_token("read"))
    answer = secure_client.get("/metrics?abTestName=a&metricName=b", headers=token)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.headers["Cache-Control"].startswith("private")
    refused = secure_client.get("/metrics?abTestName=a&metricName=zz", headers=token)
    assert refused.status_code == 404 and refused.headers["Cache-Control"] == "no-store"
    static = secure_client.get("/static/js/csrf.js", headers=token)
    assert static.headers.get("Cache-Control") != "no-store"
    static.close()
    assert "Cache-Control" not in secure_client.get("/healthz").headers
