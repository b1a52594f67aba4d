"""Per A/B test and metric: the planned minimum detectable effect and the guardrail flag."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import psycopg
from psycopg.rows import class_row


@dataclass(frozen=True)
class MetricPlan:
    """What a test plans for one metric: the relative MDE (None: none) and guardrail flag."""

    metric_id: int
    metric: str
    mde_relative: float | None
    guardrail: bool


_SELECT_PLANS = """
SELECT p.metric_id, m.name AS metric, p.mde_relative, p.guardrail
FROM abtest_metric_plans p JOIN metrics m ON m.id = p.metric_id
WHERE p.abtest_id = %(abtest_id)s
ORDER BY m.name
"""


def metric_plans(conn: psycopg.Connection, abtest_id: int) -> list[MetricPlan]:
    """The plans of one A/B test's metrics, by metric name."""
    with conn.cursor(row_factory=class_row(MetricPlan)) as cur:
        return cur.execute(_SELECT_PLANS, {"abtest_id": abtest_id}).fetchall()


_UPSERT_PLAN = """
INSERT INTO abtest_metric_plans (abtest_id, metric_id, mde_relative, guardrail)
VALUES (%(abtest_id)s, %(metric_id)s, %(mde_relative)s, %(guardrail)s)
ON CONFLICT (abtest_id, metric_id) DO UPDATE
SET mde_relative = excluded.mde_relative, guardrail = excluded.guardrail
"""
_INSERT_PLAN = _UPSERT_PLAN.split("ON CONFLICT")[0] + "ON CONFLICT DO NOTHING"
_DELETE_PLAN = (
    "DELETE FROM abtest_metric_plans WHERE abtest_id = %(abtest_id)s AND metric_id = %(metric_id)s"
)


def set_metric_plans(
    conn: psycopg.Connection,
    abtest_id: int,
    plans: Mapping[int, tuple[float | None, bool] | None],
    *,
    replace: bool = True,
) -> None:
    """Set (mde_relative, guardrail) per metric id; None deletes a metric's plan.

    replace=False only adds plans for metrics that have none (the demo seed's ensure).
    """
    rows = [
        {"abtest_id": abtest_id, "metric_id": metric_id, "mde_relative": p[0], "guardrail": p[1]}
        for metric_id, p in plans.items()
        if p is not None and (p[0] is not None or p[1])
    ]
    gone = [
        {"abtest_id": abtest_id, "metric_id": metric_id}
        for metric_id, p in plans.items()
        if p is None or (p[0] is None and not p[1])
    ]
    with conn.cursor() as cur:
        if rows:
            cur.executemany(_UPSERT_PLAN if replace else _INSERT_PLAN, rows)
        if gone and replace:
            cur.executemany(_DELETE_PLAN, gone)
