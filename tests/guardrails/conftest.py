"""Guardrail fixtures: guarded A/B tests with data, a webhook receiver, watchers in threads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pytest

from tests.support.helpers import store
from tests.support.webhook import Receiver
from tsmetrics.guardrails.watch import Watcher
from tsmetrics.settings import load_settings
from tsmetrics.store import catalogue

SECRET = "whsec-test-Never-logged-0123456789"
PUBLIC_URL = "https://metrics.example.com"


@dataclass(frozen=True)
class Guarded:
    """A running A/B test with one guardrail metric, and the window its samples go in."""

    test: catalogue.ABTest
    metric: catalogue.Metric
    start: datetime
    end: datetime


def guard(db: psycopg.Connection, test_id: int, metric_id: int, on: bool = True) -> None:
    """Mark (or unmark) a metric of a test as a guardrail, as the management API will."""
    db.execute(
        "INSERT INTO abtest_metric_plans (abtest_id, metric_id, guardrail) VALUES (%s, %s, %s)"
        " ON CONFLICT (abtest_id, metric_id) DO UPDATE SET guardrail = EXCLUDED.guardrail",
        [test_id, metric_id, on],
    )


def make_guarded(
    db: psycopg.Connection,
    name: str = "checkout",
    metric: str = "response_time",
    *,
    variants: tuple[str, ...] = ("control", "treatment"),
    unit: str = "sample",
) -> Guarded:
    """A test started 3 hours ago with `metric` (lower is better) as its guardrail."""
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(hours=3)
    test = catalogue.ensure_abtest(
        db, name, variants=list(variants), title=name.title(), status="running", started_at=start
    )
    found = catalogue.ensure_metric(db, metric, unit="ms")
    db.execute("UPDATE metrics SET analysis_unit = %s WHERE id = %s", [unit, found.id])
    guard(db, test.id, found.id)
    return Guarded(test, found, start, now - timedelta(minutes=2))


def sample_rows(g: Guarded, variant: int, values) -> list[tuple]:
    """Rows of samples of one variant, spread evenly over the guarded window."""
    values = np.asarray(values, dtype=np.float64)
    step = (g.end - g.start).total_seconds() / len(values)
    times = [g.start + timedelta(seconds=step * (i + 0.5)) for i in range(len(values))]
    rows = zip(times, values, strict=True)
    return [(t, float(v), g.test.id, g.metric.id, variant) for t, v in rows]


def add(db: psycopg.Connection, g: Guarded, variant: int, values) -> None:
    """Store samples of one variant, spread evenly over the guarded window."""
    store(db, sample_rows(g, variant, values))


def worse_data(seed: int = 7, n: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Control around 100 ms, treatment around 110 ms (sd 10): clearly worse."""
    rng = np.random.default_rng(seed)
    return rng.normal(100, 10, n), rng.normal(110, 10, n)


def clearing(treatment: np.ndarray) -> np.ndarray:
    """More treatment samples that bring its mean back to exactly 100 ms."""
    return 200.0 - treatment


def watch_settings(database_url: str, url: str | None, **overrides) -> dict:
    """Settings of a fast watcher: evaluations every 0.2 s, retries within half a second."""
    return load_settings(
        {
            "DATABASE_URL": database_url,
            "ALERT_WEBHOOK_URL": url,
            "ALERT_WEBHOOK_SECRET": SECRET,
            "PUBLIC_URL": PUBLIC_URL,
            "WATCH_INTERVAL": 0.2,
            "ALERT_RETRY_BASE": 0.1,
            "ALERT_RETRY_MAX": 0.4,
            "ALERT_TIMEOUT": 2.0,
            **overrides,
        },
        environ={},
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A listening webhook receiver answering 200."""
    found = Receiver()
    found.start()
    yield found
    found.stop()


@pytest.fixture
def watchers() -> Iterator:
    """start(settings) -> a Watcher running in a thread; all are stopped and joined after."""
    running: list[tuple[Watcher, threading.Thread]] = []

    def start(settings: dict) -> Watcher:
        watcher = Watcher(settings)
        thread = threading.Thread(target=watcher.run, daemon=True)
        thread.start()
        running.append((watcher, thread))
        return watcher

    yield start
    for watcher, _thread in running:
        watcher.stop()
    for _watcher, thread in running:
        thread.join(15)
        assert not thread.is_alive(), "a watcher did not stop within 15 s"
