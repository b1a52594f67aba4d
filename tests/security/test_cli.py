"""`tsmetrics token ...`, `tsmetrics user ...`, and serve/demo refusing unsafe settings."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from tests.security.helpers import PASSWORD, bearer
from tsmetrics.cli import main
from tsmetrics.cli.server import _banner
from tsmetrics.security.tokens import hash_token


@pytest.fixture
def run(auth_db, database_url):
    """Run the CLI on the test database; stdout and stderr kept apart."""

    def invoke(*args: str, input: str | None = None, **env: str):
        runner = CliRunner()
        environment = {"TSMETRICS_DATABASE_URL": database_url, **env}
        return runner.invoke(main, list(args), input=input, env=environment)

    return invoke


def test_token_create_prints_the_token_once_on_stdout(run, auth_db, secure_client):
    result = run("token", "create", "ci", "--scope", "read", "--scope", "ingest")
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.startswith("tsm_") and "\n" not in token
    assert "shown only this once" in result.stderr
    (digest,) = auth_db.execute("SELECT token_hash FROM api_tokens").fetchone()
    assert bytes(digest) == hash_token(token)
    assert secure_client.get("/abtest", headers=bearer(token)).status_code == 200
    listing = run("token", "list")
    assert "ci" in listing.output and token[:12] in listing.output
    assert token not in listing.output and token[12:] not in listing.output


def test_token_revoke_by_name_and_id(run, secure_client):
    first = run("token", "create", "one", "--scope", "read").stdout.strip()
    second = run("token", "create", "two", "--scope", "read", "--expires", "30d").stdout.strip()
    assert run("token", "revoke", "one").exit_code == 0
    assert run("token", "revoke", "2").exit_code == 0
    for token in (first, second):
        assert secure_client.get("/abtest", headers=bearer(token)).status_code == 401
    again = run("token", "revoke", "one")
    assert again.exit_code == 1 and "No live token" in again.output
    assert "(revoked)" in run("token", "list", "--all").output


def test_token_create_refuses_bad_input(run):
    assert run("token", "create", "x", "--scope", "root").exit_code == 2
    assert run("token", "create", "x").exit_code == 2
    result = run("token", "create", "x", "--scope", "read", "--expires", "someday")
    assert result.exit_code == 2 and "90d" in result.output
    run("token", "create", "dup", "--scope", "read")
    assert "exists" in run("token", "create", "dup", "--scope", "read").output


def test_token_create_refuses_a_rate_that_allows_nothing(run, auth_db):
    result = run("token", "create", "zero", "--scope", "read", "--rate-limit", "0/minute")
    assert result.exit_code == 2 and "allows no request" in result.output
    assert (
        run("token", "create", "one", "--scope", "read", "--rate-limit", "1/minute").exit_code == 0
    )


def test_user_lifecycle(run, secure_client):
    from tests.security.helpers import log_in

    created = run("user", "create", "alice", "--role", "editor", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert created.exit_code == 0, created.output
    assert PASSWORD not in created.output
    assert log_in(secure_client, "alice").status_code == 302
    changed = run("user", "passwd", "alice", "--password-stdin", input="another long password\n")
    assert changed.exit_code == 0, changed.output
    assert secure_client.get("/dashboard/", headers={"Accept": "text/html"}).status_code == 302
    assert log_in(secure_client, "alice", "another long password").status_code == 302
    assert run("user", "role", "alice", "viewer").exit_code == 0
    assert run("user", "disable", "alice").exit_code == 0
    assert "disabled" in run("user", "list").output
    assert log_in(secure_client, "alice", "another long password").status_code == 200
    assert run("user", "enable", "alice").exit_code == 0
    assert log_in(secure_client, "alice", "another long password").status_code == 302


def test_user_commands_refuse_bad_input(run):
    assert run("user", "create", "bob", "--password-stdin", input="short\n").exit_code == 2
    assert run("user", "create", "bob smith", "--password-stdin", input=PASSWORD).exit_code == 2
    assert run("user", "disable", "nobody").exit_code == 1
    assert run("user", "passwd", "nobody", "--password-stdin", input=PASSWORD).exit_code == 2


def test_serve_refuses_production_without_a_secret_key(run):
    result = run("serve", TSMETRICS_ENV="production", TSMETRICS_SECRET_KEY=None)
    assert result.exit_code == 2
    assert "TSMETRICS_SECRET_KEY" in result.output


def test_serve_refuses_auth_off_on_a_public_address(run):
    # serve exports the bind for its workers; naming it here restores it afterwards.
    result = run(
        "serve", "--bind", "0.0.0.0:5221", TSMETRICS_AUTH="off", TSMETRICS_BIND="127.0.0.1:5221"
    )
    assert result.exit_code == 2
    assert "TSMETRICS_AUTH=off" in result.output


def test_the_demo_banner_says_whether_authentication_is_on():
    assert "no authentication" in _banner("127.0.0.1:5221", True, "off")
    assert "authentication is on" in _banner("127.0.0.1:5221", True, "on")
