"""The test run's database: its tables as the migrations left them, and how to get back there."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from psycopg import sql

# The sequences behind each table's identity or serial column.
_OWNED_SEQUENCES = """
SELECT t.relname, s.relname
FROM pg_depend d
JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
JOIN pg_class t ON t.oid = d.refobjid
WHERE t.relnamespace = 'public'::regnamespace AND d.deptype IN ('a', 'i')
"""


@contextmanager
def fresh_database(server_url: str, prefix: str) -> Iterator[str]:
    """A new, empty database on the server, dropped afterwards even when the block fails."""
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        conninfo = psycopg.conninfo.conninfo_to_dict(server_url) | {"dbname": name}
        yield psycopg.conninfo.make_conninfo(**conninfo)
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            admin.execute(drop.format(sql.Identifier(name)))


@dataclass(frozen=True)
class RunDatabase:
    """The run's database, and its tables as the migrations left them."""

    url: str
    emptied: tuple[str, ...]  # empty after the migrations: every test starts with them empty
    kept: dict[str, int]  # filled by the migrations (schema_migrations, cache_epoch): row counts
    sequences: dict[str, str]  # table -> the identity sequence it owns

    @classmethod
    def after_migrations(cls, url: str) -> RunDatabase:
        """Read the tables off the migrated schema, so a new migration's table is covered too."""
        with psycopg.connect(url, autocommit=True) as conn:
            counts = _row_counts(conn, _public_tables(conn))
            sequences = dict(conn.execute(_OWNED_SEQUENCES).fetchall())
        return cls(
            url,
            emptied=tuple(name for name, n in counts.items() if n == 0),
            kept={name: n for name, n in counts.items() if n},
            sequences=sequences,
        )

    def reset(self, conn: psycopg.Connection) -> None:
        """Empty every table that holds rows or has used its identity, restarting identities."""
        # Only the tables a test touched: TRUNCATE costs a disk flush and new files
        # per table, most of a small test's time on a busy machine.
        dirty = [name for name, used in zip(self.emptied, self._touched(conn), strict=True) if used]
        if dirty:
            tables = sql.SQL(", ").join(map(sql.Identifier, dirty))
            conn.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(tables))

    def check_baseline(self, conn: psycopg.Connection) -> None:
        """Fail when a table appeared or vanished, or holds other rows than the migrations left."""
        counts = _row_counts(conn, _public_tables(conn))
        expected = dict.fromkeys(self.emptied, 0) | self.kept
        wrong = {name: n for name, n in counts.items() if expected.get(name) != n}
        missing = sorted(set(expected) - set(counts))
        assert not wrong and not missing, (
            f"a test left the database changed: row counts (or new tables) {wrong}, "
            f"missing tables {missing}; the migrations left {self.kept} and nothing else"
        )

    def _touched(self, conn: psycopg.Connection) -> tuple[bool, ...]:
        checks = []
        for name in self.emptied:
            check = sql.SQL("EXISTS (SELECT FROM {})").format(sql.Identifier(name))
            if name in self.sequences:
                check += sql.SQL(
                    " OR (SELECT last_value IS NOT NULL FROM pg_sequences"
                    " WHERE schemaname = 'public' AND sequencename = {})"
                ).format(sql.Literal(self.sequences[name]))
            checks.append(check)
        return conn.execute(sql.SQL("SELECT ") + sql.SQL(", ").join(checks)).fetchone()


def _public_tables(conn: psycopg.Connection) -> list[str]:
    # Partitions are counted and emptied through their parent; the insert path
    # and maintenance make new ones of `samples` as days come.
    rows = conn.execute(
        "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace"
        " AND relkind IN ('r', 'p') AND NOT relispartition ORDER BY relname"
    )
    return [name for (name,) in rows]


def _row_counts(conn: psycopg.Connection, tables: list[str]) -> dict[str, int]:
    counts = sql.SQL(", ").join(
        sql.SQL("(SELECT count(*) FROM {})").format(sql.Identifier(name)) for name in tables
    )
    row = conn.execute(sql.SQL("SELECT ") + counts).fetchone()
    return dict(zip(tables, row, strict=True))
