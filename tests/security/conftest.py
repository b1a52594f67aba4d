"""Fixtures for the security tests: apps with authentication ON, tokens, users, logins."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.security.helpers import PASSWORD, SECURE_CONFIG
from tsmetrics import create_app
from tsmetrics.security import tokens, users


@pytest.fixture
def auth_db(db):
    """The test database with no tokens and no users (the db fixture empties every table)."""
    return db


@pytest.fixture
def make_app(auth_db, database_url: str) -> Iterator[Callable[..., Flask]]:
    """Build apps with authentication on (plus overrides); their pools close afterwards."""
    built: list[Flask] = []

    def build(**overrides: Any) -> Flask:
        app = create_app({**SECURE_CONFIG, "DATABASE_URL": database_url, **overrides})
        app.testing = True
        built.append(app)
        return app

    yield build
    for app in built:
        app.extensions["tsmetrics.pool"].close()


@pytest.fixture
def secure_app(make_app) -> Flask:
    """An app with authentication on and the default settings."""
    return make_app()


@pytest.fixture
def secure_client(secure_app) -> FlaskClient:
    """A test client of `secure_app`."""
    return secure_app.test_client()


@pytest.fixture
def make_token(auth_db) -> Callable[..., str]:
    """Issue a token with the given scopes; returns the token text."""
    counter = iter(range(1, 10_000))

    def issue(*scopes: str, **options: Any) -> str:
        name = options.pop("name", None) or f"test-{next(counter)}"
        token, _record = tokens.issue(auth_db, name, list(scopes), **options)
        return token

    return issue


@pytest.fixture
def make_user(auth_db) -> Callable[..., str]:
    """Create a user with PASSWORD and the given role; returns the username."""

    def create(username: str = "alice", role: str = "viewer") -> str:
        users.create_user(auth_db, username, PASSWORD, role)
        return username

    return create
