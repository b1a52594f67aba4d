"""Secrets: read from the environment or *_FILE, refused when weak, never logged or shown."""

from __future__ import annotations

import base64
import logging
import random
import secrets
import string

import psycopg
import pytest

from tests.security.helpers import PASSWORD, SECRET_KEY, SECURE_CONFIG, bearer, log_in
from tsmetrics import create_app
from tsmetrics.security.key_strength import secret_key_weakness
from tsmetrics.security.startup import DEVELOPMENT_SECRET_KEY, check_secret_key
from tsmetrics.settings import SettingError, load_settings

DB_PASSWORD = "db-Pa55word-never-logged"
REDIS_PASSWORD = "redis-Pa55word-never-logged"


def _production(**overrides):
    return {**SECURE_CONFIG, "DATABASE_URL": "postgresql://x@127.0.0.1:1/x", **overrides}


WEAK_KEYS = [
    None,
    "",
    DEVELOPMENT_SECRET_KEY,
    "short-but-not-empty",
    " " * 35,  # issue 14: long enough, and nothing but spaces
    "a" * 38,  # issue 14: one character repeated
    "\t\n \r" * 10,
    "ab" * 20,
    "password" * 5,
    "0123456789abcdef" * 2,  # 16 distinct characters, but a pattern repeated
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaabbbbbbbbbbbbcdef",  # few, lopsided characters
    "12121212121212121212121212121212121234",
    "é" * 20,  # 40 bytes of one character
]
STRONG_KEYS = [
    SECRET_KEY,
    secrets.token_urlsafe(48),
    secrets.token_urlsafe(32),
    secrets.token_hex(32),
    secrets.token_hex(16),  # 32 hex digits: exactly 128 bits
    base64.b64encode(secrets.token_bytes(32)).decode(),
    secrets.token_hex(24) + secrets.token_hex(24),  # what secrets/create.sh writes
]


@pytest.mark.parametrize("key", WEAK_KEYS, ids=repr)
def test_production_refuses_a_missing_default_short_or_weak_secret_key(key):
    with pytest.raises(SettingError) as refused:
        create_app(_production(SECRET_KEY=key))
    message = str(refused.value)
    assert "TSMETRICS_SECRET_KEY" in message and "TSMETRICS_SECRET_KEY_FILE" in message
    assert "python -c 'import secrets; print(secrets.token_urlsafe(48))'" in message
    if key and key.strip():
        assert key not in message


@pytest.mark.parametrize(
    "key", STRONG_KEYS, ids=["tests", "url48", "url32", "hex32", "hex16", "b64", "sh"]
)
def test_production_accepts_random_secret_keys(key):
    check_secret_key(key)


def test_random_keys_of_every_usual_shape_pass_the_entropy_estimate():
    """No false refusals: 20,000 keys of each generator's alphabet, from a seeded RNG."""
    rng = random.Random(14)
    alphabets = {
        "hex": (string.digits + "abcdef", 32),
        "urlsafe": (string.ascii_letters + string.digits + "-_", 32),
        "alnum": (string.ascii_letters + string.digits, 32),
        "lower": (string.ascii_lowercase, 32),
        "digits": (string.digits, 40),
    }
    for name, (alphabet, length) in alphabets.items():
        for _ in range(20_000):
            key = "".join(rng.choice(alphabet) for _ in range(length))
            assert secret_key_weakness(key) is None, (name, key)


def test_development_mode_accepts_the_default_key(make_app):
    make_app(ENV="development", SECRET_KEY=DEVELOPMENT_SECRET_KEY)


def test_unknown_mode_is_refused():
    with pytest.raises(SettingError, match="TSMETRICS_ENV"):
        create_app(_production(ENV="staging"))


def test_secrets_come_from_files(tmp_path, monkeypatch):
    key_file = tmp_path / "secret_key"
    key_file.write_text(SECRET_KEY + "\n")
    redis_file = tmp_path / "redis_url"
    redis_file.write_text("redis://:pw@127.0.0.1:6379/0\n")
    settings = load_settings(
        environ={
            "TSMETRICS_SECRET_KEY_FILE": str(key_file),
            "TSMETRICS_REDIS_URL_FILE": str(redis_file),
        }
    )
    assert settings["SECRET_KEY"] == SECRET_KEY
    assert settings["REDIS_URL"] == "redis://:pw@127.0.0.1:6379/0"
    # In production, the key from the file is the one the app signs sessions with.
    monkeypatch.setenv("TSMETRICS_SECRET_KEY_FILE", str(key_file))
    config = {name: value for name, value in _production().items() if name != "SECRET_KEY"}
    app = create_app(config)
    app.extensions["tsmetrics.pool"].close()
    assert app.secret_key == SECRET_KEY


def test_auth_off_is_refused_unless_bound_to_loopback(database_url):
    for bind in ("0.0.0.0:5221", "10.1.2.3:80", "[::]:5221", "example.com:80"):
        with pytest.raises(SettingError, match="TSMETRICS_AUTH=off"):
            create_app({"DATABASE_URL": database_url, "AUTH": "off", "BIND": bind})
    for bind in ("127.0.0.1:5221", "localhost:5221", "[::1]:5221"):
        app = create_app({"DATABASE_URL": database_url, "AUTH": "off", "BIND": bind})
        app.extensions["tsmetrics.pool"].close()


def test_demo_mode_says_so_on_every_page(make_app):
    client = make_app(AUTH="off", ENV="development").test_client()
    html = {"Accept": "text/html"}
    for path in ("/dashboard/", "/swagger", "/dashboard/no-such-page"):
        assert "authentication is off" in client.get(path, headers=html).text, path


def test_no_demo_banner_with_auth_on(secure_client):
    assert "authentication is off" not in secure_client.get("/login").text


def _with_password(url: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(url)
    # The test server trusts local connections, so the password is sent and ignored.
    return psycopg.conninfo.make_conninfo(**{**params, "password": DB_PASSWORD})


def _exercise(client, token: str) -> list[str]:
    """Requests that touch every secret; their bodies, for the caller to search."""
    responses = [
        client.get("/abtest", headers=bearer(token)),
        client.get("/abtest", headers=bearer(token[:-1] + "x")),
        client.get("/abtest", headers={"Authorization": f"Basic {token}"}),
        client.get("/abtest"),
        log_in(client, "alice", "wrong password, logged?"),
        log_in(client, "alice"),
        client.post("/dashboard/", data={"password": PASSWORD}),
        client.get("/dashboard/", headers={"Accept": "text/html"}),
        client.get("/nowhere"),
    ]
    return [response.get_data(as_text=True) + str(response.headers) for response in responses]


def test_secrets_never_reach_logs_pages_or_problems(
    make_app, make_token, make_user, database_url, caplog, capsys
):
    caplog.set_level(logging.DEBUG)
    make_user("alice")
    token = make_token("read")
    app = make_app(
        DATABASE_URL=_with_password(database_url),
        REDIS_URL=f"redis://:{REDIS_PASSWORD}@127.0.0.1:1/0",  # unreachable: errors get logged
        LOG_LEVEL="DEBUG",
    )
    bodies = _exercise(app.test_client(), token)
    down = make_app(DATABASE_URL=f"postgresql://u:{DB_PASSWORD}@127.0.0.1:1/x", POOL_TIMEOUT=0.5)
    bodies.append(down.test_client().get("/abtest", headers=bearer(token)).text)
    captured = capsys.readouterr()
    everything = "\n".join([caplog.text, captured.out, captured.err, *bodies])
    assert "database pool for" in caplog.text  # the URLs were logged, redacted
    for secret in (SECRET_KEY, DB_PASSWORD, REDIS_PASSWORD, token, token[4:], PASSWORD):
        assert secret not in everything, f"a secret leaked: {secret[:6]}..."
