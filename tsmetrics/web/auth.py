"""The login and logout pages of the dashboard's local users."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, make_response, redirect, render_template, request, url_for
from werkzeug.routing import BuildError
from werkzeug.wrappers import Response

from tsmetrics import db
from tsmetrics.security import identity, proxy, users

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)
MAX_FIELD = 1024


def _home() -> str:
    try:
        return url_for("dashboard.index")
    except BuildError:
        return "/"


def _safe_next(target: str | None) -> str:
    # Only a path on this site: "//evil.example" or "https://..." would turn
    # the login form into an open redirect.
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return _home()
    return target


def _login_page(error: str | None, next_url: str, username: str = "") -> Response:
    response = make_response(
        render_template("auth/login.html", error=error, next_url=next_url, username=username)
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response:
    """The login form; a correct password starts a session and goes where the user was going."""
    next_url = _safe_next(request.values.get("next"))
    if current_app.config["TSMETRICS"]["AUTH"] == "off" or identity.browser_principal():
        return redirect(next_url)
    if request.method == "GET":
        return _login_page(None, next_url)
    username = request.form.get("username", "").strip()[:MAX_FIELD]
    password = request.form.get("password", "")[:MAX_FIELD]
    with db.write_connection() as conn:
        user = users.verify_login(conn, username, password)
    if user is None:
        # The attempted name is not logged: people type passwords into it.
        log.info("failed login from %s", proxy.client_address())
        return _login_page("Wrong username or password.", next_url, username)
    identity.log_in(user)
    log.info("login: %s from %s", user.username, proxy.client_address())
    return redirect(next_url)


@bp.route("/logout", methods=["GET", "POST"])
def logout() -> Response | str:
    """GET: a button to log out; POST (with the CSRF token): end the session."""
    if request.method == "GET":
        return render_template("auth/logout.html")
    identity.log_out()
    return redirect(url_for("auth.login"))
