"""`tsmetrics token ...` and `tsmetrics user ...`: API tokens and dashboard users."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import click
import psycopg

from tsmetrics.cli.database import connect, database_url, load_cli_settings
from tsmetrics.security import startup, tokens, users
from tsmetrics.settings import SettingError
from tsmetrics.store import tokens as token_store
from tsmetrics.store import users as user_store
from tsmetrics.store.users import ROLES


def check_serve(settings: dict[str, Any], bind: str | None = None) -> None:
    """Refuse to start gunicorn with unsafe settings, before any worker tries."""
    if bind:
        # Workers read their settings from the environment: they must check
        # the address they really listen on.
        os.environ["TSMETRICS_BIND"] = settings["BIND"] = bind
    try:
        startup.check(settings)
    except SettingError as error:
        raise click.UsageError(str(error)) from None


def demo_security(settings: dict[str, Any]) -> None:
    """On a loopback address the demo runs without authentication, in development mode."""
    if startup.is_loopback(settings["BIND"]):
        for name, value in (("AUTH", "off"), ("ENV", "development")):
            # An explicit TSMETRICS_AUTH=on (or ENV) wins over the demo's default.
            settings[name] = os.environ.setdefault("TSMETRICS_" + name, value)
    else:
        click.echo(f"TSMETRICS_BIND={settings['BIND']} is not loopback: authentication stays on.")
    check_serve(settings)


@contextmanager
def _database():
    """A connection to TSMETRICS_DATABASE_URL, committed when the command succeeds."""
    settings = load_cli_settings()
    with connect(database_url(settings), settings) as conn:
        try:
            yield conn
        except psycopg.errors.UndefinedTable:
            raise click.ClickException(
                "The schema is out of date: run `tsmetrics migrate`."
            ) from None


def _when(moment: datetime | None) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if moment else "-"


@click.group()
def token() -> None:
    """API bearer tokens: create (shown once), list, revoke."""


@token.command("create")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    type=click.Choice(tokens.SCOPES),
    help="read, ingest or admin (repeatable).",
)
@click.option("--expires", help="90d, 12h, or an ISO date such as 2026-06-30. Default: never.")
@click.option("--rate-limit", help="This token's own rate, e.g. 60/minute. Default: the settings'.")
def token_create(
    name: str, scopes: tuple[str, ...], expires: str | None, rate_limit: str | None
) -> None:
    """Create a token and print it once (stdout; everything else goes to stderr)."""
    try:
        expires_at = tokens.parse_expiry(expires) if expires else None
        with _database() as conn:
            secret, record = tokens.issue(
                conn, name, list(scopes), expires_at=expires_at, rate_limit=rate_limit
            )
    except tokens.TokenError as error:
        raise click.UsageError(str(error)) from None
    click.echo(
        f"Created token {record.name!r} (id {record.id}, scopes {', '.join(record.scopes)}, "
        f"expires {_when(record.expires_at)}).",
        err=True,
    )
    click.echo(secret)
    click.echo("Store it now: it is shown only this once; TSMetrics keeps only its hash.", err=True)


@token.command("list")
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked tokens.")
def token_list(include_revoked: bool) -> None:
    """List tokens by name: prefix, scopes, expiry, last use. Never the tokens themselves."""
    with _database() as conn:
        found = token_store.list_tokens(conn, include_revoked=include_revoked)
    click.echo(f"{'id':>4}  {'name':<24} {'prefix':<13} {'scopes':<18} {'expires':<21} last used")
    for t in found:
        state = " (revoked)" if t.revoked_at else ""
        click.echo(
            f"{t.id:>4}  {t.name[:24]:<24} {t.prefix:<13} {','.join(t.scopes):<18} "
            f"{_when(t.expires_at):<21} {_when(t.last_used_at)}{state}"
        )


@token.command("revoke")
@click.argument("name_or_id")
def token_revoke(name_or_id: str) -> None:
    """Revoke a live token by name or id; it stops working at once."""
    token_id = int(name_or_id) if name_or_id.isdigit() else None
    with _database() as conn:
        # Digits name an id: one token only, never also one named "12".
        name = None if token_id is not None else name_or_id
        revoked = token_store.revoke_token(conn, token_id=token_id, name=name)
    if revoked is None:
        raise click.ClickException(f"No live token has the name or id {name_or_id!r}.")
    click.echo(f"Revoked token {revoked.name!r} (id {revoked.id}).")


def _new_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@click.group()
def user() -> None:
    """Dashboard users: create, passwd, disable, enable, role, list."""


@user.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), default="viewer", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin (scripts).")
def user_create(username: str, role: str, password_stdin: bool) -> None:
    """Create a user; the password is asked for (twice) or read from stdin."""
    try:
        users.check_username(username)
        password = _new_password(password_stdin)
        with _database() as conn:
            users.create_user(conn, username, password, role)
    except users.UserError as error:
        raise click.UsageError(str(error)) from None
    click.echo(f"Created {role} {username!r}.")


@user.command("passwd")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin (scripts).")
def user_passwd(username: str, password_stdin: bool) -> None:
    """Set a new password; the user's sessions end everywhere."""
    try:
        password = _new_password(password_stdin)
        with _database() as conn:
            users.change_password(conn, username, password)
    except users.UserError as error:
        raise click.UsageError(str(error)) from None
    click.echo(f"Changed the password of {username!r}; their sessions have ended.")


def _set_disabled(username: str, disabled: bool) -> None:
    with _database() as conn:
        if not user_store.set_disabled(conn, username, disabled):
            raise click.ClickException(f"No user named {username!r}.")
    click.echo(f"{'Disabled' if disabled else 'Enabled'} {username!r}.")


@user.command("disable")
@click.argument("username")
def user_disable(username: str) -> None:
    """Disable a user: no more logins, and their sessions end now."""
    _set_disabled(username, True)


@user.command("enable")
@click.argument("username")
def user_enable(username: str) -> None:
    """Enable a disabled user again."""
    _set_disabled(username, False)


@user.command("role")
@click.argument("username")
@click.argument("role", type=click.Choice(ROLES))
def user_role(username: str, role: str) -> None:
    """Change a user's role (effective at their next request)."""
    with _database() as conn:
        if not user_store.set_role(conn, username, role):
            raise click.ClickException(f"No user named {username!r}.")
    click.echo(f"{username!r} is now {role}.")


@user.command("list")
def user_list() -> None:
    """List users: role, state, last login."""
    with _database() as conn:
        found = user_store.list_users(conn)
    for u in found:
        state = "disabled" if u.disabled_at else "active"
        click.echo(f"{u.username:<32} {u.role:<7} {state:<9} last login {_when(u.last_login_at)}")
