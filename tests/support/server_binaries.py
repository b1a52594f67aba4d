"""PostgreSQL's client and server programs of the test server's own major version.

pg_basebackup, pg_ctl and pg_dump refuse a server of another major version: the
machine's PostgreSQL has Debian's per-version folders, and the embedded server a
fresh machine runs has its own binaries in its package.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from contextlib import suppress
from pathlib import Path

import psycopg

from tsmetrics.demo import embedded


def server_bin_dir(conn: psycopg.Connection, *programs: str) -> Path | None:
    """A folder holding `programs` of the server's own major version, or None."""
    major = conn.info.server_version // 10_000
    candidates = [Path(f"/usr/lib/postgresql/{major}/bin")]  # Debian's, per version
    with suppress(embedded.EmbeddedUnavailable):
        candidates.append(Path(embedded.load_package().__file__).parent / "pginstall" / "bin")
    if found := shutil.which(programs[0]):
        candidates.append(Path(found).parent)
    for folder in candidates:
        if all(_major_of(folder / name) == major for name in programs):
            return folder
    return None


def _major_of(program: Path) -> int | None:
    """The major version a PostgreSQL program prints (`pg_basebackup (PostgreSQL) 15.19`)."""
    if not program.exists():
        return None
    try:
        printed = subprocess.run(
            [str(program), "--version"], capture_output=True, text=True, timeout=30
        ).stdout
    except OSError:
        return None
    match = re.search(r"\) (\d+)", printed)
    return int(match.group(1)) if match else None
