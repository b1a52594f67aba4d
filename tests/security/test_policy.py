"""Every operation of the URL map is protected unless explicitly public.

The operations are generated from the app's URL map at test time, so a route
another engineer adds tomorrow is checked by these tests without anyone
listing it: no credentials gives 401, the wrong scope or role gives 403.
"""

from __future__ import annotations

import re

import pytest

from tests.security.helpers import PROBLEM, bearer, log_in, session_csrf
from tsmetrics.security.policy import requirement
from tsmetrics.security.tokens import SCOPES

SAFE = {"GET", "HEAD", "OPTIONS"}
# The whole public allow-list (for safe methods): anything else needs credentials.
PUBLIC_RULES = {
    "/static/<path:filename>",
    "/openapi.json",
    "/swagger",
    "/swagger/",
    "/healthz",
    "/readyz",
    "/favicon.ico",
    "/robots.txt",
}
# Login and logout need no credentials for any method (their POSTs need CSRF).
LOGIN_RULES = {"/login", "/logout"}
_ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
HTML = {"Accept": "text/html,application/xhtml+xml"}


def expected(path: str, method: str) -> str:
    """The requirement spelled out by the issue, independently of the code."""
    safe = method in SAFE
    if (safe and path in PUBLIC_RULES) or path in LOGIN_RULES:
        return "public"
    if path == "/" or path == "/dashboard" or path.startswith("/dashboard/"):
        return "viewer" if safe else "editor"
    if path == "/tokens" or path.startswith("/tokens/"):
        return "admin"
    if safe:
        return "read"
    if method == "POST" and (path == "/ingest" or path.startswith("/ingest/")):
        return "ingest"
    return "admin"


def operations(app):
    """(rule, method, url) for every method of every rule, placeholders filled in."""
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        values = {}
        for converter, name in _ARGUMENT.findall(rule.rule):
            values[name] = 1 if converter == "int" else "x"
        if rule.endpoint == "static":
            values["filename"] = "js/csrf.js"
        for method in sorted(rule.methods):
            yield rule, method, adapter.build(rule.endpoint, values, method=method)


def _is_page(need: str) -> bool:
    return need in ("viewer", "editor")


def test_the_policy_agrees_with_the_issue_for_every_route(secure_app):
    seen = set()
    for rule, method, _url in operations(secure_app):
        need = expected(rule.rule, method)
        got = requirement(rule.rule, rule.endpoint, method)
        summary = got.area if got.area in ("public", "login") else (got.scope or got.role)
        assert summary.replace("login", "public") == need, f"{method} {rule.rule}"
        seen.add(need)
    # The app really has routes of every kind, so the checks below test something.
    assert {"public", "viewer", "read", "admin", "ingest"} <= seen


def test_public_routes_need_nothing(secure_client):
    for path in ("/openapi.json", "/swagger", "/login", "/logout", "/static/js/csrf.js"):
        response = secure_client.get(path)
        assert response.status_code == 200, path
        response.close()


def test_every_protected_operation_refuses_a_caller_without_credentials(secure_app):
    client = secure_app.test_client()
    checked = 0
    for rule, method, url in operations(secure_app):
        need = expected(rule.rule, method)
        if need == "public":
            continue
        response = client.open(url, method=method, headers=HTML if _is_page(need) else {})
        where = f"{method} {rule.rule}"
        if _is_page(need) and method in ("GET", "HEAD"):
            assert response.status_code == 302, where
            assert response.headers["Location"].startswith("/login?next="), where
        else:
            assert response.status_code == 401, where
        if not _is_page(need):
            assert response.headers["WWW-Authenticate"].startswith("Bearer"), where
            assert method == "HEAD" or response.mimetype == PROBLEM, where
        checked += 1
    assert checked > 10


def test_every_protected_operation_refuses_the_wrong_scope_or_role(
    secure_app, make_token, make_user
):
    make_user("viewer-vic", "viewer")
    browser = secure_app.test_client()
    assert log_in(browser, "viewer-vic").status_code == 302
    api = secure_app.test_client()
    for rule, method, url in operations(secure_app):
        need = expected(rule.rule, method)
        where = f"{method} {rule.rule}"
        if need in SCOPES:
            others = make_token(*[scope for scope in SCOPES if scope != need])
            response = api.open(url, method=method, headers=bearer(others))
            assert response.status_code == 403, where
            assert f'scope="{need}"' in response.headers["WWW-Authenticate"], where
        elif need == "editor":
            headers = {"X-CSRF-Token": session_csrf(browser), **HTML}
            assert browser.open(url, method=method, headers=headers).status_code == 403, where
        elif need == "viewer":
            # A token, even with every scope, opens no page.
            every = make_token(*SCOPES)
            response = api.open(url, method=method, headers=bearer(every))
            assert response.status_code in (302, 401), where


def test_the_right_credentials_pass_the_policy(secure_app, make_token, make_user, feature_a):
    make_user("editor-eve", "editor")
    browser = secure_app.test_client()
    assert log_in(browser, "editor-eve").status_code == 302
    api = secure_app.test_client()
    for rule, method, url in operations(secure_app):
        need = expected(rule.rule, method)
        if need in SCOPES:
            response = api.open(url, method=method, headers=bearer(make_token(need)))
        elif need in ("viewer", "editor"):
            headers = {"X-CSRF-Token": session_csrf(browser), **HTML}
            response = browser.open(url, method=method, headers=headers)
        else:
            continue
        assert response.status_code not in (401, 403), f"{method} {rule.rule}"


def test_a_session_user_may_read_the_api_but_not_change_it(secure_client, make_user, feature_a):
    make_user("viewer-vic")
    log_in(secure_client, "viewer-vic")
    assert secure_client.get("/abtest").get_json() == ["feature_a"]
    response = secure_client.post("/abtest", json={"name": "new_test"})
    assert response.status_code == 403
    assert response.mimetype == PROBLEM


def test_a_route_added_later_is_protected_by_default(make_app, make_token):
    app = make_app()
    app.add_url_rule("/brand-new", "brand_new", lambda: "ok", methods=["GET", "POST", "DELETE"])
    app.add_url_rule("/dashboard/new-page", "new_page", lambda: "ok", methods=["GET", "POST"])
    client = app.test_client()
    assert client.get("/brand-new").status_code == 401
    assert client.get("/brand-new", headers=bearer(make_token("read"))).status_code == 200
    for method in ("POST", "DELETE"):
        reader = bearer(make_token("read", "ingest"))
        assert client.open("/brand-new", method=method, headers=reader).status_code == 403
        admin = bearer(make_token("admin"))
        assert client.open("/brand-new", method=method, headers=admin).status_code == 200
    assert client.get("/dashboard/new-page", headers=HTML).status_code == 302
    assert client.post("/dashboard/new-page").status_code == 401


def test_unknown_paths_are_404_and_wrong_methods_405(secure_client):
    assert secure_client.get("/no-such-thing").status_code == 404
    assert secure_client.put("/abtest").status_code == 405


@pytest.mark.parametrize(
    ("path", "method", "area", "scope", "role", "csrf"),
    [
        ("/static/<path:filename>", "GET", "public", None, None, False),
        ("/static/<path:filename>", "POST", "api", "admin", None, False),
        ("/openapi.json", "GET", "public", None, None, False),
        ("/login", "POST", "login", None, None, True),
        ("/", "GET", "page", None, "viewer", False),
        ("/dashboard/abtests/<name>", "POST", "page", None, "editor", True),
        ("/dashboardx", "GET", "api", "read", None, False),
        ("/metrics", "GET", "api", "read", None, False),
        ("/ingest", "POST", "api", "ingest", None, False),
        ("/ingest", "DELETE", "api", "admin", None, False),
        ("/abtest/<name>", "PATCH", "api", "admin", None, False),
        ("/tokens", "GET", "api", "admin", None, False),
        ("/anything/new", "PUT", "api", "admin", None, False),
    ],
)
def test_requirement_table(path, method, area, scope, role, csrf):
    endpoint = "static" if path.startswith("/static/") else "x.view"
    got = requirement(path, endpoint, method)
    assert (got.area, got.scope, got.role, got.csrf) == (area, scope, role, csrf)
