"""Dashboard logins: passwords, sessions, expiry, logout, cookie flags and CSRF."""

from __future__ import annotations

import time

import pytest

from tests.security.helpers import PASSWORD, csrf_from, log_in, session_csrf
from tsmetrics.security import users
from tsmetrics.store import users as user_store

HTML = {"Accept": "text/html"}


def _set_cookie(response) -> str:
    return "; ".join(response.headers.getlist("Set-Cookie"))


def test_passwords_are_argon2_hashes(auth_db, make_user):
    make_user("alice")
    (stored,) = auth_db.execute("SELECT password_hash FROM users").fetchone()
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_short_passwords_and_odd_names_are_refused(auth_db):
    with pytest.raises(users.UserError, match="12"):
        users.create_user(auth_db, "bob", "short", "viewer")
    with pytest.raises(users.UserError, match="Usernames"):
        users.create_user(auth_db, "bob smith", PASSWORD, "viewer")
    with pytest.raises(users.UserError, match="Roles"):
        users.create_user(auth_db, "bob", PASSWORD, "root")


def test_login_starts_a_session_and_goes_where_the_user_was_going(secure_client, make_user):
    make_user("alice")
    first = secure_client.get("/dashboard/", headers=HTML)
    assert first.status_code == 302
    assert first.headers["Location"] == "/login?next=/dashboard/"
    response = log_in(secure_client, "alice", next="/dashboard/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard/"
    cookie = _set_cookie(response)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP here; see the HTTPS test
    assert secure_client.get("/dashboard/", headers=HTML).status_code == 200


def test_wrong_password_and_unknown_user_look_the_same(secure_client, make_user):
    make_user("alice")
    wrong = log_in(secure_client, "alice", "not the password!")
    unknown = log_in(secure_client, "mallory", "not the password!")
    for response in (wrong, unknown):
        assert response.status_code == 200
        assert "Wrong username or password." in response.get_data(as_text=True)
    assert secure_client.get("/dashboard/", headers=HTML).status_code == 302


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil"])
def test_login_never_redirects_off_site(secure_client, make_user, target):
    make_user("alice")
    response = log_in(secure_client, "alice", next=target)
    assert response.headers["Location"] == "/dashboard/"


def test_logout_ends_the_session(secure_client, make_user):
    make_user("alice")
    log_in(secure_client, "alice")
    page = secure_client.get("/logout")
    response = secure_client.post("/logout", data={"csrf_token": csrf_from(page.text)})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert secure_client.get("/dashboard/", headers=HTML).status_code == 302


def test_logout_without_csrf_is_refused(secure_client, make_user):
    make_user("alice")
    log_in(secure_client, "alice")
    assert secure_client.post("/logout").status_code == 403
    assert secure_client.get("/dashboard/", headers=HTML).status_code == 200


def test_sessions_expire(make_app, make_user, monkeypatch):
    make_user("alice")
    client = make_app(SESSION_LIFETIME=60).test_client()
    log_in(client, "alice")
    assert client.get("/dashboard/", headers=HTML).status_code == 200
    later = time.time() + 61
    monkeypatch.setattr(time, "time", lambda: later)
    assert client.get("/dashboard/", headers=HTML).status_code == 302


def test_password_change_and_disabling_end_sessions(secure_app, make_user, auth_db):
    make_user("alice")
    client = secure_app.test_client()
    log_in(client, "alice")
    users.change_password(auth_db, "alice", "a brand new password")
    assert client.get("/dashboard/", headers=HTML).status_code == 302
    log_in(client, "alice", "a brand new password")
    assert client.get("/dashboard/", headers=HTML).status_code == 200
    user_store.set_disabled(auth_db, "alice", True)
    assert client.get("/dashboard/", headers=HTML).status_code == 302
    assert "Wrong" in log_in(client, "alice", "a brand new password").text


def test_the_session_cookie_is_secure_over_https(secure_client, make_user):
    make_user("alice")
    page = secure_client.get("/login", base_url="https://localhost")
    response = secure_client.post(
        "/login",
        base_url="https://localhost",
        data={"username": "alice", "password": PASSWORD, "csrf_token": csrf_from(page.text)},
    )
    assert response.status_code == 302
    assert "Secure" in _set_cookie(response)


def test_login_without_csrf_token_is_refused(secure_client, make_user):
    make_user("alice")
    secure_client.get("/login")
    response = secure_client.post("/login", data={"username": "alice", "password": PASSWORD})
    assert response.status_code == 403
    assert response.mimetype == "text/html" or "CSRF" in response.text


def test_page_posts_need_editor_and_csrf(make_app, make_user):
    app = make_app()
    app.add_url_rule("/dashboard/edit-thing", "edit_thing", lambda: "saved", methods=["POST"])
    make_user("eve", "editor")
    client = app.test_client()
    log_in(client, "eve")
    assert client.post("/dashboard/edit-thing").status_code == 403
    bad = client.post("/dashboard/edit-thing", headers={"X-CSRF-Token": "forged"})
    assert bad.status_code == 403
    assert "CSRF" in bad.text
    token = session_csrf(client)
    # A form carries the token as a field, htmx as the header csrf.js sets.
    assert client.post("/dashboard/edit-thing", data={"csrf_token": token}).text == "saved"
    htmx = {"X-CSRF-Token": token, "HX-Request": "true"}
    assert client.post("/dashboard/edit-thing", headers=htmx).text == "saved"


def test_htmx_requests_without_a_session_are_sent_to_the_login_page(secure_client):
    response = secure_client.get("/dashboard/", headers={"HX-Request": "true", **HTML})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login?next=/dashboard/"


def test_pages_offer_the_csrf_token_to_htmx(secure_client, make_user):
    make_user("alice")
    log_in(secure_client, "alice")
    html = secure_client.get("/dashboard/", headers=HTML).text
    assert f'<meta name="csrf-token" content="{session_csrf(secure_client)}">' in html
    assert "/static/js/csrf.js" in html
    assert "<script>" not in html


def test_templates_know_who_is_logged_in(secure_app, make_user):
    from flask import render_template_string

    secure_app.add_url_rule(
        "/dashboard/who", "who", lambda: render_template_string("[{{ current_user }}]")
    )
    make_user("alice")
    client = secure_app.test_client()
    log_in(client, "alice")
    assert client.get("/dashboard/who").text == "[alice]"
