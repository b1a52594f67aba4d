"""Dashboard sessions: the SHA-256 of each session id, its user, and when it expires."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import dict_row

from tsmetrics.store.users import USER_COLUMNS, User

# last_seen_at is written at most once a minute per session, so browsing the
# dashboard does not turn every page view into a write.
TOUCH_INTERVAL_SECONDS = 60


@dataclass(frozen=True)
class LiveSession:
    """A session that has not expired, of a user who is not disabled."""

    user: User
    expires_at: datetime
    needs_touch: bool  # last seen over TOUCH_INTERVAL_SECONDS ago


def insert_session(
    conn: psycopg.Connection, id_hash: bytes, user_id: int, lifetime_seconds: int
) -> None:
    """Store a new session of `user_id` lasting `lifetime_seconds` from now."""
    conn.execute(
        "INSERT INTO sessions (id_hash, user_id, expires_at)"
        " VALUES (%(hash)s, %(user)s, now() + make_interval(secs => %(lifetime)s))",
        {"hash": id_hash, "user": user_id, "lifetime": lifetime_seconds},
    )


def find_live_session(conn: psycopg.Connection, id_hash: bytes) -> LiveSession | None:
    """The session with this hash while it is unexpired and its user enabled, else None."""
    columns = ", ".join(f"u.{name.strip()}" for name in USER_COLUMNS.split(","))
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            f"SELECT {columns}, s.expires_at AS session_expires_at,"  # noqa: S608 - constant
            " s.last_seen_at < now() - make_interval(secs => %(touch)s) AS session_needs_touch"
            " FROM sessions s JOIN users u ON u.id = s.user_id"
            " WHERE s.id_hash = %(hash)s AND s.expires_at > now() AND u.disabled_at IS NULL",
            {"hash": id_hash, "touch": TOUCH_INTERVAL_SECONDS},
        ).fetchone()
    if row is None:
        return None
    expires_at, needs_touch = row.pop("session_expires_at"), row.pop("session_needs_touch")
    return LiveSession(User(**row), expires_at, needs_touch)


def touch_session(conn: psycopg.Connection, id_hash: bytes) -> None:
    """Record that the session was used now."""
    conn.execute(
        "UPDATE sessions SET last_seen_at = now() WHERE id_hash = %(hash)s", {"hash": id_hash}
    )


def delete_session(conn: psycopg.Connection, id_hash: bytes) -> None:
    """End one session (logout)."""
    conn.execute("DELETE FROM sessions WHERE id_hash = %(hash)s", {"hash": id_hash})


def delete_user_sessions(conn: psycopg.Connection, user_id: int) -> int:
    """End every session of a user; how many there were."""
    cur = conn.execute("DELETE FROM sessions WHERE user_id = %(user)s", {"user": user_id})
    return cur.rowcount


def delete_expired_sessions(conn: psycopg.Connection) -> int:
    """Remove sessions past their expiry; how many."""
    return conn.execute("DELETE FROM sessions WHERE expires_at <= now()").rowcount
