"""`tsmetrics watch`: evaluate the guardrails every TSMETRICS_WATCH_INTERVAL and send alerts.

Any number may run. The one holding a PostgreSQL advisory lock (session-level,
on the connection that also does its work, so losing the connection loses the
lock with any work in flight) evaluates; the others stand by and take over
within an interval when it goes. Every watcher delivers: each outbox row is
claimed with FOR UPDATE SKIP LOCKED, so none is POSTed twice.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from tsmetrics.db import autocommit_connection, first_line, redact_url
from tsmetrics.guardrails import alerts, deliver
from tsmetrics.guardrails.evaluate import evaluate_test
from tsmetrics.store import guardrails as store

log = logging.getLogger(__name__)
SHORTEST_PAUSE = 0.05  # seconds
HELD_ELSEWHERE_PAUSE = 0.5
LONGEST_RECONNECT = 30.0


@dataclass
class WatchStats:
    """Counts for the progress lines and the summary."""

    evaluations: int = 0
    raised: int = 0
    cleared: int = 0
    sent: int = 0
    failed: int = 0
    started: float = field(default_factory=time.monotonic)

    def summary(self) -> str:
        """Everything this watcher did since it started."""
        minutes = (time.monotonic() - self.started) / 60
        return (
            f"{self.evaluations:,} evaluation rounds in {minutes:,.1f} min; "
            f"{self.raised:,} raised, {self.cleared:,} cleared; "
            f"{self.sent:,} alerts delivered, {self.failed:,} failed attempts"
        )


class SchemaMissing(RuntimeError):
    """The database lacks the guardrail tables: `tsmetrics migrate` has not run."""


class Watcher:
    """The evaluator-and-deliverer loop; run() returns the exit code, stop() ends it cleanly."""

    def __init__(self, settings: dict[str, Any], *, name: str = "tsmetrics-watch") -> None:
        self.settings, self.name = settings, name
        self.webhook = deliver.Webhook.from_settings(settings)
        self.interval = max(float(settings["WATCH_INTERVAL"]), 0.1)
        self.heartbeat = settings["WATCH_HEARTBEAT_PATH"] or None
        self.stats = WatchStats()
        self.stopping = threading.Event()
        self.leader = False
        self.rng = random.Random()  # noqa: S311 - retry jitter, not a secret
        self._next_evaluation = 0.0
        self._said_standby = self._said_heartbeat = False

    def stop(self, *_args: Any) -> None:
        """Finish the POST in flight, then leave (SIGTERM, SIGINT)."""
        self.stopping.set()

    def run(self, *, once: bool = False) -> int:
        """Evaluate and deliver until stopped (or one round), reconnecting with backoff."""
        if self.webhook.url:
            sent = f"alerts POSTed to {self.webhook.shown}"
            sent += " (signed)" if self.webhook.secret else " (unsigned)"
        else:
            sent = "no webhook: alerts show on the dashboard only"
        log.info(
            "watching guardrails every %g s on %s; %s",
            self.interval,
            redact_url(self.settings["DATABASE_URL"]),
            sent,
        )
        wait = 1.0
        while not self.stopping.is_set():
            try:
                with autocommit_connection(self.settings, self.name) as conn:
                    wait = 1.0
                    self._rounds(conn, once)
                if once:
                    break
            except psycopg.errors.UndefinedTable as error:
                raise SchemaMissing(
                    f"The database lacks the guardrail tables ({first_line(error)}): "
                    "run `tsmetrics migrate` first."
                ) from None
            except psycopg.OperationalError as error:
                if once:
                    log.error("database unavailable (%s)", first_line(error))
                    return 1
                self._lost(error, wait)
                wait = min(wait * 2, LONGEST_RECONNECT)
        log.info("watch stopped: %s", self.stats.summary())
        return 0

    def _rounds(self, conn: psycopg.Connection, once: bool) -> None:
        while not self.stopping.is_set():
            self.round(conn)
            if once:
                return
            self.stopping.wait(self._pause(conn))

    def _lost(self, error: psycopg.OperationalError, wait: float) -> None:
        if self.leader:
            log.warning("lost the evaluator's lock with the database connection")
        self.leader = False
        log.warning("database unavailable (%s); trying again in %g s", first_line(error), wait)
        self.stopping.wait(wait)

    def round(self, conn: psycopg.Connection) -> None:
        """Lead if free, evaluate when due (leader only), then send every alert due."""
        if not self.leader:
            self.leader = store.try_lead(conn)
            if self.leader:
                log.info("this watcher is the active evaluator")
            elif not self._said_standby:
                log.info("standing by: another watcher evaluates; delivering alerts meanwhile")
                self._said_standby = True
        if self.leader and time.monotonic() >= self._next_evaluation:
            self._next_evaluation = time.monotonic() + self.interval
            self.evaluate(conn)
        if self.webhook.url:
            self.deliver(conn)
        if self.heartbeat:
            self._beat()

    def _beat(self) -> None:
        # A heartbeat that cannot be written turns the health check red; the work goes on.
        try:
            Path(self.heartbeat).touch()
        except OSError as error:
            if not self._said_heartbeat:
                log.warning("cannot touch TSMETRICS_WATCH_HEARTBEAT_PATH: %s", error.strerror)
                self._said_heartbeat = True

    def evaluate(self, conn: psycopg.Connection) -> list[alerts.Change]:
        """One evaluation of every guardrail of every running test; its changes."""
        began, now = time.monotonic(), datetime.now(UTC)
        by_test = defaultdict(list)
        for guardrail in store.running_guardrails(conn):
            by_test[guardrail.abtest_id].append(guardrail)
        changes, states = [], defaultdict(int)
        for guardrails in by_test.values():
            try:
                changes += self._evaluate_test(conn, guardrails, now, states)
            except psycopg.OperationalError:
                raise
            except Exception:
                # One test's bad numbers must not stop the others' alerts.
                log.exception("could not evaluate the guardrails of %s", guardrails[0].abtest_name)
        self._count(changes)
        log.info(
            "evaluated %d guardrails of %d running tests in %.2f s: %s; %d changes%s",
            sum(len(g) for g in by_test.values()),
            len(by_test),
            time.monotonic() - began,
            ", ".join(f"{n} {state}" for state, n in sorted(states.items())) or "nothing to judge",
            len(changes),
            "".join(f"; {c.abtest}/{c.metric}/{c.variant} {c.transition}" for c in changes),
        )
        return changes

    def _evaluate_test(self, conn, guardrails, now, states) -> list[alerts.Change]:
        evaluation = evaluate_test(conn, guardrails, now)
        if evaluation is None:
            return []
        for outcome in evaluation.outcomes:
            states[outcome.state or "no inference"] += 1
        return alerts.record(
            conn,
            evaluation,
            at=now,
            webhook=bool(self.webhook.url),
            public_url=self.settings["PUBLIC_URL"],
        )

    def _count(self, changes: list[alerts.Change]) -> None:
        self.stats.evaluations += 1
        self.stats.raised += sum(c.transition == "raised" for c in changes)
        self.stats.cleared += sum(c.transition == "cleared" for c in changes)

    def deliver(self, conn: psycopg.Connection) -> None:
        """POST every alert due now, one at a time, until none is due or we are stopping."""
        while not self.stopping.is_set():
            attempt = deliver.deliver_one(conn, self.webhook, self.rng)
            if attempt is None:
                return
            d = attempt.delivery
            if attempt.error is None:
                self.stats.sent += 1
                log.info("delivered alert %s (%s, attempt %d)", d.event_id, d.state, d.attempts + 1)
            else:
                self.stats.failed += 1
                log.warning(
                    "alert %s (%s) not delivered to %s: %s; attempt %d, next in %.1f s",
                    d.event_id,
                    d.state,
                    self.webhook.shown,
                    attempt.error,
                    d.attempts + 1,
                    attempt.retry_in,
                )

    def _pause(self, conn: psycopg.Connection) -> float:
        """Until the next evaluation (or try for the lock), or the next retry due if sooner."""
        pause = max(self._next_evaluation - time.monotonic(), 0.0) if self.leader else self.interval
        if self.webhook.url:
            due = store.seconds_to_next_due(conn)
            if due is not None:
                # Due already, after a pass that sent all it could: another watcher holds it.
                pause = min(pause, due if due > 0 else HELD_ELSEWHERE_PAUSE)
        return max(pause, SHORTEST_PAUSE)
