"""A token's last-use touch: once a minute, and never an error where it cannot be written."""

from __future__ import annotations

import psycopg
import pytest

from tsmetrics.security import tokens
from tsmetrics.store import tokens as store


@pytest.fixture
def issued(db):
    """A fresh read token (its text and its hash)."""
    token, _record = tokens.issue(db, "reader", ["read"])
    return tokens.hash_token(token)


def _last_used(db):
    return db.execute("SELECT last_used_at FROM api_tokens").fetchone()[0]


def test_a_touch_is_written_once_a_minute(db, issued):
    found = store.find_live_token(db, issued, touch=False)
    assert found is not None and _last_used(db) is None
    assert store.touch_token(db, found) is True
    assert _last_used(db) is not None
    again = store.find_live_token(db, issued, touch=False)
    assert store.touch_token(db, again) is False  # within the minute: not even asked


def test_a_read_only_connection_skips_the_touch_and_keeps_its_transaction(database_url, db, issued):
    with psycopg.connect(database_url, options="-c default_transaction_read_only=on") as conn:
        found = store.find_live_token(conn, issued)  # touches, as the API's read pool would
        assert found is not None
        # The refused UPDATE was rolled back to its savepoint: the transaction goes on.
        assert store.find_token_by_hash(conn, issued) == found
    assert _last_used(db) is None
