"""A real streaming replica of the test server: pg_basebackup into a temporary directory.

The replica runs as the server's own OS user on a free port, with its socket
in its directory, and is stopped and removed by `stop()` whatever happened.
The primary is never restarted; it only needs `wal_level` replica or logical
and a pg_hba line for local replication connections, which `allow_replication`
adds (once) when the test may edit the server's configuration.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.reliability.servers import free_port
from tests.support.server_binaries import server_bin_dir

REPLICATION_RULE = "host replication all 127.0.0.1/32 trust"
# Settings a hot standby must have at least as high as its primary's.
_AT_LEAST_PRIMARY = (
    "max_connections",
    "max_worker_processes",
    "max_wal_senders",
    "max_prepared_transactions",
    "max_locks_per_transaction",
)


SLOT_PREFIX = "tsmetrics_test_replica_"


class ReplicaUnavailable(Exception):
    """No replica can be made here; the message says why (the test skips or fails with it)."""


def _setting(conn: psycopg.Connection, name: str) -> str:
    return conn.execute("SELECT current_setting(%s)", [name]).fetchone()[0]


def _bin_dir(conn: psycopg.Connection) -> Path:
    folder = server_bin_dir(conn, "pg_basebackup", "pg_ctl")
    if folder is None:
        raise ReplicaUnavailable("no pg_basebackup and pg_ctl of the server's major version")
    return folder


def allow_replication(conn: psycopg.Connection) -> None:
    """Make sure the server takes replication connections from 127.0.0.1 (idempotent)."""
    if _setting(conn, "wal_level") not in ("replica", "logical"):
        raise ReplicaUnavailable("wal_level is minimal on the test server (a restart would fix it)")
    rules = "SELECT count(*) FROM pg_hba_file_rules WHERE 'replication' = ANY(database)"
    if conn.execute(rules + " AND error IS NULL").fetchone()[0]:
        return
    hba = Path(_setting(conn, "hba_file"))
    if not os.access(hba, os.W_OK):
        raise ReplicaUnavailable(f"{hba} has no replication rule and cannot be edited here")
    with hba.open("a") as out:
        out.write("\n# Added by TSMetrics' replica test (tests/reliability/replica.py)\n")
        out.write(REPLICATION_RULE + "\n")
    conn.execute("SELECT pg_reload_conf()")
    deadline = time.monotonic() + 10
    while not conn.execute(rules).fetchone()[0]:
        if time.monotonic() > deadline:
            raise ReplicaUnavailable(f"the server did not reload {hba}")
        time.sleep(0.05)


def _drop_slot(conn: psycopg.Connection, slot: str, timeout: float = 10) -> None:
    """Drop the slot once nothing streams from it (its walsender ends soon after the replica)."""
    deadline = time.monotonic() + timeout
    query = "SELECT active FROM pg_replication_slots WHERE slot_name = %s"
    while (row := conn.execute(query, [slot]).fetchone()) is not None:
        if not row[0]:
            conn.execute("SELECT pg_drop_replication_slot(%s)", [slot])
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"replication slot {slot} stays active; drop it by hand")
        time.sleep(0.1)


def _drop_stale_slots(conn: psycopg.Connection) -> None:
    """Drop the slots of earlier runs whose process is gone (killed before it cleaned up)."""
    rows = conn.execute(
        "SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE %s AND NOT active",
        [SLOT_PREFIX + "%"],
    ).fetchall()
    for (slot,) in rows:
        pid = int(slot.removeprefix(SLOT_PREFIX).split("_")[0])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            _drop_slot(conn, slot)
        except PermissionError:
            pass  # alive, someone else's


class Replica:
    """A hot standby of the server at `primary_url`, streaming from it."""

    def __init__(self, primary_url: str) -> None:
        self.primary_url = primary_url
        self.port = free_port()
        self.dir: Path | None = None
        self.started = False
        # A slot keeps the primary's WAL until the replica has it: on a busy
        # shared server, checkpoints would otherwise recycle it first.
        self.slot = f"{SLOT_PREFIX}{os.getpid()}_{secrets.token_hex(3)}"
        with psycopg.connect(primary_url, autocommit=True) as conn:
            self.bin = _bin_dir(conn)
            allow_replication(conn)
            _drop_stale_slots(conn)
            self.hba_owner = pwd.getpwuid(Path(_setting(conn, "hba_file")).stat().st_uid)
            self.limits = {name: _setting(conn, name) for name in _AT_LEAST_PRIMARY}

    @property
    def data(self) -> Path:
        """The replica's data directory."""
        assert self.dir is not None
        return self.dir / "data"

    def url(self, database_url: str) -> str:
        """`database_url` (same user and database) pointed at the replica."""
        params = conninfo_to_dict(database_url)
        params.update(host="127.0.0.1", port=str(self.port))
        return make_conninfo(**params)

    def _run(self, *command: str, timeout: float) -> None:
        if os.geteuid() == 0 and self.hba_owner.pw_uid != 0:
            command = ("runuser", "-u", self.hba_owner.pw_name, "--", *command)
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            name = Path(next(part for part in command if "/" in part)).name
            raise RuntimeError(f"{name} failed:\n{done.stdout}\n{done.stderr}")

    def start(self, timeout: float = 300) -> Replica:
        """Copy the primary (a fast checkpoint, WAL streamed alongside) and start the standby."""
        self.dir = Path(tempfile.mkdtemp(prefix="tsmetrics-replica-"))
        os.chown(self.dir, self.hba_owner.pw_uid, self.hba_owner.pw_gid)
        self._base_backup(timeout)
        self._configure()
        self.started = True
        self._run(
            str(self.bin / "pg_ctl"),
            *("-D", str(self.data), "-l", str(self.dir / "replica.log"), "-w", "-t", "120"),
            "start",
            timeout=150,
        )
        return self

    def _base_backup(self, timeout: float, attempts: int = 3) -> None:
        primary = conninfo_to_dict(self.primary_url)
        command = (
            str(self.bin / "pg_basebackup"),
            *("-h", primary.get("host", "127.0.0.1"), "-p", str(primary.get("port", 5432))),
            *("-U", primary.get("user", "postgres"), "-D", str(self.data)),
            *("-R", "-X", "stream", "--checkpoint=fast", "--no-sync"),
            *("--create-slot", "--slot", self.slot),
        )
        for attempt in range(1, attempts + 1):
            try:
                self._run(*command, timeout=timeout)
                return
            except RuntimeError:
                # A shared server: someone may end every session (the backup's
                # too) while it runs. Another try, from scratch.
                shutil.rmtree(self.data, ignore_errors=True)
                self._drop_slot()
                if attempt == attempts:
                    raise

    def _drop_slot(self) -> None:
        with psycopg.connect(self.primary_url, autocommit=True) as conn:
            _drop_slot(conn, self.slot)

    def _configure(self) -> None:
        # The primary's configuration may live outside its data directory (as
        # on Debian): the copy gets a small one of its own.
        settings = {
            "port": str(self.port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.dir}'",
            "hot_standby": "on",
            "shared_buffers": "'32MB'",
            "fsync": "off",
            **self.limits,
        }
        conf = "".join(f"{name} = {value}\n" for name, value in settings.items())
        (self.data / "postgresql.conf").write_text(conf)
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\nhost all all 127.0.0.1/32 trust\n"
        )
        for name in ("postgresql.conf", "pg_hba.conf"):
            os.chown(self.data / name, self.hba_owner.pw_uid, self.hba_owner.pw_gid)

    def log_tail(self) -> str:
        """The end of the replica's server log."""
        log = self.dir / "replica.log" if self.dir else None
        return log.read_text()[-3000:] if log and log.exists() else "(no log)"

    def stop(self) -> None:
        """Stop the replica at once, drop its slot on the primary and remove its directory."""
        try:
            if self.started:
                self._run(
                    str(self.bin / "pg_ctl"),
                    *("-D", str(self.data), "-m", "immediate", "-w", "stop"),
                    timeout=60,
                )
        finally:
            try:
                self._drop_slot()
            finally:
                if self.dir is not None:
                    shutil.rmtree(self.dir, ignore_errors=True)

    def wait_until_replayed(self, primary: psycopg.Connection, timeout: float) -> float:
        """Seconds until this replica has replayed the primary's WAL as of now."""
        target = primary.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        began = time.monotonic()
        with psycopg.connect(self.url(self.primary_url), autocommit=True) as conn:
            while time.monotonic() - began < timeout:
                behind = conn.execute(
                    "SELECT pg_wal_lsn_diff(%s::pg_lsn, pg_last_wal_replay_lsn())", [target]
                ).fetchone()[0]
                if behind is not None and behind <= 0:
                    return time.monotonic() - began
                time.sleep(0.002)
            receiver = conn.execute("SELECT status FROM pg_stat_wal_receiver").fetchone()
        raise AssertionError(
            f"the replica did not replay {target} within {timeout} s (WAL receiver: "
            f"{receiver}); its log ends:\n{self.log_tail()}"
        )
