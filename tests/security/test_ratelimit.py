"""Rate limits per token or address: 429 problem+json with Retry-After, shared through Redis."""

from __future__ import annotations

import secrets

import pytest

from tests.security.helpers import PROBLEM, bearer, csrf_from
from tests.support.services import port_open, require_service

REDIS_URL = "redis://127.0.0.1:6379/0"


def _assert_429(response):
    assert response.status_code == 429, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json(force=True)
    assert body["status"] == 429 and "3 per 1 hour" in body["detail"]
    assert 1 <= int(response.headers["Retry-After"]) <= 3600


def test_limit_per_token_then_429_with_retry_after(make_app, make_token, feature_a):
    client = make_app(RATE_LIMIT_READ="3/hour").test_client()
    first, second = bearer(make_token("read")), bearer(make_token("read"))
    for _ in range(3):
        assert client.get("/abtest", headers=first).status_code == 200
    _assert_429(client.get("/abtest", headers=first))
    # Another token has its own counter.
    assert client.get("/abtest", headers=second).status_code == 200


def test_without_a_token_the_client_address_is_limited(make_app):
    client = make_app(RATE_LIMIT_READ="3/hour").test_client()
    here, there = {"REMOTE_ADDR": "192.0.2.1"}, {"REMOTE_ADDR": "192.0.2.2"}
    for _ in range(3):
        assert client.get("/openapi.json", environ_base=here).status_code == 200
    _assert_429(client.get("/openapi.json", environ_base=here))
    assert client.get("/openapi.json", environ_base=there).status_code == 200


def test_a_token_may_have_its_own_limit(make_app, make_token, feature_a):
    client = make_app(RATE_LIMIT_READ="1000/hour").test_client()
    slow = bearer(make_token("read", rate_limit="3/hour"))
    for _ in range(3):
        assert client.get("/abtest", headers=slow).status_code == 200
    _assert_429(client.get("/abtest", headers=slow))


def test_login_attempts_are_limited_per_address(make_app):
    client = make_app(RATE_LIMIT_LOGIN="3/hour").test_client()
    form = {"username": "nobody", "password": "wrong password!", "next": "/"}
    form["csrf_token"] = csrf_from(client.get("/login").text)
    for _ in range(3):
        assert client.post("/login", data=form).status_code == 200
    response = client.post("/login", data=form, headers={"Accept": "text/html"})
    assert response.status_code == 429 and response.mimetype == "text/html"
    assert int(response.headers["Retry-After"]) >= 1
    # Viewing the form is another class, not blocked by the failed attempts.
    assert client.get("/login").status_code == 200


def test_default_limits_leave_a_busy_dashboard_alone(make_app, make_user):
    from tests.security.helpers import log_in

    make_user("alice")
    client = make_app().test_client()
    log_in(client, "alice")
    for _ in range(120):  # two requests a second for a minute: far more than a page makes
        assert client.get("/dashboard/", headers={"Accept": "text/html"}).status_code == 200


def test_an_empty_setting_means_no_limit(make_app):
    client = make_app(RATE_LIMIT_READ="").test_client()
    for _ in range(50):
        assert client.get("/openapi.json").status_code == 200


@pytest.mark.redis
def test_two_instances_share_the_limit_through_redis(make_app, make_token, feature_a):
    require_service(port_open("127.0.0.1", 6379), "Redis is not running on 127.0.0.1:6379")
    prefix = f"tsmetrics-test-{secrets.token_hex(6)}"
    settings = {"REDIS_URL": REDIS_URL, "RATE_LIMIT_PREFIX": prefix, "RATE_LIMIT_READ": "3/hour"}
    one, two = make_app(**settings).test_client(), make_app(**settings).test_client()
    token = bearer(make_token("read"))
    try:
        assert one.get("/abtest", headers=token).status_code == 200
        assert two.get("/abtest", headers=token).status_code == 200
        assert one.get("/abtest", headers=token).status_code == 200
        _assert_429(two.get("/abtest", headers=token))
        _assert_429(one.get("/abtest", headers=token))
    finally:
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"*{prefix}*"):
            client.delete(key)
        client.close()
