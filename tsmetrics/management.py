"""Creating and changing A/B tests and metrics: the rules that the API and the forms share.

An A/B test's plan (inference, planned end or samples, tuning, and per metric
the minimum detectable effect and guardrail flag) changes like its other fields.

The lifecycle of an A/B test is draft -> running -> paused/running -> completed
-> archived (a draft may also be archived unstarted). The store stamps
started_at, ended_at and archived_at. An archived test is read-only; archiving
hides a test or metric from the default lists and keeps all of its data.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

import psycopg

from tsmetrics.errors import Conflict, Invalid, UnknownName
from tsmetrics.lookups import require_abtest, require_metric
from tsmetrics.store import catalogue, catalogue_updates, plans

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
    # Scaled by the largest first: [1e308, 1e308] (stored before the schemas
    # bounded the weights) would overflow a plain sum and read as [0, 0].
    largest = max(weights)
    scaled = [w / largest for w in weights]
    return [w / sum(scaled) for w in scaled]


def _set_plans(conn: psycopg.Connection, test: catalogue.ABTest, given: dict[str, Any]) -> None:
    """Write {metric name: {mde_relative, guardrail} or None}; Invalid for an unknown metric."""
    changes = {}
    for name, plan in given.items():
        try:
            metric = require_metric(conn, name, field="metricPlans")
        except UnknownName as error:
            raise Invalid("metricPlans", error.message) from None
        changes[metric.id] = None if plan is None else (plan["mde_relative"], plan["guardrail"])
    plans.set_metric_plans(conn, test.id, changes)


def _check_planned_end(test: catalogue.ABTest, changes: dict[str, Any]) -> None:
    planned_end = changes.get("planned_end")
    began = test.started_at
    if planned_end is not None and began is not None and planned_end <= began:
        raise Invalid(
            "plannedEnd",
            f"Must be after the test's start ({began.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC).",
        )


def create_abtest(conn: psycopg.Connection, fields: dict[str, Any]) -> catalogue.ABTest:
    """A new A/B test from validated fields (name, variants, ...); Conflict when the name exists."""
    fields = dict(fields)
    name = fields.pop("name")
    given_plans = fields.pop("metric_plans", None) or {}
    with conn.transaction():
        created = catalogue.create_abtest(conn, name, **fields)
        if created is None:
            raise Conflict("name", f"A/B test {name!r} already exists.")
        _check_planned_end(created, fields)
        _set_plans(conn, created, given_plans)
    return created


def _check_variants(conn: psycopg.Connection, test: catalogue.ABTest, changes: dict) -> None:
    variants = changes.get("variants", test.variants)
    if variants != test.variants and catalogue_updates.abtest_has_samples(conn, test.id):
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
    given_plans = changes.pop("metric_plans", None)
    with conn.transaction():
        test = require_abtest(conn, name)
        status = changes.pop("status", test.status)
        edits = changes or given_plans is not None
        if test.status == "archived" and (edits or status != "archived"):
            raise Conflict("status", f"A/B test {name!r} is archived, which is read-only.")
        _check_variants(conn, test, changes)
        _check_planned_end(test, changes)
        if status != test.status:
            _check_transition(test, status)
        if changes:
            test = catalogue_updates.update_abtest(conn, test.id, changes)
        if given_plans:
            _set_plans(conn, test, given_plans)
        if status != test.status:
            moved = catalogue_updates.change_abtest_status(
                conn, test.id, current=test.status, new=status
            )
            if moved is None:
                raise Conflict("status", f"A/B test {name!r} changed meanwhile; try again.")
            test = moved
    return test


def _check_value_range(metric: catalogue.Metric | None, changes: dict[str, Any]) -> None:
    """Invalid unless valueMin < valueMax, one end given or both, the other as stored."""
    stored = (metric.value_min, metric.value_max) if metric else catalogue.DEFAULT_VALUE_RANGE
    low, high = changes.get("value_min", stored[0]), changes.get("value_max", stored[1])
    if not low < high:
        field = "valueMax" if "value_max" in changes else "valueMin"
        raise Invalid(field, f"valueMin ({low:g}) must be below valueMax ({high:g}).")


def create_metric(conn: psycopg.Connection, fields: dict[str, Any]) -> catalogue.Metric:
    """A new catalogue entry from validated fields; Conflict when the name exists."""
    fields = dict(fields)
    _check_value_range(None, fields)
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
        _check_value_range(metric, changes)
        return catalogue_updates.update_metric(conn, metric.id, changes, archived=archived)
