"""Guardrails: which metrics of running tests are guarded, their states, the webhook outbox.

The watcher (tsmetrics.guardrails) is the only writer. Only one watcher holds the
evaluator's advisory lock at a time; every watcher delivers, each outbox row
claimed with FOR UPDATE SKIP LOCKED, so no row is POSTed by two at once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from uuid import UUID

import psycopg
from psycopg.rows import args_row, class_row

# One id for every watcher of a database: its holder is the active evaluator.
EVALUATOR_LOCK_ID = 7_362_104_223


@dataclass(frozen=True)
class Guardrail:
    """A guardrail metric of a running A/B test, with what its evaluation needs."""

    abtest_id: int
    abtest_name: str
    abtest_title: str
    variants: list[str]
    expected_split: list[float] | None
    started_at: datetime | None  # the test's start, else its first sample; None: no data
    planned_end: datetime | None
    planned_samples: int | None
    sequential_n_star: int | None
    metric_id: int
    metric_name: str
    metric_unit: str
    higher_is_better: bool
    analysis_unit: str


_SELECT_GUARDRAILS = """
SELECT a.id, a.name, a.title, a.variants, a.expected_split,
       coalesce(a.started_at,
                (SELECT min(s.first_time) FROM series s
                 WHERE s.abtest_id = a.id AND s.variant = -1)),
       a.planned_end, a.planned_samples, a.sequential_n_star,
       m.id, m.name, m.unit, m.higher_is_better, m.analysis_unit
FROM abtest_metric_plans p
JOIN abtests a ON a.id = p.abtest_id
JOIN metrics m ON m.id = p.metric_id
WHERE p.guardrail AND a.status = 'running' AND m.archived_at IS NULL
ORDER BY a.id, m.id
"""


def running_guardrails(conn: psycopg.Connection) -> list[Guardrail]:
    """Every guardrail of every running A/B test, by test then metric."""
    with conn.cursor(row_factory=args_row(Guardrail)) as cur:
        return cur.execute(_SELECT_GUARDRAILS).fetchall()


def try_lead(conn: psycopg.Connection) -> bool:
    """Take the evaluator's lock for this session if free; True when this session holds it."""
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", [EVALUATOR_LOCK_ID]).fetchone()
    return bool(row and row[0])


@dataclass(frozen=True)
class GuardrailState:
    """The latest evaluation of one treatment on one guardrail."""

    abtest_id: int
    metric_id: int
    variant: int
    state: str  # raised or clear
    lift: float
    lift_low: float
    lift_high: float
    relative_lift: float | None
    relative_low: float | None
    relative_high: float | None
    p_value: float
    adjusted_p: float
    inference: str
    unit: str
    unit_seconds: int | None
    units: int
    n_star: float
    tuning_source: str
    alpha: float
    correction: str
    family_size: int
    window_start: datetime
    window_end: datetime
    evaluated_at: datetime
    changed_at: datetime


def lock_states(conn: psycopg.Connection, abtest_id: int) -> dict[tuple[int, int], str]:
    """The states of a test's guardrails by (metric, variant), locked until the transaction ends."""
    rows = conn.execute(
        "SELECT metric_id, variant, state FROM guardrail_states"
        " WHERE abtest_id = %(abtest_id)s FOR UPDATE",
        {"abtest_id": abtest_id},
    ).fetchall()
    return {(metric, variant): state for metric, variant, state in rows}


_COLUMNS = list(GuardrailState.__dataclass_fields__)
_UPSERT_STATE = (
    f"INSERT INTO guardrail_states ({', '.join(_COLUMNS)})"  # noqa: S608 - constant columns
    f" VALUES ({', '.join(f'%({c})s' for c in _COLUMNS)})"
    " ON CONFLICT (abtest_id, metric_id, variant) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS[3:] if c != "changed_at")
    # An unchanged state keeps the moment it last changed.
    + ", changed_at = CASE WHEN guardrail_states.state = EXCLUDED.state"
    " THEN guardrail_states.changed_at ELSE EXCLUDED.changed_at END"
)


def save_state(conn: psycopg.Connection, state: GuardrailState) -> None:
    """Insert or replace the state of one (test, metric, variant)."""
    conn.execute(_UPSERT_STATE, asdict(state))


def list_states(conn: psycopg.Connection, abtest_id: int) -> list[GuardrailState]:
    """Every stored state of a test, by metric and variant."""
    with conn.cursor(row_factory=class_row(GuardrailState)) as cur:
        return cur.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM guardrail_states"  # noqa: S608
            " WHERE abtest_id = %(abtest_id)s ORDER BY metric_id, variant",
            {"abtest_id": abtest_id},
        ).fetchall()


def insert_delivery(
    conn: psycopg.Connection,
    *,
    event_id: UUID,
    abtest_id: int,
    metric_id: int,
    variant: int,
    state: str,
    body: str,
    pending: bool,
    note: str | None = None,
) -> int:
    """Queue one change of state for the webhook (pending: due now; else done, with `note`)."""
    row = conn.execute(
        "INSERT INTO guardrail_deliveries"
        " (event_id, abtest_id, metric_id, variant, state, body, next_attempt_at, last_error)"
        " VALUES (%(event_id)s, %(abtest_id)s, %(metric_id)s, %(variant)s, %(state)s, %(body)s,"
        " CASE WHEN %(pending)s THEN now() END, %(note)s)"
        " RETURNING id",
        {
            "event_id": event_id,
            "abtest_id": abtest_id,
            "metric_id": metric_id,
            "variant": variant,
            "state": state,
            "body": body,
            "pending": pending,
            "note": note,
        },
    ).fetchone()
    return row[0]


@dataclass(frozen=True)
class Delivery:
    """One outbox row to POST."""

    id: int
    event_id: UUID
    abtest_id: int
    metric_id: int
    variant: int
    state: str
    body: str
    attempts: int
    created_at: datetime
    delivered_at: datetime | None = None
    next_attempt_at: datetime | None = None
    last_error: str | None = None


# The oldest due row whose (test, metric, variant) has no older row pending;
# rows another watcher holds are skipped, not waited for. Under READ COMMITTED a
# row delivered meanwhile is re-checked after locking and drops out.
_CLAIM = """
SELECT d.id, d.event_id, d.abtest_id, d.metric_id, d.variant, d.state, d.body, d.attempts,
       d.created_at
FROM guardrail_deliveries d
WHERE d.next_attempt_at <= now()
  AND NOT EXISTS (
      SELECT 1 FROM guardrail_deliveries e
      WHERE e.abtest_id = d.abtest_id AND e.metric_id = d.metric_id
        AND e.variant = d.variant AND e.id < d.id AND e.next_attempt_at IS NOT NULL)
ORDER BY d.next_attempt_at, d.id
LIMIT 1
FOR UPDATE OF d SKIP LOCKED
"""


def claim_delivery(conn: psycopg.Connection) -> Delivery | None:
    """Lock the next row due for sending (call inside a transaction), or None."""
    with conn.cursor(row_factory=class_row(Delivery)) as cur:
        return cur.execute(_CLAIM).fetchone()


def mark_delivered(conn: psycopg.Connection, delivery_id: int) -> None:
    """The receiver took it: done."""
    conn.execute(
        "UPDATE guardrail_deliveries SET attempts = attempts + 1, delivered_at = now(),"
        " next_attempt_at = NULL WHERE id = %(id)s",
        {"id": delivery_id},
    )


def mark_failed(conn: psycopg.Connection, delivery_id: int, error: str, delay: float) -> None:
    """The attempt failed: try again after `delay` seconds."""
    conn.execute(
        "UPDATE guardrail_deliveries SET attempts = attempts + 1, last_error = %(error)s,"
        " next_attempt_at = now() + make_interval(secs => %(delay)s) WHERE id = %(id)s",
        {"id": delivery_id, "error": error[:500], "delay": delay},
    )


def seconds_to_next_due(conn: psycopg.Connection) -> float | None:
    """Seconds until the next sendable row is due (<= 0: now), or None when none is pending.

    A row behind an older pending row of its guardrail waits for that one, whatever its own time.
    """
    row = conn.execute(
        "SELECT extract(epoch FROM min(d.next_attempt_at) - now())::float8"
        " FROM guardrail_deliveries d WHERE d.next_attempt_at IS NOT NULL AND NOT EXISTS ("
        " SELECT 1 FROM guardrail_deliveries e WHERE e.abtest_id = d.abtest_id"
        " AND e.metric_id = d.metric_id AND e.variant = d.variant AND e.id < d.id"
        " AND e.next_attempt_at IS NOT NULL)"
    ).fetchone()
    return None if row is None else row[0]


def list_deliveries(conn: psycopg.Connection, abtest_id: int | None = None) -> list[Delivery]:
    """The outbox, oldest first (of one test, or all)."""
    with conn.cursor(row_factory=class_row(Delivery)) as cur:
        return cur.execute(
            "SELECT id, event_id, abtest_id, metric_id, variant, state, body, attempts,"
            " created_at, delivered_at, next_attempt_at, last_error FROM guardrail_deliveries"
            " WHERE %(abtest_id)s::integer IS NULL OR abtest_id = %(abtest_id)s ORDER BY id",
            {"abtest_id": abtest_id},
        ).fetchall()


@dataclass(frozen=True)
class GuardrailAlert:
    """A raised guardrail, as the overview, the test page and their JSON twins show it."""

    abtest_name: str
    metric: str
    metric_unit: str
    display_decimals: int
    variant: str
    control: str
    lift: float
    lift_low: float
    lift_high: float
    relative_lift: float | None
    relative_low: float | None
    relative_high: float | None
    p_value: float
    adjusted_p: float
    inference: str
    unit: str
    unit_seconds: int | None
    n_star: float
    tuning_source: str
    alpha: float
    correction: str
    family_size: int
    raised_at: datetime
    evaluated_at: datetime


# Only metrics that are still guardrails, and variants the test still has.
_SELECT_ALERTS = """
SELECT a.name, m.name, m.unit, m.display_decimals, a.variants[g.variant + 1], a.variants[1],
       g.lift, g.lift_low, g.lift_high, g.relative_lift, g.relative_low, g.relative_high,
       g.p_value, g.adjusted_p, g.inference, g.unit, g.unit_seconds, g.n_star, g.tuning_source,
       g.alpha, g.correction, g.family_size, g.changed_at, g.evaluated_at
FROM guardrail_states g
JOIN abtests a ON a.id = g.abtest_id
JOIN metrics m ON m.id = g.metric_id
JOIN abtest_metric_plans p
  ON p.abtest_id = g.abtest_id AND p.metric_id = g.metric_id AND p.guardrail
WHERE g.state = 'raised' AND g.variant < cardinality(a.variants)
  AND (%(names)s::text[] IS NULL OR a.name = ANY (%(names)s::text[]))
ORDER BY a.name, m.name, g.variant
"""


def raised_alerts(
    conn: psycopg.Connection, abtest_names: list[str] | None = None
) -> list[GuardrailAlert]:
    """Raised guardrails of these A/B tests (default: all), by test, metric and variant."""
    with conn.cursor(row_factory=args_row(GuardrailAlert)) as cur:
        return cur.execute(_SELECT_ALERTS, {"names": abtest_names}).fetchall()
