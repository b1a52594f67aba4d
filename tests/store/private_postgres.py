"""A PostgreSQL server of a test's own, with extensions the shared test server must never see.

PostgreSQL finds its extension files in its share directory, next to its
binaries: a copy of this machine's installation under a temporary folder (the
binaries copied, the libraries linked) is a server whose extension directory a
test may fill freely, while the machine's own server, shared with other test
runs, stays untouched. Needs `pg_config`, and as root a `postgres` user to run
the server as.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg

_BINARIES = ("postgres", "initdb", "pg_ctl")


def _pg_config(option: str) -> Path:
    output = subprocess.run(["pg_config", option], capture_output=True, text=True, check=True)
    return Path(output.stdout.strip())


def unavailable() -> str | None:
    """Why a private server cannot be made here, or None."""
    if shutil.which("pg_config") is None:
        return "pg_config is missing (apt-get install postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root without a postgres user to run PostgreSQL as"
    if not (_pg_config("--bindir") / "postgres").exists():
        return "pg_config names no postgres binary"
    return None


class PrivatePostgres:
    """A throwaway server on 127.0.0.1; `extension_dir` is its own to write."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="tsmetrics-private-pg-"))
        bindir, sharedir = _pg_config("--bindir"), _pg_config("--sharedir")
        libdir = _pg_config("--pkglibdir")
        # The same layout under the root: PostgreSQL finds share/ and lib/ relative
        # to its own binary, so the copy uses the copied share directory.
        self.bindir = self.root / bindir.relative_to("/")
        self.bindir.mkdir(parents=True)
        for name in _BINARIES:
            shutil.copy2(bindir / name, self.bindir / name)
        shutil.copytree(sharedir, self.root / sharedir.relative_to("/"), symlinks=True)
        (self.root / libdir.relative_to("/")).parent.mkdir(parents=True, exist_ok=True)
        if not (self.root / libdir.relative_to("/")).exists():
            (self.root / libdir.relative_to("/")).symlink_to(libdir)
        self.extension_dir = self.root / sharedir.relative_to("/") / "extension"
        self.data = self.root / "data"
        self.port = _free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> PrivatePostgres:
        """initdb and start; returns self once it accepts connections."""
        if os.geteuid() == 0:
            self.root.chmod(0o755)
            subprocess.run(["chown", "-R", "postgres", str(self.root)], check=True)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-w", "-t", "60", "-l",
                  str(self.root / "log"), "start")  # fmt: skip
        with psycopg.connect(self.url, connect_timeout=10):
            pass
        return self

    def write_extension(self, name: str, version: str, script: str) -> None:
        """Install an extension's control file and install script (owned by the server's user)."""
        control = f"comment = 'test stand-in'\ndefault_version = '{version}'\nrelocatable = false\n"
        (self.extension_dir / f"{name}.control").write_text(control)
        (self.extension_dir / f"{name}--{version}.sql").write_text(script)

    def stop(self) -> None:
        """Stop at once and remove everything."""
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        except subprocess.CalledProcessError:
            pass  # never started
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
