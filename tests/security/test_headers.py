"""Security headers on every kind of response, and templates that a strict CSP lets run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

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
