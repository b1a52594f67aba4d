"""API tokens: stored only as hashes, revocable, expiring, scoped; 401/403 as problems."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from tests.security.helpers import PROBLEM, bearer
from tsmetrics.security import tokens
from tsmetrics.store import tokens as store


def _problem(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json(force=True)
    assert body["status"] == status
    return body


def test_tokens_are_random_prefixed_and_stored_only_as_sha256(auth_db):
    token, record = tokens.issue(auth_db, "ci", ["read"])
    other, _ = tokens.issue(auth_db, "ci-2", ["read"])
    assert token.startswith("tsm_") and len(token) == 47 and token != other
    assert record.prefix == token[:12]
    rows = auth_db.execute("SELECT * FROM api_tokens").fetchall()
    stored = " ".join(str(value) for row in rows for value in row)
    assert token not in stored and token[12:] not in stored
    (digest,) = auth_db.execute(
        "SELECT token_hash FROM api_tokens WHERE id = %s", [record.id]
    ).fetchone()
    assert bytes(digest) == hashlib.sha256(token.encode()).digest()


def test_a_token_opens_its_scope(secure_client, make_token, feature_a):
    token = make_token("read")
    response = secure_client.get("/abtest", headers=bearer(token))
    assert response.status_code == 200
    assert response.get_json() == ["feature_a"]


def test_missing_token_is_401_with_a_challenge(secure_client):
    response = secure_client.get("/abtest")
    body = _problem(response, 401)
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="tsmetrics"'
    assert "Authorization: Bearer" in body["detail"]


@pytest.mark.parametrize(
    ("header", "error"),
    [
        ("Bearer tsm_" + "A" * 43, "invalid_token"),
        ("Bearer not-a-token", "invalid_token"),
        ("Basic dXNlcjpwYXNz", "invalid_request"),
        ("Bearer", "invalid_request"),
    ],
)
def test_bad_tokens_are_401_naming_the_error(secure_client, header, error):
    response = secure_client.get("/abtest", headers={"Authorization": header})
    _problem(response, 401)
    assert f'error="{error}"' in response.headers["WWW-Authenticate"]


def test_wrong_scope_is_403_naming_the_scope(secure_client, make_token):
    response = secure_client.post("/abtest", json={}, headers=bearer(make_token("read", "ingest")))
    body = _problem(response, 403)
    assert "admin" in body["detail"]
    assert 'error="insufficient_scope", scope="admin"' in response.headers["WWW-Authenticate"]


def test_revoked_token_stops_working_at_once(secure_client, make_token, auth_db):
    token = make_token("read", name="soon-revoked")
    assert secure_client.get("/abtest", headers=bearer(token)).status_code == 200
    assert store.revoke_token(auth_db, name="soon-revoked") is not None
    response = secure_client.get("/abtest", headers=bearer(token))
    _problem(response, 401)
    assert "revoked" in response.headers["WWW-Authenticate"]
    # The name is free again; the old token stays dead.
    new = make_token("read", name="soon-revoked")
    assert secure_client.get("/abtest", headers=bearer(new)).status_code == 200
    assert secure_client.get("/abtest", headers=bearer(token)).status_code == 401


def test_expired_token_is_refused(secure_client, make_token, auth_db):
    token = make_token("read", expires_at=datetime.now(UTC) + timedelta(hours=1))
    assert secure_client.get("/abtest", headers=bearer(token)).status_code == 200
    auth_db.execute("UPDATE api_tokens SET expires_at = now() - interval '1 second'")
    response = secure_client.get("/abtest", headers=bearer(token))
    _problem(response, 401)
    assert "expired" in response.headers["WWW-Authenticate"]


def test_last_use_is_recorded(secure_client, make_token, auth_db):
    token = make_token("read")
    assert auth_db.execute("SELECT last_used_at FROM api_tokens").fetchone()[0] is None
    secure_client.get("/abtest", headers=bearer(token))
    assert auth_db.execute("SELECT last_used_at FROM api_tokens").fetchone()[0] is not None


@pytest.mark.parametrize(
    ("name", "scopes", "options", "message"),
    [
        ("", ["read"], {}, "name"),
        ("bad\nname", ["read"], {}, "name"),
        ("x", [], {}, "Scopes"),
        ("x", ["root"], {}, "Scopes"),
        ("x", ["read"], {"expires_at": datetime(2020, 1, 1, tzinfo=UTC)}, "past"),
        ("x", ["read"], {"rate_limit": "lots"}, "not a rate"),
    ],
)
def test_bad_token_requests_are_refused(auth_db, name, scopes, options, message):
    with pytest.raises(tokens.TokenError, match=message):
        tokens.issue(auth_db, name, scopes, **options)


def test_a_live_name_cannot_be_taken_twice(auth_db):
    tokens.issue(auth_db, "ci", ["read"])
    with pytest.raises(tokens.TokenNameTaken):
        tokens.issue(auth_db, "ci", ["ingest"])


def test_expiry_notation():
    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert tokens.parse_expiry("90d", now) == now + timedelta(days=90)
    assert tokens.parse_expiry("12h", now) == now + timedelta(hours=12)
    assert tokens.parse_expiry("2026-06-30") == datetime(2026, 6, 30, tzinfo=UTC)
    with pytest.raises(tokens.TokenError):
        tokens.parse_expiry("soon")


def test_token_api_creates_shows_once_lists_and_revokes(secure_client, make_token):
    admin = bearer(make_token("admin", name="root"))
    created = secure_client.post(
        "/tokens", json={"name": "ci-ingest", "scopes": ["ingest"]}, headers=admin
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    body = created.get_json()
    secret = body["token"]
    assert secret.startswith(body["prefix"])
    listing = secure_client.get("/tokens", headers=admin)
    assert secret not in listing.get_data(as_text=True)
    assert {t["name"] for t in listing.get_json()} == {"root", "ci-ingest"}
    taken = secure_client.post(
        "/tokens", json={"name": "ci-ingest", "scopes": ["read"]}, headers=admin
    )
    _problem(taken, 409)
    assert secure_client.delete(f"/tokens/{body['id']}", headers=admin).status_code == 204
    _problem(secure_client.delete(f"/tokens/{body['id']}", headers=admin), 404)
    assert secure_client.post("/ingest", json={}, headers=bearer(secret)).status_code == 401


def test_token_api_needs_admin_even_to_list(secure_client, make_token):
    reader = bearer(make_token("read", "ingest"))
    _problem(secure_client.get("/tokens", headers=reader), 403)
