"""Security headers on every response: the single source of the Content-Security-Policy."""

from __future__ import annotations

from flask import Flask, Response, request, session

from tsmetrics.security import identity, proxy

# Scripts and styles come only from this server's files: no inline script, no
# inline style, no eval. Chart.js and Swagger UI set styles through the CSSOM,
# which style-src does not restrict; Swagger UI's CSS embeds its icons as data:.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # frame-ancestors 'none' for browsers that predate it.
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# One year. Sent only over HTTPS (RFC 6797 says to ignore it over HTTP), so a
# plain-HTTP demo on 127.0.0.1 is never pinned to HTTPS.
STRICT_TRANSPORT_SECURITY = "max-age=31536000"
_EXTENSION_KEY = "tsmetrics.security_headers"
# Callers whose answers are theirs alone (identity.Principal.kind).
AUTHENTICATED = frozenset({"token", "session", "proxy"})


def _carries_credentials(response: Response) -> bool:
    # A cookie about to be set (Flask saves the session after this hook runs, so
    # a modified session counts too), or a token shown by POST /tokens.
    return "Set-Cookie" in response.headers or session.modified or request.blueprint == "tokens"


def add_cache_policy(response: Response) -> None:
    """`Cache-Control: no-store` on what a shared cache or the browser's history must not keep.

    Forced on a response carrying a session cookie or a token; the default on
    any answer to an authenticated caller, unless the view chose its own
    (GET /metrics sends `private, max-age`; static files their validators).
    """
    if _carries_credentials(response):
        response.headers["Cache-Control"] = "no-store"
    elif identity.current().kind in AUTHENTICATED and request.endpoint != "static":
        response.headers.setdefault("Cache-Control", "no-store")


def add_security_headers(response: Response) -> Response:
    """Add the policy headers unless a view chose its own."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if proxy.is_https():
        response.headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
    add_cache_policy(response)
    return response


def init_app(app: Flask) -> None:
    """Send the headers on every response, errors and static files included (once per app)."""
    if app.extensions.get(_EXTENSION_KEY):
        return
    app.extensions[_EXTENSION_KEY] = True
    app.after_request(add_security_headers)
