"""Creating and changing A/B tests and metrics: the rules that the API and the forms share.

The lifecycle of an A/B test is draft -> running -> paused/running -> completed
-> archived (a draft may also be archived unstarted). The store stamps
started_at, ended_at and archived_at. An archived test is read-only; archiving
hides a test or metric from the default lists and keeps all of its data.
"""

from __future__ import annotations

from typing import Any

import psycopg

from tsmetrics.errors import Conflict, Invalid
from tsmetrics.lookups import require_abtest, require_metric
from tsmetrics.store import catalogue

TRANSITIONS: dict[str, tuple[str, ...]] = {
    "draft": ("running", "archived"),
    "running": ("paused", "completed"),
    "paused": ("running", "completed"),
    "completed": ("archived",),
    "archived": (),
}


def expected_shares(test: catalogue.ABTest) -> list[float]:
    """The expected share of each variant (summing to 1); equal without a split."""
    weights = test.expected_split or [1.0] * len(test.variants)
    return [w / sum(weights) for w in weights]


def create_abtest(conn: psycopg.Connection, fields: dict[str, Any]) -> catalogue.ABTest:
    """A new A/B test from validated fields (name, variants, ...); Conflict when the name exists."""
    fields = dict(fields)
    name = fields.pop("name")
    created = catalogue.create_abtest(conn, name, **fields)
    if created is None:
        raise Conflict("name", f"A/B test {name!r} already exists.")
    return created


def _check_variants(conn: psycopg.Connection, test: catalogue.ABTest, changes: dict) -> None:
    variants = changes.get("variants", test.variants)
    if variants != test.variants and catalogue.abtest_has_samples(conn, test.id):
        raise Conflict(
            "variants",
            f"A/B test {test.name!r} has samples, which store each variant's position:"
            " its variants can no longer change.",
        )
    split = changes.get("expected_split", test.expected_split)
    if split is not None and len(split) != len(variants):
        raise Invalid("expectedSplit", f"One weight per variant ({len(variants)}).")


def _check_transition(test: catalogue.ABTest, status: str) -> None:
    if status not in TRANSITIONS[test.status]:
        allowed = " or ".join(TRANSITIONS[test.status]) or "nothing (archived is final)"
        raise Conflict(
            "status",
            f"A/B test {test.name!r} is {test.status}; it cannot become {status}"
            f" (from {test.status}: {allowed}).",
        )


def update_abtest(conn: psycopg.Connection, name: str, changes: dict[str, Any]) -> catalogue.ABTest:
    """Apply validated changes (fields and/or status) in one transaction."""
    changes = dict(changes)
    with conn.transaction():
        test = require_abtest(conn, name)
        status = changes.pop("status", test.status)
        if test.status == "archived" and (changes or status != "archived"):
            raise Conflict("status", f"A/B test {name!r} is archived, which is read-only.")
        _check_variants(conn, test, changes)
        if status != test.status:
            _check_transition(test, status)
        if changes:
            test = catalogue.update_abtest(conn, test.id, changes)
        if status != test.status:
            moved = catalogue.change_abtest_status(conn, test.id, current=test.status, new=status)
            if moved is None:
                raise Conflict("status", f"A/B test {name!r} changed meanwhile; try again.")
            test = moved
    return test


def create_metric(conn: psycopg.Connection, fields: dict[str, Any]) -> catalogue.Metric:
    """A new catalogue entry from validated fields; Conflict when the name exists."""
    fields = dict(fields)
    name = fields.pop("name")
    created = catalogue.create_metric(conn, name, **fields)
    if created is None:
        raise Conflict("name", f"Metric {name!r} already exists.")
    return created


def update_metric(conn: psycopg.Connection, name: str, changes: dict[str, Any]) -> catalogue.Metric:
    """Apply validated changes; `archived` true archives, false restores."""
    changes = dict(changes)
    with conn.transaction():
        metric = require_metric(conn, name)
        archived = changes.pop("archived", None)
        if not changes and archived is None:
            return metric
        return catalogue.update_metric(conn, metric.id, changes, archived=archived)
