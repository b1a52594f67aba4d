"""Ids of stored sample batches: why a redelivered or retried batch stores nothing twice."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

from tsmetrics.store.samples import SampleColumns, insert_samples

_RECORD = """
INSERT INTO ingested_batches (batch_id, samples)
SELECT * FROM unnest(%(ids)s::text[], %(counts)s::integer[])
-- One order for every writer: two consumers holding the same ids never deadlock.
ORDER BY 1
ON CONFLICT (batch_id) DO NOTHING
RETURNING batch_id
"""


def record_batch_ids(
    conn: psycopg.Connection, ids: Sequence[str], counts: Sequence[int]
) -> set[str]:
    """Record these batch ids in the caller's transaction; return the ones not seen before."""
    if not ids:
        return set()
    rows = conn.execute(_RECORD, {"ids": list(ids), "counts": list(counts)}).fetchall()
    return {row[0] for row in rows}


def store_batches(
    conn: psycopg.Connection, batches: Sequence[tuple[str | None, SampleColumns]]
) -> list[bool]:
    """Store every batch whose id is new (or that has none) in the caller's transaction.

    Returns, per batch, whether it was stored (False: a duplicate, stored before).
    """
    first_seen: dict[str, int] = {}
    for index, (batch_id, _) in enumerate(batches):
        if batch_id is not None:
            first_seen.setdefault(batch_id, index)
    new_ids = record_batch_ids(
        conn,
        list(first_seen),
        [len(batches[index][1]) for index in first_seen.values()],
    )
    stored = [
        batch_id is None or (batch_id in new_ids and first_seen[batch_id] == index)
        for index, (batch_id, _) in enumerate(batches)
    ]
    parts = [columns for (_, columns), keep in zip(batches, stored, strict=True) if keep]
    if parts:
        # A flush is a single COPY and a single rollup merge.
        insert_samples(conn, SampleColumns.concat(parts))
    return stored


def prune_batch_ids(conn: psycopg.Connection, older_than_seconds: int) -> int:
    """Forget batch ids received more than `older_than_seconds` ago; return how many."""
    cur = conn.execute(
        "DELETE FROM ingested_batches"
        " WHERE received_at < now() - make_interval(secs => %(seconds)s)",
        {"seconds": older_than_seconds},
    )
    return cur.rowcount


def batch_ids_ready(conn: psycopg.Connection) -> bool:
    """True when the schema has the batch-id table (migration 0003 applied)."""
    row = conn.execute("SELECT to_regclass('ingested_batches') IS NOT NULL").fetchone()
    return bool(row and row[0])
