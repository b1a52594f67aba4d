"""The catalogue's version stamp (migration 0011): every change to A/B tests or metrics bumps it."""

from __future__ import annotations

import psycopg


def read_catalogue_version(conn: psycopg.Connection) -> int:
    """The current stamp; it changes in the same transaction as the catalogue does."""
    row = conn.execute("SELECT version FROM catalogue_version").fetchone()
    return row[0] if row else 0
