"""Who is asking: a bearer token, a dashboard session, an SSO proxy user, or nobody."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from flask import current_app, g, request, session

from tsmetrics import db
from tsmetrics.security import csrf, proxy, tokens
from tsmetrics.store import users as user_store
from tsmetrics.store.users import User

log = logging.getLogger(__name__)
ROLE_RANK = {"viewer": 1, "editor": 2}
# A person in a browser (session or SSO) may read the API's JSON twins of the
# pages; anything else on the API needs a bearer token.
BROWSER_SCOPES = frozenset({"read"})
_SESSION_KEYS = ("uid", "epoch", "auth_at")


@dataclass(frozen=True)
class Principal:
    """The caller of one request, as far as the credentials it sent prove."""

    kind: str  # "token", "session", "proxy", "anonymous", or "open" (auth off)
    name: str
    rate_key: str
    scopes: frozenset[str] = frozenset()
    role: str | None = None
    rate_limit: str | None = None
    # For anonymous callers that sent a bad token: (RFC 6750 error code, description).
    error: tuple[str, str] | None = None

    def has_scope(self, scope: str | None) -> bool:
        """True when the caller may act with this API scope."""
        return self.kind == "open" or scope in self.scopes

    def has_role(self, role: str | None) -> bool:
        """True when the caller's dashboard role is at least `role`."""
        if self.kind == "open":
            return True
        return ROLE_RANK.get(self.role or "", 0) >= ROLE_RANK.get(role or "", 99)


def anonymous(error: tuple[str, str] | None = None) -> Principal:
    """Nobody in particular, rate-limited by client address."""
    return Principal("anonymous", "", rate_key="addr:" + proxy.client_address(), error=error)


def current() -> Principal:
    """The principal of the current request (anonymous before identification)."""
    return g.get("principal") or anonymous()


def identify(area: str) -> Principal:
    """The principal of the current request, for a route of the given policy area."""
    if current_app.config["TSMETRICS"]["AUTH"] == "off":
        return Principal("open", "demo", rate_key="addr:" + proxy.client_address(), role="editor")
    if area == "api":
        header = request.headers.get("Authorization")
        if header is not None:
            return _from_bearer(header)
        return browser_principal() or anonymous()
    if area == "page":
        return browser_principal() or anonymous()
    return anonymous()


def _from_bearer(header: str) -> Principal:
    scheme, _, credentials = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return anonymous(("invalid_request", "Send the token as: Authorization: Bearer <token>"))
    with db.connection() as conn:
        token, why = tokens.authenticate(conn, credentials.strip())
    if token is None:
        # The token's id is unknown here and its text must never be logged.
        log.info("refused a bearer token (%s) from %s", why, proxy.client_address())
        return anonymous(("invalid_token", f"The token is {why}."))
    return Principal(
        "token",
        token.name,
        rate_key=f"token:{token.id}",
        scopes=frozenset(token.scopes),
        rate_limit=token.rate_limit,
    )


def browser_principal() -> Principal | None:
    """The SSO user from a trusted proxy, else the logged-in session user, else None."""
    sso = proxy.proxy_user()
    if sso is not None:
        return Principal(
            "proxy", sso.name, rate_key="sso:" + sso.name, scopes=BROWSER_SCOPES, role=sso.role
        )
    user = session_user()
    if user is None:
        return None
    return Principal(
        "session", user.username, rate_key=f"user:{user.id}", scopes=BROWSER_SCOPES, role=user.role
    )


def session_user() -> User | None:
    """The session's user while the login is valid: unexpired, enabled, password unchanged."""
    uid = session.get("uid")
    if uid is None:
        return None
    lifetime = current_app.config["TSMETRICS"]["SESSION_LIFETIME"]
    if time.time() - float(session.get("auth_at", 0)) > lifetime:
        log_out()
        return None
    with db.connection() as conn:
        user = user_store.get_user_by_id(conn, int(uid))
    if user is None or user.disabled_at is not None or user.session_epoch != session.get("epoch"):
        log_out()
        return None
    return user


def log_in(user: User) -> None:
    """Start a fresh session for `user`, with a new CSRF token."""
    session.clear()
    session.permanent = True  # the cookie expires with the login (SESSION_LIFETIME)
    session.update(uid=user.id, epoch=user.session_epoch, auth_at=int(time.time()))
    csrf.rotate()


def log_out() -> None:
    """End the session's login; a new CSRF token replaces the old one."""
    for key in _SESSION_KEYS:
        session.pop(key, None)
    csrf.rotate()
