"""Dashboard users: argon2id password hashes (argon2-cffi) and the checks around them."""

from __future__ import annotations

import re
from functools import cache

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from tsmetrics.store import users as store
from tsmetrics.store.users import ROLES, User

# argon2id with argon2-cffi's defaults (RFC 9106's low-memory profile: 64 MiB,
# 3 passes); check_needs_rehash upgrades stored hashes when those change.
_HASHER = PasswordHasher()
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
_USERNAME = re.compile(r"^[A-Za-z0-9_.@+-]{1,100}$")


class UserError(ValueError):
    """A user cannot be created or changed as asked; the message says why."""


@cache
def _dummy_hash() -> str:
    # Verifying against this when the username is unknown takes as long as a
    # real check, so response times do not tell which usernames exist.
    return _HASHER.hash("no user has this password")


def check_username(username: str) -> None:
    """Usernames: 1 to 100 of letters, digits and `_ . @ + -` (e-mail addresses fit)."""
    if not _USERNAME.match(username):
        raise UserError("Usernames are 1 to 100 of A-Z, a-z, 0-9 and _ . @ + -.")


def check_password(password: str) -> None:
    """Passwords: at least 12 characters (length beats composition rules)."""
    if len(password) < MIN_PASSWORD:
        raise UserError(f"Passwords need at least {MIN_PASSWORD} characters.")
    if len(password) > MAX_PASSWORD:
        raise UserError(f"Passwords have at most {MAX_PASSWORD} characters.")


def create_user(conn: psycopg.Connection, username: str, password: str, role: str) -> User:
    """Store a new user with the hash of `password`."""
    check_username(username)
    check_password(password)
    if role not in ROLES:
        raise UserError(f"Roles: {', '.join(ROLES)}.")
    try:
        return store.insert_user(conn, username, _HASHER.hash(password), role)
    except store.UsernameTaken as error:
        raise UserError(str(error)) from None


def change_password(conn: psycopg.Connection, username: str, password: str) -> None:
    """Set a new password, which also ends every session of the user."""
    check_password(password)
    if not store.update_password_hash(conn, username, _HASHER.hash(password)):
        raise UserError(f"No user named {username!r}.")


def verify_login(conn: psycopg.Connection, username: str, password: str) -> User | None:
    """The enabled user whose password this is, or None (same time either way)."""
    user = store.get_user(conn, username) if _USERNAME.match(username) else None
    stored = user.password_hash if user else _dummy_hash()
    try:
        _HASHER.verify(stored, password[:MAX_PASSWORD])
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user.disabled_at is not None:
        return None
    if _HASHER.check_needs_rehash(stored):
        store.update_password_hash(conn, username, _HASHER.hash(password), end_sessions=False)
    store.record_login(conn, user.id)
    return user
