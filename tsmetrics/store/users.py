"""Dashboard users: argon2 password hashes and roles; changing a password ends their sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

ROLES = ("viewer", "editor")


@dataclass(frozen=True)
class User:
    """A dashboard user; `password_hash` is an argon2 hash string, never a password."""

    id: int
    username: str
    password_hash: str
    role: str
    created_at: datetime
    disabled_at: datetime | None
    last_login_at: datetime | None


USER_COLUMNS = "id, username, password_hash, role, created_at, disabled_at, last_login_at"


class UsernameTaken(ValueError):
    """A user with this name exists."""


def insert_user(conn: psycopg.Connection, username: str, password_hash: str, role: str) -> User:
    """Store a new user; raises UsernameTaken when the name is in use."""
    try:
        with conn.transaction(), conn.cursor(row_factory=class_row(User)) as cur:
            row = cur.execute(
                "INSERT INTO users (username, password_hash, role)"  # noqa: S608 - constant columns
                f" VALUES (%(username)s, %(hash)s, %(role)s) RETURNING {USER_COLUMNS}",
                {"username": username, "hash": password_hash, "role": role},
            ).fetchone()
    except psycopg.errors.UniqueViolation:
        raise UsernameTaken(f"A user named {username!r} exists.") from None
    assert row is not None
    return row


def get_user(conn: psycopg.Connection, username: str) -> User | None:
    """The user called `username`, disabled or not, or None."""
    with conn.cursor(row_factory=class_row(User)) as cur:
        return cur.execute(
            f"SELECT {USER_COLUMNS} FROM users WHERE username = %(username)s",  # noqa: S608
            {"username": username},
        ).fetchone()


def get_user_by_id(conn: psycopg.Connection, user_id: int) -> User | None:
    """The user with this id, disabled or not, or None."""
    with conn.cursor(row_factory=class_row(User)) as cur:
        return cur.execute(
            f"SELECT {USER_COLUMNS} FROM users WHERE id = %(id)s",  # noqa: S608
            {"id": user_id},
        ).fetchone()


def list_users(conn: psycopg.Connection) -> list[User]:
    """Every user, by name."""
    with conn.cursor(row_factory=class_row(User)) as cur:
        return cur.execute(
            f"SELECT {USER_COLUMNS} FROM users ORDER BY username"  # noqa: S608
        ).fetchall()


def update_password_hash(
    conn: psycopg.Connection, username: str, password_hash: str, *, end_sessions: bool = True
) -> bool:
    """Replace a user's hash (ending their sessions unless rehashing); False: no such user."""
    row = conn.execute(
        "WITH changed AS ("
        "  UPDATE users SET password_hash = %(hash)s WHERE username = %(username)s RETURNING id"
        "), ended AS ("
        "  DELETE FROM sessions WHERE %(end)s AND user_id IN (SELECT id FROM changed)"
        ") SELECT count(*) FROM changed",
        {"hash": password_hash, "end": end_sessions, "username": username},
    ).fetchone()
    return bool(row and row[0])


def set_disabled(conn: psycopg.Connection, username: str, disabled: bool) -> bool:
    """Disable (ending every session at once) or enable a user; False: no such user."""
    row = conn.execute(
        "WITH changed AS ("
        "  UPDATE users SET disabled_at = CASE WHEN %(disabled)s THEN now() END"
        "  WHERE username = %(username)s RETURNING id"
        "), ended AS ("
        "  DELETE FROM sessions WHERE %(disabled)s AND user_id IN (SELECT id FROM changed)"
        ") SELECT count(*) FROM changed",
        {"disabled": disabled, "username": username},
    ).fetchone()
    return bool(row and row[0])


def set_role(conn: psycopg.Connection, username: str, role: str) -> bool:
    """Change a user's role (effective at their next request); False: no such user."""
    cur = conn.execute(
        "UPDATE users SET role = %(role)s WHERE username = %(username)s",
        {"role": role, "username": username},
    )
    return cur.rowcount == 1


def record_login(conn: psycopg.Connection, user_id: int) -> None:
    """Note a successful login."""
    conn.execute("UPDATE users SET last_login_at = now() WHERE id = %(id)s", {"id": user_id})
