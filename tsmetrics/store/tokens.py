"""API bearer tokens: stored as hashes, listed by their public prefix, revoked, never deleted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.rows import class_row


@dataclass(frozen=True)
class ApiToken:
    """A token's record; the token itself is never stored, only its SHA-256."""

    id: int
    name: str
    prefix: str
    scopes: list[str]
    rate_limit: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


_COLUMNS = "id, name, prefix, scopes, rate_limit, created_at, expires_at, revoked_at, last_used_at"
# last_used_at is written at most once a minute per token, so a busy client
# does not turn every read into a write.
_TOUCH_INTERVAL = timedelta(minutes=1)


class TokenNameTaken(ValueError):
    """A live token already has this name."""


def insert_token(
    conn: psycopg.Connection,
    *,
    name: str,
    prefix: str,
    token_hash: bytes,
    scopes: list[str],
    expires_at: datetime | None = None,
    rate_limit: str | None = None,
) -> ApiToken:
    """Store a new token's hash; raises TokenNameTaken when a live token has the name."""
    try:
        with conn.transaction(), conn.cursor(row_factory=class_row(ApiToken)) as cur:
            row = cur.execute(
                "INSERT INTO api_tokens"  # noqa: S608 - constant column list
                " (name, prefix, token_hash, scopes, expires_at, rate_limit)"
                " VALUES (%(name)s, %(prefix)s, %(hash)s, %(scopes)s, %(expires)s, %(rate)s)"
                f" RETURNING {_COLUMNS}",
                {
                    "name": name,
                    "prefix": prefix,
                    "hash": token_hash,
                    "scopes": scopes,
                    "expires": expires_at,
                    "rate": rate_limit,
                },
            ).fetchone()
    except psycopg.errors.UniqueViolation:
        raise TokenNameTaken(f"A token named {name!r} exists; revoke it first.") from None
    assert row is not None
    return row


def find_live_token(
    conn: psycopg.Connection, token_hash: bytes, *, touch: bool = True
) -> ApiToken | None:
    """The unrevoked, unexpired token with this hash, or None; with `touch`, marked used."""
    with conn.cursor(row_factory=class_row(ApiToken)) as cur:
        found = cur.execute(
            f"SELECT {_COLUMNS} FROM api_tokens"  # noqa: S608 - constant column list
            " WHERE token_hash = %(hash)s AND revoked_at IS NULL"
            " AND (expires_at IS NULL OR expires_at > now())",
            {"hash": token_hash},
        ).fetchone()
    if found is not None and touch:
        touch_token(conn, found)
    return found


def touch_due(token: ApiToken) -> bool:
    """True when the token's recorded last use is over a minute old (or missing)."""
    return token.last_used_at is None or token.last_used_at < datetime.now(UTC) - _TOUCH_INTERVAL


def touch_token(conn: psycopg.Connection, token: ApiToken) -> bool:
    """Record the token's use (at most once a minute); False when not due or not writable.

    Give it a connection to the primary (db.write_connection). On a read replica
    (a hot standby) or in a read-only transaction it writes nothing and raises
    nothing: a token that works must not fail a read because its last use
    cannot be recorded there.
    """
    if not touch_due(token):
        return False  # spares a round trip on almost every request
    if conn.info.parameter_status("in_hot_standby") == b"on":
        return False
    try:
        with conn.transaction():  # a savepoint: a refusal leaves the caller's transaction usable
            cur = conn.execute(
                "UPDATE api_tokens SET last_used_at = now() WHERE id = %(id)s"
                " AND (last_used_at IS NULL OR last_used_at < now() - %(every)s)",
                {"id": token.id, "every": _TOUCH_INTERVAL},
            )
    except psycopg.errors.ReadOnlySqlTransaction:
        return False
    return cur.rowcount == 1


def find_token_by_hash(conn: psycopg.Connection, token_hash: bytes) -> ApiToken | None:
    """The token with this hash whatever its state (to say why it is refused), or None."""
    with conn.cursor(row_factory=class_row(ApiToken)) as cur:
        return cur.execute(
            f"SELECT {_COLUMNS} FROM api_tokens WHERE token_hash = %(hash)s",  # noqa: S608
            {"hash": token_hash},
        ).fetchone()


def list_tokens(conn: psycopg.Connection, *, include_revoked: bool = False) -> list[ApiToken]:
    """Tokens by name, newest first within a name; revoked ones only when asked."""
    with conn.cursor(row_factory=class_row(ApiToken)) as cur:
        return cur.execute(
            f"SELECT {_COLUMNS} FROM api_tokens"  # noqa: S608 - constant column list
            " WHERE %(all)s OR revoked_at IS NULL ORDER BY name, created_at DESC, id DESC",
            {"all": include_revoked},
        ).fetchall()


def revoke_token(
    conn: psycopg.Connection, *, token_id: int | None = None, name: str | None = None
) -> ApiToken | None:
    """Revoke the live token with this id or name; the revoked record, or None."""
    with conn.cursor(row_factory=class_row(ApiToken)) as cur:
        return cur.execute(
            "UPDATE api_tokens SET revoked_at = now()"  # noqa: S608 - constant column list
            " WHERE revoked_at IS NULL AND (id = %(id)s OR name = %(name)s)"
            f" RETURNING {_COLUMNS}",
            {"id": token_id, "name": name},
        ).fetchone()
