"""The dashboard overview: every A/B test with its metrics and recent activity."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.rows import class_row

from tsmetrics import granularity as gran
from tsmetrics.store.guardrails import GuardrailAlert, raised_alerts

RECENT = timedelta(hours=24)


@dataclass(frozen=True)
class ABTestSummary:
    """One overview row: the test, its metrics, samples since a moment, latest sample."""

    name: str
    title: str
    status: str
    variants: list[str]
    metric_names: list[str]
    recent_samples: int
    latest_sample_at: datetime | None
    guardrail_alerts: list[GuardrailAlert] = field(default_factory=list)  # raised ones


@dataclass(frozen=True)
class Overview:
    """The overview: its rows, and the start of the window their recent samples count."""

    since: datetime
    abtests: list[ABTestSummary]


# Recent samples come from the hourly all-variant rollups: one short index
# range per (test, metric) found in `series`, never a scan of raw samples.
_SELECT_SUMMARIES = """
SELECT a.name, a.title, a.status, a.variants,
       coalesce(array_agg(m.name ORDER BY m.name) FILTER (WHERE m.name IS NOT NULL), '{}')
           AS metric_names,
       coalesce(sum(recent.n), 0)::bigint AS recent_samples,
       max(s.last_time) AS latest_sample_at
FROM abtests a
LEFT JOIN series s ON s.abtest_id = a.id AND s.variant = -1
LEFT JOIN metrics m ON m.id = s.metric_id
LEFT JOIN LATERAL (
    SELECT sum(r.n) AS n FROM rollups r
    WHERE r.abtest_id = s.abtest_id AND r.metric_id = s.metric_id
      AND r.bucket_seconds = 3600 AND r.variant = -1 AND r.bucket >= %(since)s
) AS recent ON true
WHERE (%(status)s::text IS NULL AND (%(archived)s OR a.status <> 'archived')
       OR a.status = %(status)s::text)
  AND (%(pattern)s::text IS NULL OR a.name ILIKE %(pattern)s OR a.title ILIKE %(pattern)s)
GROUP BY a.id
ORDER BY a.name
"""


def _like_pattern(search: str | None) -> str | None:
    if not search:
        return None
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_abtest_summaries(
    conn: psycopg.Connection,
    *,
    since: datetime,
    status: str | None = None,
    search: str | None = None,
    include_archived: bool = False,
) -> list[ABTestSummary]:
    """Tests by name, optionally of one status and matching `search` in name or title.

    Archived tests are left out unless `status` is "archived" or `include_archived`
    is true: archiving hides a test from the overview and keeps its data.
    `recent_samples` counts the samples (every metric) in hourly buckets starting at
    or after `since`; pass an hour boundary to count whole hours.
    """
    params = {
        "since": since,
        "status": status,
        "archived": include_archived,
        "pattern": _like_pattern(search),
    }
    with conn.cursor(row_factory=class_row(ABTestSummary)) as cur:
        return cur.execute(_SELECT_SUMMARIES, params).fetchall()


def read_overview(
    conn: psycopg.Connection,
    *,
    status: str | None = None,
    search: str | None = None,
    now: datetime | None = None,
) -> Overview:
    """The dashboard overview and its JSON twin: samples of the last 24 h, raised guardrails."""
    # Whole hours of the hourly rollups: the last 24 full hours and the current one.
    since = gran.floor_to((now or datetime.now(UTC)) - RECENT, 3600)
    rows = list_abtest_summaries(conn, since=since, status=status, search=search)
    alerts: dict[str, list[GuardrailAlert]] = {}
    for alert in raised_alerts(conn, [row.name for row in rows]) if rows else []:
        alerts.setdefault(alert.abtest_name, []).append(alert)
    rows = [replace(row, guardrail_alerts=alerts.get(row.name, [])) for row in rows]
    return Overview(since, rows)
