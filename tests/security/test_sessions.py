"""Dashboard sessions live in PostgreSQL: logging out, `user passwd` and `user disable` end them.

The signed cookie carries a random session id (and the CSRF token); the server
keeps the SHA-256 of the id with its user, creation, last use and expiry.
"""

from __future__ import annotations

import hashlib

import pytest
from click.testing import CliRunner

from tests.security.helpers import PASSWORD, csrf_from, log_in
from tsmetrics.cli import main
from tsmetrics.security import users
from tsmetrics.store import users as user_store

HTML = {"Accept": "text/html"}


def _cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None, "no session cookie"
    return cookie.value


def _client_with(app, cookie: str):
    """A new browser holding a copy of someone's session cookie."""
    client = app.test_client()
    client.set_cookie("session", cookie)
    return client


def _signed_in(client) -> bool:
    return client.get("/dashboard/", headers=HTML).status_code == 200


def _log_out(client):
    page = client.get("/logout")
    return client.post("/logout", data={"csrf_token": csrf_from(page.text)})


def _rows(db) -> int:
    return db.execute("SELECT count(*) FROM sessions").fetchone()[0]


def test_logout_ends_the_session_even_for_a_copied_cookie(secure_app, make_user):
    """Issue 14: a copy of the cookie kept working after /logout until it expired."""
    make_user("alice")
    client = secure_app.test_client()
    log_in(client, "alice")
    stolen = _client_with(secure_app, _cookie(client))
    assert _signed_in(stolen)
    assert _log_out(client).status_code == 302
    assert not _signed_in(client)
    assert not _signed_in(stolen)


def test_the_cookie_carries_only_a_random_session_id(secure_app, make_user, auth_db):
    make_user("alice")
    client = secure_app.test_client()
    log_in(client, "alice")
    serializer = secure_app.session_interface.get_signing_serializer(secure_app)
    content = serializer.loads(_cookie(client))
    assert set(content) - {"_permanent"} == {"sid", "csrf"}
    session_id = content["sid"]
    assert len(session_id) >= 43  # 256 random bits
    (stored,) = auth_db.execute("SELECT id_hash FROM sessions").fetchone()
    assert bytes(stored) == hashlib.sha256(session_id.encode()).digest()
    row = auth_db.execute("SELECT * FROM sessions").fetchone()
    assert session_id not in str(row)


def test_a_session_row_records_user_times_and_expiry(make_app, make_user, auth_db):
    make_user("alice")
    client = make_app(SESSION_LIFETIME=600).test_client()
    log_in(client, "alice")
    user_id, lifetime, seen = auth_db.execute(
        "SELECT user_id, extract(epoch FROM expires_at - created_at), last_seen_at = created_at"
        " FROM sessions"
    ).fetchone()
    assert user_id == user_store.get_user(auth_db, "alice").id
    assert float(lifetime) == 600 and seen


def test_every_login_is_a_session_of_its_own(secure_app, make_user, auth_db):
    make_user("alice")
    laptop, phone = secure_app.test_client(), secure_app.test_client()
    log_in(laptop, "alice")
    log_in(phone, "alice")
    assert _rows(auth_db) == 2
    _log_out(laptop)
    assert not _signed_in(laptop)
    assert _signed_in(phone)
    assert _rows(auth_db) == 1


def test_a_planted_session_id_is_replaced_at_login(secure_app, make_user, auth_db):
    """No session fixation: logging in never keeps an id the browser came with."""
    make_user("alice")
    client = secure_app.test_client()
    log_in(client, "alice")
    planted = secure_app.session_interface.get_signing_serializer(secure_app).loads(
        _cookie(client)
    )["sid"]
    _log_out(client)
    with client.session_transaction() as session:
        session["sid"] = planted
    log_in(client, "alice")
    serializer = secure_app.session_interface.get_signing_serializer(secure_app)
    assert serializer.loads(_cookie(client))["sid"] != planted
    assert _rows(auth_db) == 1 and _signed_in(client)


@pytest.mark.parametrize("command", ["passwd", "disable"])
def test_user_passwd_and_disable_end_every_session_at_once(
    secure_app, make_user, auth_db, database_url, command
):
    make_user("alice")
    laptop, phone = secure_app.test_client(), secure_app.test_client()
    log_in(laptop, "alice")
    log_in(phone, "alice")
    args = ["user", command, "alice"] + (["--password-stdin"] if command == "passwd" else [])
    result = CliRunner().invoke(
        main, args, input="a brand new password\n", env={"TSMETRICS_DATABASE_URL": database_url}
    )
    assert result.exit_code == 0, result.output
    assert _rows(auth_db) == 0
    assert not _signed_in(laptop) and not _signed_in(phone)


def test_rehashing_a_password_at_login_keeps_other_sessions(secure_app, make_user, auth_db):
    make_user("alice")
    phone = secure_app.test_client()
    log_in(phone, "alice")
    user_store.update_password_hash(
        auth_db, "alice", users._HASHER.hash(PASSWORD), end_sessions=False
    )
    assert _signed_in(phone)


def test_expired_sessions_are_refused_and_cleaned_up(secure_app, make_user, auth_db):
    make_user("alice")
    make_user("bob")
    laptop, phone = secure_app.test_client(), secure_app.test_client()
    log_in(laptop, "alice")
    log_in(phone, "alice")
    auth_db.execute(
        "UPDATE sessions SET created_at = now() - interval '9 hours',"
        " expires_at = now() - interval '1 second'"
    )
    assert not _signed_in(laptop)
    assert _rows(auth_db) == 1  # the phone's expired row, not used since
    log_in(secure_app.test_client(), "bob")  # each login sweeps expired rows away
    expired = auth_db.execute("SELECT count(*) FROM sessions WHERE expires_at <= now()")
    assert expired.fetchone() == (0,)
    assert _rows(auth_db) == 1


def test_last_seen_is_written_at_most_once_a_minute(secure_app, make_user, auth_db):
    make_user("alice")
    client = secure_app.test_client()
    log_in(client, "alice")
    auth_db.execute("UPDATE sessions SET last_seen_at = created_at - interval '30 seconds'")
    assert _signed_in(client)
    (recent,) = auth_db.execute("SELECT last_seen_at < created_at FROM sessions").fetchone()
    assert recent  # 30 s ago: left alone
    auth_db.execute("UPDATE sessions SET last_seen_at = created_at - interval '2 minutes'")
    assert _signed_in(client)
    (touched,) = auth_db.execute("SELECT last_seen_at >= created_at FROM sessions").fetchone()
    assert touched


def test_cookies_from_before_server_side_sessions_are_ignored(secure_app, make_user):
    """A cookie signed by the old scheme (user id, epoch, time) logs nobody in any more."""
    make_user("alice")
    client = secure_app.test_client()
    with client.session_transaction() as session:
        session.update(uid=1, epoch=0, auth_at=2_000_000_000)
    assert not _signed_in(client)


def test_a_forged_or_odd_session_id_is_nobody(secure_app, make_user):
    make_user("alice")
    for forged in ("", "x", "\x00", "a" * 10_000, 12, None, ["list"]):
        client = secure_app.test_client()
        with client.session_transaction() as session:
            session["sid"] = forged
        assert not _signed_in(client), forged
