"""The one place errors become responses: problem+json for API clients, pages for browsers.

Every error goes through `problem`, which answers a browser on a page path with
templates/errors/<status>.html and everyone else with application/problem+json:
abort() in a view, the services' refusals (tsmetrics.errors), a database outage
and a bug alike. flask-smorest's own JSON handler is replaced by this one
(tsmetrics.api.TSMetricsApi), so it never answers a page's error with JSON.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import orjson
import psycopg
from flask import Flask, Response, current_app, render_template, request
from jinja2 import TemplateNotFound
from psycopg_pool import PoolTimeout
from werkzeug.exceptions import HTTPException, InternalServerError

from tsmetrics import errors
from tsmetrics.breaker import DatabaseUnavailable

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"
# Paths whose errors a person reads in a browser; everything else is API.
_PAGE_PREFIXES = ("/dashboard", "/login", "/logout")
# The status each kind of refusal stands for; the most specific class first.
_REFUSAL_STATUS = ((errors.UnknownName, 404), (errors.Conflict, 409), (errors.Invalid, 400))


def _wants_page() -> bool:
    if not request.path.startswith(_PAGE_PREFIXES) and request.path != "/":
        return False
    best = request.accept_mimetypes.best_match(["text/html", "application/json", PROBLEM_JSON])
    return best == "text/html"


def _flatten_validation(messages: dict[str, Any]) -> dict[str, Any]:
    # webargs nests messages by location ({"query": {"limit": [...]}}); clients
    # want the field names, and each field lives in one location only.
    flat: dict[str, Any] = {}
    for location, location_messages in messages.items():
        if isinstance(location_messages, dict):
            flat.update(location_messages)
        elif location == "json":  # the body as a whole, e.g. "Invalid JSON body."
            flat["body"] = list(location_messages)
    return flat


def _as_lists(errors: dict[str, Any]) -> dict[str, list[str]]:
    # The documented shape is {field: [message, ...]}. A schema that nests its
    # messages (a list's {index: [...]}, a nested object's {field: [...]}) is
    # read out as "item 1: ..." / "field: ..." strings rather than served as is.
    return {str(field): list(_messages(value)) for field, value in errors.items()}


def _messages(value: Any, prefix: str = "") -> Any:
    if isinstance(value, dict):
        for key, inner in value.items():
            label = f"item {key + 1}" if isinstance(key, int) else str(key)
            yield from _messages(inner, f"{prefix}{label}: ")
    elif isinstance(value, list | tuple):
        for inner in value:
            yield from _messages(inner, prefix)
    else:
        yield f"{prefix}{value}"


def problem(
    status: int,
    detail: str | None = None,
    *,
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """An RFC 9457 problem response (or the error page, for a browser on a page path)."""
    phrase = HTTPStatus(status).phrase
    if _wants_page():
        try:
            body = render_template(f"errors/{status}.html", status=status, detail=detail)
        except TemplateNotFound:
            body = render_template("errors/error.html", status=status, title=phrase, detail=detail)
        response = Response(body, status, mimetype="text/html")
    else:
        payload: dict[str, Any] = {"type": "about:blank", "title": phrase, "status": status}
        if detail:
            payload["detail"] = detail
        if errors:
            payload["errors"] = _as_lists(errors)
        body = orjson.dumps(payload)
        response = Response(body, status, mimetype=PROBLEM_JSON)
    response.headers.update(headers or {})
    response.vary.add("Accept")
    return response


def handle_http_exception(error: HTTPException) -> Response:
    """Every abort() and routing error, API and pages alike."""
    data = getattr(error, "data", None) or {}
    errors = data.get("errors")
    if errors is None and "messages" in data:
        errors = _flatten_validation(data["messages"])
    detail = data.get("message")
    if detail is None and errors:
        detail = "Invalid input: " + ", ".join(sorted(errors)) + "."
    if detail is None:
        detail = error.description
    headers = dict(data.get("headers") or {})
    valid_methods = getattr(error, "valid_methods", None)
    if valid_methods:
        headers["Allow"] = ", ".join(valid_methods)
    return problem(error.code or 500, detail, errors=errors, headers=headers)


def handle_refused(error: errors.Refused) -> Response:
    """A service's refusal (an unknown name, a conflict, an invalid change), naming its field."""
    status = next((code for kind, code in _REFUSAL_STATUS if isinstance(error, kind)), 400)
    return problem(status, error.message, errors={error.field: [error.message]})


def handle_database_unavailable(error: Exception) -> Response:
    """The database is down or saturated: 503 with Retry-After, never a stack trace."""
    if isinstance(error, DatabaseUnavailable):
        # The breaker logged the outage once; a line per refused request would
        # flood the log at hundreds of requests a second.
        log.debug("database unavailable: %s", error)
    else:
        log.warning("database unavailable: %s", type(error).__name__)
    retry_after = str(current_app.config["TSMETRICS"]["RETRY_AFTER"])
    return problem(
        503,
        "The metrics database is unavailable right now; retry shortly.",
        headers={"Retry-After": retry_after},
    )


def handle_refused_value(error: psycopg.Error) -> Response:
    """A value the schemas let through but PostgreSQL refuses: the client's input, a 400."""
    log.info("database refused a value: %s", type(error).__name__)
    return problem(
        400,
        "A value was refused by the database (for example a NUL character in a text, "
        "or a number out of range).",
    )


def handle_unexpected(error: Exception) -> Response:
    """A bug: log it with its stack, answer a plain 500 without details."""
    if isinstance(error, HTTPException):
        return handle_http_exception(error)
    log.exception("unhandled error on %s %s", request.method, request.path)
    return problem(500, InternalServerError.description)


def init_app(app: Flask) -> None:
    """Route every error through this module."""
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(errors.Refused, handle_refused)
    app.register_error_handler(PoolTimeout, handle_database_unavailable)
    app.register_error_handler(psycopg.OperationalError, handle_database_unavailable)
    # Safety nets: the schemas should catch these first; a client never gets a 500 for them.
    app.register_error_handler(psycopg.DataError, handle_refused_value)
    app.register_error_handler(psycopg.errors.CheckViolation, handle_refused_value)
    app.register_error_handler(Exception, handle_unexpected)
