"""The access policy: what each route of the URL map requires, denying by default.

The policy is decided from the matched rule's path and the method, never from
a list of known endpoints, so a route added later is protected the moment it
exists: anything not explicitly public is an API operation needing a bearer
token, and a state-changing API operation nobody classified needs `admin`.

| route                                   | method            | requires                   |
| --------------------------------------- | ----------------- | -------------------------- |
| static files, /openapi.json, /swagger,  | GET, HEAD, OPTIONS| nothing (public)           |
| /healthz, /readyz, /favicon.ico,        |                   |                            |
| /robots.txt                             |                   |                            |
| /login, /logout                         | GET / POST        | nothing; POST needs CSRF   |
| /, /dashboard...                        | GET, HEAD, OPTIONS| a user, role viewer        |
| /, /dashboard...                        | anything else     | role editor + CSRF         |
| /tokens...                              | any               | token scope admin          |
| /ingest...                              | POST              | token scope ingest         |
| any other path (the API)                | GET, HEAD, OPTIONS| scope read (or a user)     |
| any other path (the API)                | anything else     | token scope admin          |
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import g, redirect, request, url_for
from flask_smorest import abort
from werkzeug.wrappers import Response

from tsmetrics.security import csrf, identity
from tsmetrics.security.identity import Principal

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Not public: /internal/prometheus (the service's own metrics) is an API read,
# so Prometheus scrapes it with a `read` token; we do not trust the network.
PUBLIC_PATHS = frozenset(
    {
        "/openapi.json",
        "/swagger",
        "/swagger/",
        "/healthz",
        "/readyz",
        "/favicon.ico",
        "/robots.txt",
    }
)
# Public and not rate-limited: probes and browsers fetch these unasked.
UNLIMITED_PATHS = frozenset(
    {"/healthz", "/readyz", "/internal/prometheus", "/favicon.ico", "/robots.txt"}
)
LOGIN_PATHS = frozenset({"/login", "/logout"})
PAGE_PREFIXES = ("/dashboard",)
INGEST_PREFIXES = ("/ingest",)
ADMIN_ONLY_PREFIXES = ("/tokens",)
REALM = 'Bearer realm="tsmetrics"'


@dataclass(frozen=True)
class Requirement:
    """What a request must bring: `area` decides how the caller is identified."""

    area: str  # "public", "login", "page" or "api"
    scope: str | None = None  # api: read, ingest or admin
    role: str | None = None  # page: viewer or editor
    csrf: bool = False
    rate: str | None = None  # the rate-limit class; None: not rate-limited


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in prefixes)


def requirement(path: str, endpoint: str, method: str) -> Requirement:
    """The requirement of one route (its rule's path and endpoint) for one method."""
    safe = method.upper() in SAFE_METHODS
    # Public means readable: a state-changing method on a public path falls
    # through to the API rules below and needs an admin token.
    is_static = (endpoint == "static" or endpoint.endswith(".static")) and "/static/" in path
    if safe and is_static:
        return Requirement("public")
    if safe and path in PUBLIC_PATHS:
        return Requirement("public", rate=None if path in UNLIMITED_PATHS else "read")
    if path in LOGIN_PATHS:
        rate = "login" if path == "/login" and not safe else "dashboard"
        return Requirement("login", csrf=not safe, rate=rate)
    if path == "/" or _under(path, PAGE_PREFIXES):
        role = "viewer" if safe else "editor"
        return Requirement("page", role=role, csrf=not safe, rate="dashboard")
    if _under(path, ADMIN_ONLY_PREFIXES):
        scope = "admin"
    elif safe:
        scope = "read"
    elif method.upper() == "POST" and _under(path, INGEST_PREFIXES):
        scope = "ingest"
    else:
        scope = "admin"  # unknown state-changing operations: deny by default
    return Requirement("api", scope=scope, rate=scope)


def identify_request() -> None:
    """First hook: the route's requirement and the caller's principal, into `g`."""
    rule = request.url_rule
    if rule is None:
        g.requirement = None  # no route: routing answers 404 or 405
        return
    g.requirement = requirement(rule.rule, rule.endpoint, request.method)
    g.principal = identity.identify(g.requirement.area)


def authorize_request() -> Response | None:
    """Last hook: refuse the request unless the principal meets the requirement."""
    needed: Requirement | None = g.get("requirement")
    if needed is None:
        return None
    principal = identity.current()
    if needed.area == "api":
        _authorize_api(needed, principal)
    elif needed.area == "page" and not principal.has_role(needed.role):
        return _refuse_page(needed, principal)
    if needed.csrf:
        csrf.verify()
    return None


def _authorize_api(needed: Requirement, principal: Principal) -> None:
    if principal.has_scope(needed.scope):
        return
    if principal.kind == "anonymous":
        code, description = principal.error or (None, None)
        challenge = REALM + (f', error="{code}", error_description="{description}"' if code else "")
        abort(
            401,
            message=description
            or f"This needs a bearer token with the `{needed.scope}` scope: "
            "send `Authorization: Bearer <token>` (see `tsmetrics token create`).",
            headers={"WWW-Authenticate": challenge},
        )
    what = "This token lacks" if principal.kind == "token" else "A browser session lacks"
    abort(
        403,
        message=f"{what} the `{needed.scope}` scope this operation needs.",
        headers={
            "WWW-Authenticate": f'{REALM}, error="insufficient_scope", scope="{needed.scope}"'
        },
    )


def _refuse_page(needed: Requirement, principal: Principal) -> Response | None:
    if principal.kind != "anonymous":
        role = f"the {principal.role} role" if principal.role else "no role"
        abort(403, message=f"This needs the {needed.role} role; you have {role}.")
    login = url_for("auth.login", next=request.full_path.rstrip("?"))
    htmx = request.headers.get("HX-Request") == "true"
    wants_page = request.accept_mimetypes.best_match(["text/html", "application/json"])
    if not htmx and request.method in ("GET", "HEAD") and wants_page == "text/html":
        return redirect(login)
    # htmx follows HX-Redirect with a full page load, instead of swapping the
    # login page into a fragment.
    abort(401, message="Log in first.", headers={"HX-Redirect": login} if htmx else None)
    return None
