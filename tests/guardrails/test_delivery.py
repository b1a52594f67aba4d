"""Webhook delivery through real watchers, PostgreSQL and an HTTP receiver on 127.0.0.1.

Exactly one accepted POST per change of state, signed (checked here with hmac
and hashlib, not with the code's own `sign`), in order per guardrail, also
when the receiver refuses connections or answers 503 for a while, and with
two watchers running at once.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid

import pytest

from tests.guardrails.conftest import (
    PUBLIC_URL,
    SECRET,
    add,
    clearing,
    make_guarded,
    watch_settings,
    worse_data,
)
from tests.support.webhook import Receiver, wait_until
from tsmetrics.store import guardrails as store


def _signed_correctly(received) -> bool:
    timestamp = received.header("X-TSMetrics-Timestamp")
    expected = hmac.new(
        SECRET.encode(), timestamp.encode() + b"." + received.body, hashlib.sha256
    ).hexdigest()
    fresh = abs(time.time() - int(timestamp)) < 60
    return fresh and hmac.compare_digest(
        received.header("X-TSMetrics-Signature"), f"sha256={expected}"
    )


def _rounds_after(watcher, rounds: int):
    # Evaluation rounds are counted by the watcher: wait for more, never for a time.
    target = watcher.stats.evaluations + rounds
    return lambda: watcher.stats.evaluations >= target


def test_one_signed_post_per_change_raised_then_cleared(db, database_url, receiver, watchers):
    g = make_guarded(db)
    control, treatment = worse_data()
    add(db, g, 0, control)
    add(db, g, 1, treatment)
    watcher = watchers(watch_settings(database_url, receiver.url))
    wait_until(lambda: len(receiver.all()) >= 1, 20, "the raised alert")

    raised = receiver.all()[0]
    assert raised.status == 200 and _signed_correctly(raised)
    assert raised.path == "/hooks/T0KEN-in-path"
    assert raised.header("Content-Type") == "application/json"
    assert raised.header("X-TSMetrics-Event") == "guardrail.raised"
    body = raised.json
    assert raised.header("X-TSMetrics-Delivery") == body["id"] == str(uuid.UUID(body["id"]))
    assert body["state"] == "raised" and body["event"] == "guardrail.raised"
    assert body["test"] == "checkout" and body["variant"] == "treatment"
    assert body["metric"] == "response_time"
    assert body["control"] == "control" and body["metricUnit"] == "ms"
    assert body["lift"] == pytest.approx(treatment.mean() - control.mean(), rel=1e-9)
    low, high = body["liftCi"]
    assert 0 < low < body["lift"] < high
    assert body["pValue"] < 0.05 and body["adjustedPValue"] >= body["pValue"]
    assert body["inference"]["method"] == "sequential"
    assert body["inference"]["unit"] == "sample" and body["inference"]["correction"] == "holm"
    assert body["inference"]["tuning"]["source"] == "default"
    assert body["link"] == f"{PUBLIC_URL}/dashboard/abtests/checkout"
    assert "response_time is worse in treatment" in body["text"]

    add(db, g, 1, clearing(treatment))
    wait_until(lambda: len(receiver.all()) >= 2, 20, "the cleared alert")
    wait_until(_rounds_after(watcher, 3), 20, "three more evaluations")
    posts = receiver.all()
    assert [p.json["state"] for p in posts] == ["raised", "cleared"]
    assert all(p.status == 200 and _signed_correctly(p) for p in posts)
    assert posts[1].json["id"] != posts[0].json["id"]
    outbox = store.list_deliveries(db, g.test.id)
    assert [(d.state, d.attempts, d.next_attempt_at) for d in outbox] == [
        ("raised", 1, None),
        ("cleared", 1, None),
    ]
    assert all(d.delivered_at is not None for d in outbox)


def test_receiver_down_then_503_then_back_delivers_each_change_once_in_order(
    db, database_url, watchers
):
    receiver = Receiver()  # not started: connections are refused
    g = make_guarded(db)
    control, treatment = worse_data()
    add(db, g, 0, control)
    add(db, g, 1, treatment)
    watchers(watch_settings(database_url, receiver.url))

    def attempts() -> int:
        return sum(d.attempts for d in store.list_deliveries(db, g.test.id))

    wait_until(lambda: attempts() >= 3, 20, "three refused attempts")
    first = store.list_deliveries(db, g.test.id)[0]
    assert first.delivered_at is None and "unreachable" in first.last_error
    assert "T0KEN" not in first.last_error

    receiver.status = 503
    receiver.start()
    wait_until(lambda: len(receiver.all()) >= 2, 20, "two POSTs answered 503")
    add(db, g, 1, clearing(treatment))  # the guardrail clears while the receiver still fails
    wait_until(lambda: len(store.list_deliveries(db, g.test.id)) == 2, 20, "the cleared row")
    failed = len(receiver.all())
    wait_until(lambda: len(receiver.all()) > failed, 20, "another 503")

    receiver.status = 200

    def delivered() -> bool:
        return all(row.delivered_at for row in store.list_deliveries(db, g.test.id))

    # The receiver logs a POST before it answers: wait for the watcher's record of it too.
    wait_until(delivered, 20, "both alerts marked delivered")
    accepted = receiver.accepted()
    assert [r.json["state"] for r in accepted] == ["raised", "cleared"]
    assert all(_signed_correctly(r) for r in accepted)
    # Every failed POST was the raised alert: the cleared one waited its turn.
    refused = [r for r in receiver.all() if r.status == 503]
    assert refused and {r.json["id"] for r in refused} == {accepted[0].json["id"]}
    assert {r.body for r in refused} == {accepted[0].body}  # retries send the same bytes
    rows = store.list_deliveries(db, g.test.id)
    assert rows[0].attempts >= 5 and rows[1].attempts == 1
    assert all(row.delivered_at and row.next_attempt_at is None for row in rows)
    receiver.stop()


def test_two_watchers_one_evaluates_no_alert_twice(db, database_url, receiver, watchers):
    receiver.delay = 0.2  # slow answers: both watchers deliver while the other holds a row
    names = ["alpha", "beta", "gamma"]
    for name in names:
        g = make_guarded(db, name, variants=("control", "t1", "t2"))
        control, treatment = worse_data(seed=len(name))
        add(db, g, 0, control)
        add(db, g, 1, treatment)
        add(db, g, 2, treatment + 1.0)
    first = watchers(watch_settings(database_url, receiver.url))
    second = watchers(watch_settings(database_url, receiver.url))
    wait_until(lambda: len(receiver.all()) >= 6, 30, "six raised alerts")
    wait_until(_rounds_after(first if first.leader else second, 5), 20, "five more evaluations")
    posts = receiver.all()
    ids = [p.json["id"] for p in posts]
    assert len(ids) == len(set(ids)) == 6
    assert {(p.json["test"], p.json["variant"]) for p in posts} == {
        (name, variant) for name in names for variant in ("t1", "t2")
    }
    assert sorted([first.leader, second.leader]) == [False, True]
    standby = second if first.leader else first
    assert standby.stats.evaluations == 0
    assert first.stats.sent + second.stats.sent == 6

    # The evaluator goes: the standby takes the lock and evaluates.
    (first if first.leader else second).stop()
    wait_until(lambda: standby.leader and standby.stats.evaluations >= 2, 20, "a take-over")
    assert len(receiver.all()) == 6


def test_without_a_webhook_changes_are_kept_but_not_sent(db, database_url, receiver, watchers):
    g = make_guarded(db)
    control, treatment = worse_data()
    add(db, g, 0, control)
    add(db, g, 1, treatment)
    watcher = watchers(watch_settings(database_url, None))
    wait_until(lambda: store.list_deliveries(db, g.test.id), 20, "the raised row")
    (row,) = store.list_deliveries(db, g.test.id)
    assert row.next_attempt_at is None and row.delivered_at is None and row.attempts == 0
    assert "TSMETRICS_ALERT_WEBHOOK_URL" in row.last_error
    watcher.stop()
    # A webhook configured later sends new changes only, not this old one.
    later = watchers(watch_settings(database_url, receiver.url))
    wait_until(_rounds_after(later, 3), 20, "three evaluations")
    assert receiver.all() == []
    add(db, g, 1, clearing(treatment))
    wait_until(lambda: len(receiver.all()) == 1, 20, "the cleared alert")
    assert receiver.all()[0].json["state"] == "cleared"
