"""Security: who may do what (deny by default), sessions, CSRF, rate limits and headers.

`init_app` runs before any blueprint is registered, so its request hooks run
first: identify the caller, count the request against its rate limit, then
authorize it against the policy of the matched route.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Flask, g, has_request_context
from flask.sessions import SecureCookieSessionInterface

log = logging.getLogger(__name__)


class _SessionInterface(SecureCookieSessionInterface):
    """The signed cookie (session id and CSRF token), marked Secure whenever over HTTPS.

    The login itself lives in PostgreSQL (store/sessions.py, security/identity.py),
    so the server can end it; the cookie only names it.
    """

    def get_cookie_secure(self, app: Flask) -> bool:
        """Secure on HTTPS (directly or via a trusted proxy), so plain-HTTP demos still work."""
        from tsmetrics.security import proxy

        return bool(app.config["SESSION_COOKIE_SECURE"]) or (
            has_request_context() and proxy.is_https()
        )


def auth_enabled(app: Flask) -> bool:
    """False only in demo mode (TSMETRICS_AUTH=off)."""
    return app.config["TSMETRICS"]["AUTH"] == "on"


def _template_context(app: Flask) -> dict[str, object]:
    # current_user: the name of the logged-in person (session or SSO), or None.
    principal = g.get("principal")
    signed_in = principal is not None and principal.kind in ("session", "proxy")
    return {
        "auth_disabled": not auth_enabled(app),
        "current_user": principal.name if signed_in else None,
    }


def init_app(app: Flask) -> None:
    """Refuse unsafe settings, then install every security hook on the app."""
    # Imported here, not at the top: the `tsmetrics` command imports this
    # package for `token` and `user`, and should not pay for Flask-Limiter.
    from tsmetrics.security import body_limits, csrf, headers, policy, proxy, ratelimit, startup

    settings = app.config["TSMETRICS"]
    startup.check(settings)
    app.extensions["tsmetrics.trusted_proxies"] = proxy.parse_networks(settings["TRUSTED_PROXIES"])
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=settings["SESSION_LIFETIME"]),
    )
    app.session_interface = _SessionInterface()
    body_limits.init_app(app)
    app.before_request(policy.identify_request)
    ratelimit.init_app(app)  # its hook runs between identifying and authorizing
    app.before_request(policy.authorize_request)
    csrf.init_app(app)
    headers.init_app(app)
    app.context_processor(lambda: _template_context(app))
    if not auth_enabled(app):
        log.warning("authentication is OFF (TSMETRICS_AUTH=off): demo mode, loopback only")
