"""Single sign-on through a reverse proxy: its headers count only from trusted addresses."""

from __future__ import annotations

import pytest

from tests.security.helpers import bearer

HTML = {"Accept": "text/html"}
PROXY = "10.0.0.5"
SSO = {
    "TRUSTED_PROXIES": "10.0.0.0/24, ::1",
    "PROXY_EDITOR_GROUPS": "metrics-editors",
}


def _as(address: str, **headers: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}, "headers": {**HTML, **headers}}


@pytest.fixture
def sso_client(make_app):
    """A client of an app that trusts the proxies at 10.0.0.0/24 and ::1."""
    app = make_app(**SSO)
    app.add_url_rule("/dashboard/edit-thing", "edit_thing", lambda: "saved", methods=["POST"])
    return app.test_client()


def test_proxy_user_is_accepted_from_a_trusted_address(sso_client):
    response = sso_client.get("/dashboard/", **_as(PROXY, **{"X-Forwarded-User": "alice"}))
    assert response.status_code == 200


def test_proxy_headers_from_anywhere_else_are_ignored(sso_client):
    for address in ("10.0.1.5", "203.0.113.9", "127.0.0.1"):
        response = sso_client.get("/dashboard/", **_as(address, **{"X-Forwarded-User": "alice"}))
        assert response.status_code == 302, address
    # Not even through a forged X-Forwarded-For naming the proxy.
    forged = _as("203.0.113.9", **{"X-Forwarded-User": "alice", "X-Forwarded-For": PROXY})
    assert sso_client.get("/dashboard/", **forged).status_code == 302


def test_proxy_headers_are_ignored_when_no_proxy_is_configured(make_app):
    client = make_app().test_client()
    response = client.get("/dashboard/", **_as(PROXY, **{"X-Forwarded-User": "alice"}))
    assert response.status_code == 302


def test_groups_map_to_roles(sso_client):
    viewer = _as(PROXY, **{"X-Forwarded-User": "vic", "X-Forwarded-Groups": "staff"})
    editor = _as(
        PROXY, **{"X-Forwarded-User": "eve", "X-Forwarded-Groups": "staff,metrics-editors"}
    )
    assert sso_client.post("/dashboard/edit-thing", **viewer).status_code == 403
    # The editor gets past the role check and meets the CSRF check.
    refused = sso_client.post("/dashboard/edit-thing", **editor)
    assert refused.status_code == 403 and "CSRF" in refused.text
    sso_client.get("/dashboard/", **editor)
    with sso_client.session_transaction() as session:
        token = session["csrf"]
    editor["headers"]["X-CSRF-Token"] = token
    assert sso_client.post("/dashboard/edit-thing", **editor).text == "saved"


def test_viewer_groups_restrict_who_gets_in(make_app):
    client = make_app(**SSO, PROXY_VIEWER_GROUPS="metrics-viewers").test_client()
    outsider = _as(PROXY, **{"X-Forwarded-User": "ann", "X-Forwarded-Groups": "sales"})
    insider = _as(PROXY, **{"X-Forwarded-User": "vic", "X-Forwarded-Groups": "metrics-viewers"})
    assert client.get("/dashboard/", **outsider).status_code == 403
    assert client.get("/dashboard/", **insider).status_code == 200


def test_proxy_users_get_no_api_write_access(sso_client):
    user = _as(PROXY, **{"X-Forwarded-User": "eve", "X-Forwarded-Groups": "metrics-editors"})
    assert sso_client.get("/abtest", **user).status_code == 200
    assert sso_client.post("/abtest", json={}, **user).status_code == 403


def test_https_and_client_address_only_from_trusted_proxies(sso_client, make_token):
    https = {"X-Forwarded-Proto": "https"}
    trusted = sso_client.get("/openapi.json", **_as(PROXY, **https))
    assert "Strict-Transport-Security" in trusted.headers
    untrusted = sso_client.get("/openapi.json", **_as("203.0.113.9", **https))
    assert "Strict-Transport-Security" not in untrusted.headers
    token = make_token("read")
    assert sso_client.get("/abtest", **_as(PROXY, **bearer(token))).status_code == 200
