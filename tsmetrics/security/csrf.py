"""CSRF protection: a synchronizer token kept in the session, sent back by forms and htmx.

Forms carry it as a hidden `csrf_token` field (`{{ csrf_field() }}`); htmx
requests send it in the X-CSRF-Token header, which static/js/csrf.js copies
from `<meta name="csrf-token">`. Requests authenticated by a bearer token need
none: a browser never attaches that header on its own, so no other site can
make one send it.
"""

from __future__ import annotations

import hmac
import secrets

from flask import Flask, request, session
from flask_smorest import abort
from markupsafe import Markup

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
_SESSION_KEY = "csrf"


def csrf_token() -> str:
    """This session's CSRF token, made on first use."""
    token = session.get(_SESSION_KEY)
    if not token:
        token = rotate()
    return token


def csrf_field() -> Markup:
    """The hidden form field carrying the token."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(FIELD, csrf_token())


def rotate() -> str:
    """Replace the session's token (at login and logout) and return the new one."""
    token = secrets.token_urlsafe(32)
    session[_SESSION_KEY] = token
    return token


def verify() -> None:
    """Refuse the current request (403) unless it sends this session's token back."""
    expected = session.get(_SESSION_KEY)
    sent = request.headers.get(HEADER) or request.form.get(FIELD)
    if not expected or not sent or not hmac.compare_digest(str(sent), str(expected)):
        abort(
            403,
            message="The form's security token is missing or out of date (CSRF check); "
            "reload the page and try again.",
        )


def init_app(app: Flask) -> None:
    """Make `csrf_token()` and `csrf_field()` available to every template."""
    app.jinja_env.globals.update(csrf_token=csrf_token, csrf_field=csrf_field)
