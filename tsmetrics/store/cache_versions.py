"""The query cache's version stamps (migration 0006): what changed where, per UTC day."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

DAY = 86_400

# The epoch row has day NULL.
_SELECT_STAMPS = """
SELECT extract(epoch FROM day)::bigint, max(version)
FROM cache_versions
WHERE abtest_id = %(abtest_id)s AND metric_id = ANY(%(metric_ids)s::smallint[])
  AND day >= %(start)s AND day < %(end)s
GROUP BY day
UNION ALL
SELECT NULL, epoch FROM cache_epoch
"""


@dataclass(frozen=True)
class Stamps:
    """The version stamps of some series over some days, read in one statement."""

    epoch: int
    days: dict[int, int]  # UTC day start (epoch seconds) -> version

    def of(self, start: int, end: int) -> int:
        """The newest stamp of the days overlapping [start, end): changes whenever they do."""
        first = start // DAY * DAY
        return max((v for day, v in self.days.items() if first <= day < end), default=0)


def read_stamps(
    conn: psycopg.Connection, *, abtest_id: int, metric_ids: Sequence[int], start: int, end: int
) -> Stamps:
    """Stamps of these series' days overlapping [start, end), in epoch seconds."""
    params = {
        "abtest_id": abtest_id,
        "metric_ids": list(metric_ids),
        "start": datetime.fromtimestamp(start // DAY * DAY, UTC),
        "end": datetime.fromtimestamp(end, UTC),
    }
    rows = conn.execute(_SELECT_STAMPS, params).fetchall()
    epoch = next(version for day, version in rows if day is None)
    return Stamps(epoch, {day: version for day, version in rows if day is not None})
