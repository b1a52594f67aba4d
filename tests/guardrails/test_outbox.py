"""The outbox's SQL on real PostgreSQL: claims skip locked rows and keep each guardrail's order."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from tests.guardrails.conftest import make_guarded
from tsmetrics.guardrails.alerts import transition
from tsmetrics.store import guardrails as store


def _queue(db, g, variant: int, state: str) -> int:
    return store.insert_delivery(
        db,
        event_id=uuid.uuid4(),
        abtest_id=g.test.id,
        metric_id=g.metric.id,
        variant=variant,
        state=state,
        body="{}",
        pending=True,
    )


@pytest.fixture
def other(database_url):
    """A second connection: another watcher."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


def test_a_held_row_is_skipped_and_its_successor_waits(db, other, database_url):
    g = make_guarded(db, variants=("control", "a", "b"))
    first = _queue(db, g, 1, "raised")
    second = _queue(db, g, 1, "cleared")
    elsewhere = _queue(db, g, 2, "raised")
    with db.transaction(), psycopg.connect(database_url, autocommit=True) as third:
        assert store.claim_delivery(db).id == first
        with other.transaction():
            # `first` is held; `second` must wait for it; another guardrail's row is free.
            assert store.claim_delivery(other).id == elsewhere
            with third.transaction():
                assert store.claim_delivery(third) is None
        store.mark_delivered(db, first)
    with db.transaction():
        assert store.claim_delivery(db).id == second


def test_a_failed_row_blocks_its_guardrail_until_it_is_sent(db):
    g = make_guarded(db)
    first = _queue(db, g, 1, "raised")
    second = _queue(db, g, 1, "cleared")
    with db.transaction():
        assert store.claim_delivery(db).id == first
        store.mark_failed(db, first, "HTTP 503 Service Unavailable", 3600.0)
    with db.transaction():
        assert store.claim_delivery(db) is None  # `second` is due but behind `first`
    assert 3590 < store.seconds_to_next_due(db) <= 3600
    db.execute("UPDATE guardrail_deliveries SET next_attempt_at = now() WHERE id = %s", [first])
    with db.transaction():
        assert store.claim_delivery(db).id == first
        store.mark_delivered(db, first)
    with db.transaction():
        assert store.claim_delivery(db).id == second
    rows = store.list_deliveries(db)
    assert (rows[0].attempts, rows[0].last_error) == (2, "HTTP 503 Service Unavailable")


def test_nothing_pending_means_no_due_time(db):
    g = make_guarded(db)
    assert store.seconds_to_next_due(db) is None
    store.insert_delivery(
        db,
        event_id=uuid.uuid4(),
        abtest_id=g.test.id,
        metric_id=g.metric.id,
        variant=1,
        state="raised",
        body="{}",
        pending=False,
        note="not sent",
    )
    assert store.seconds_to_next_due(db) is None


@pytest.mark.parametrize(
    ("before", "after", "alert"),
    [
        (None, "clear", None),
        (None, "raised", "raised"),
        ("clear", "raised", "raised"),
        ("raised", "raised", None),
        ("raised", "clear", "cleared"),
        ("clear", "clear", None),
    ],
)
def test_which_moves_send_an_alert(before, after, alert):
    assert transition(before, after) == alert


def test_one_evaluator_at_a_time(db, other):
    assert store.try_lead(db)
    assert not store.try_lead(other)
    db.execute("SELECT pg_advisory_unlock_all()")
    assert store.try_lead(other)
    other.execute("SELECT pg_advisory_unlock_all()")
