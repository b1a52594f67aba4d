"""Who is asking: a bearer token, a dashboard session, an SSO proxy user, or nobody."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass

import psycopg
from flask import current_app, g, request, session

from tsmetrics import db
from tsmetrics.security import csrf, proxy, tokens
from tsmetrics.store import sessions as session_store
from tsmetrics.store.tokens import ApiToken
from tsmetrics.store.users import User

log = logging.getLogger(__name__)
ROLE_RANK = {"viewer": 1, "editor": 2}
# A person in a browser (session or SSO) may read the API's JSON twins of the
# pages; anything else on the API needs a bearer token.
BROWSER_SCOPES = frozenset({"read"})
# The cookie holds the session id (and the CSRF token); the session itself lives
# in PostgreSQL (store/sessions.py), so ending it there ends every copy of the cookie.
_SESSION_ID = "sid"
_SESSION_ID_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")
# Cookies signed before sessions moved to the server held these; they are ignored.
_LEGACY_KEYS = ("uid", "epoch", "auth_at")


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
    _record_use(token)
    return Principal(
        "token",
        token.name,
        rate_key=f"token:{token.id}",
        scopes=frozenset(token.scopes),
        rate_limit=token.rate_limit,
    )


def _record_use(token: ApiToken) -> None:
    # On the primary, after the read: a replica cannot write, and a failed
    # record must never fail the request it belongs to.
    if not tokens.use_due(token):
        return
    try:
        with db.write_connection() as conn:
            tokens.record_use(conn, token)
    except psycopg.Error as error:
        log.warning("could not record the use of token %s (%s)", token.id, type(error).__name__)


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
    """The user of the session the cookie names, while it lasts on the server; else None."""
    session_id = session.get(_SESSION_ID)
    if session_id is None:
        return None
    id_hash = _session_hash(session_id)
    found = None
    if id_hash is not None:
        with db.write_connection() as conn:
            # On the primary: a session made at login may not have reached a replica yet.
            found = session_store.find_live_session(conn, id_hash)
            if found is not None and found.needs_touch:
                session_store.touch_session(conn, id_hash)
    if found is None:
        # Ended (logout, new password, disabled user), expired or forged.
        log_out()
        return None
    return found.user


def log_in(user: User) -> None:
    """Start a new session for `user` on the server, with a fresh id and CSRF token."""
    session_id = secrets.token_urlsafe(32)
    lifetime = current_app.config["TSMETRICS"]["SESSION_LIFETIME"]
    previous = _session_hash(session.get(_SESSION_ID))
    with db.write_connection() as conn:
        if previous is not None:
            session_store.delete_session(conn, previous)
        session_store.delete_expired_sessions(conn)
        session_store.insert_session(conn, _hash(session_id), user.id, lifetime)
    session.clear()
    session.permanent = True  # the cookie expires with the session (SESSION_LIFETIME)
    session[_SESSION_ID] = session_id
    csrf.rotate()


def log_out() -> None:
    """End the session on the server and forget it in the cookie; a new CSRF token follows."""
    id_hash = _session_hash(session.pop(_SESSION_ID, None))
    if id_hash is not None:
        with db.write_connection() as conn:
            session_store.delete_session(conn, id_hash)
    for key in _LEGACY_KEYS:
        session.pop(key, None)
    csrf.rotate()


def _hash(session_id: str) -> bytes:
    # As for API tokens, a fast unsalted hash is right: the id carries 256
    # random bits, and an equality look-up finds it by index.
    return hashlib.sha256(session_id.encode()).digest()


def _session_hash(session_id: object) -> bytes | None:
    """The stored form of a cookie's session id, or None when it cannot be one of ours."""
    if not isinstance(session_id, str) or not _SESSION_ID_SHAPE.fullmatch(session_id):
        return None
    return _hash(session_id)
