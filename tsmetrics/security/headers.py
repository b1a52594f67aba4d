"""Security headers on every response: the single source of the Content-Security-Policy."""

from __future__ import annotations

from flask import Flask, Response

from tsmetrics.security import proxy

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


def add_security_headers(response: Response) -> Response:
    """Add the policy headers unless a view chose its own."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if proxy.is_https():
        response.headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
    return response


def init_app(app: Flask) -> None:
    """Send the headers on every response, errors and static files included (once per app)."""
    if app.extensions.get(_EXTENSION_KEY):
        return
    app.extensions[_EXTENSION_KEY] = True
    app.after_request(add_security_headers)
