"""API bearer tokens: made here, shown once, stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta

import psycopg

from tsmetrics.security.startup import check_rate_limit
from tsmetrics.settings import SettingError
from tsmetrics.store import tokens as store
from tsmetrics.store.tokens import ApiToken

SCOPES = ("read", "ingest", "admin")
TOKEN_PREFIX = "tsm_"  # noqa: S105 - a public marker, not a secret
# Characters of the random part kept in clear for listings: 48 bits, which
# tells tokens apart but leaves 208 unknown bits.
PUBLIC_CHARS = 8
_SHAPE = re.compile(r"^tsm_[A-Za-z0-9_-]{43}$")
_RELATIVE = re.compile(r"^(\d{1,5})([hd])$")
_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,100}$")


class TokenError(ValueError):
    """A token cannot be made as asked; the message says why."""


class TokenNameTaken(TokenError):
    """A live token already has the name asked for."""


def new_token() -> str:
    """A fresh token: the `tsm_` prefix (easy to spot in leaks) and 256 random bits."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> bytes:
    """The SHA-256 of a token, as stored.

    A fast hash is right for tokens, unlike passwords: a token carries 256
    random bits, so its hash cannot be reversed by trying candidates, however
    fast each try is. And an unsalted hash lets the database find a token by
    an indexed equality instead of checking every stored hash in turn.
    """
    return hashlib.sha256(token.encode()).digest()


def public_prefix(token: str) -> str:
    """The part of a token shown in listings."""
    return token[: len(TOKEN_PREFIX) + PUBLIC_CHARS]


def parse_expiry(text: str, now: datetime | None = None) -> datetime:
    """`90d`, `12h`, or an ISO 8601 date or date-time (UTC unless it says otherwise)."""
    now = now or datetime.now(UTC)
    relative = _RELATIVE.match(text.strip())
    if relative:
        amount, unit = int(relative[1]), relative[2]
        return now + (timedelta(days=amount) if unit == "d" else timedelta(hours=amount))
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise TokenError(
            f"{text!r}: give e.g. 90d, 12h, 2026-06-30 or 2026-06-30T12:00Z."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _check_request(
    name: str, scopes: list[str], expires_at: datetime | None, rate_limit: str | None
) -> None:
    if not _NAME.match(name):
        raise TokenError("The name must be 1 to 100 characters without control characters.")
    if not scopes or not set(scopes) <= set(SCOPES):
        raise TokenError(f"Scopes: one or more of {', '.join(SCOPES)}.")
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise TokenError("The expiry is in the past.")
    try:
        check_rate_limit(rate_limit, "The rate limit")
    except SettingError as error:
        raise TokenError(str(error)) from None


def issue(
    conn: psycopg.Connection,
    name: str,
    scopes: list[str],
    *,
    expires_at: datetime | None = None,
    rate_limit: str | None = None,
) -> tuple[str, ApiToken]:
    """Make and store a token; the token itself is returned here and never again."""
    scopes = [scope for scope in SCOPES if scope in scopes]  # canonical order, no repeats
    _check_request(name, scopes, expires_at, rate_limit)
    token = new_token()
    try:
        record = store.insert_token(
            conn,
            name=name,
            prefix=public_prefix(token),
            token_hash=hash_token(token),
            scopes=scopes,
            expires_at=expires_at,
            rate_limit=rate_limit or None,
        )
    except store.TokenNameTaken as error:
        raise TokenNameTaken(str(error)) from None
    return token, record


def authenticate(conn: psycopg.Connection, token: str) -> tuple[ApiToken | None, str]:
    """The live token record, or None and why not: malformed, unknown, revoked or expired."""
    # The shape check spares the database every request that cannot succeed.
    if not _SHAPE.match(token):
        return None, "malformed"
    digest = hash_token(token)
    # Looking a hash up by equality leaks nothing useful through timing: an
    # attacker learns about hashes, and cannot steer a hash's first bytes.
    # Reads may come from a replica; the last use is recorded on the primary
    # afterwards (record_use), at most once a minute.
    found = store.find_live_token(conn, digest, touch=False)
    if found is not None:
        return found, "ok"
    record = store.find_token_by_hash(conn, digest)
    if record is None:
        return None, "unknown"
    return None, "revoked" if record.revoked_at else "expired"


def use_due(token: ApiToken) -> bool:
    """True when the token's last use should be recorded again (over a minute old)."""
    return store.touch_due(token)


def record_use(conn: psycopg.Connection, token: ApiToken) -> bool:
    """Record the token's use; give it a connection to the primary."""
    return store.touch_token(conn, token)
