"""Helpers shared by the benchmark scripts: databases, gunicorn, HTTP timing, statistics, output."""

from __future__ import annotations

import http.client
import json
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ADMIN_URL = os.environ.get(
    "TSMETRICS_BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
_STARTED = time.perf_counter()


def log(message: str) -> None:
    """A progress line with the seconds since the script started."""
    print(f"[{time.perf_counter() - _STARTED:7.1f}s] {message}", flush=True)


@dataclass(frozen=True)
class Stats:
    """Latency percentiles of one measured series of calls, in milliseconds."""

    n: int
    p50: float
    p99: float
    mean: float

    @classmethod
    def of(cls, millis: list[float]) -> Stats:
        """Percentiles by linear interpolation between the closest ranks."""
        values = np.asarray(millis, dtype=np.float64)
        p50, p99 = np.percentile(values, [50, 99])
        return cls(len(values), float(p50), float(p99), float(values.mean()))

    def __str__(self) -> str:
        return f"p50 {self.p50:.2f} ms, p99 {self.p99:.2f} ms (n={self.n})"


def timed(call: Callable[[], object]) -> float:
    """Milliseconds one call took."""
    began = time.perf_counter()
    call()
    return (time.perf_counter() - began) * 1000


def compare(
    calls: dict[str, Callable[[], object]], *, total: int, block: int = 20, warmup: int = 20
) -> dict[str, Stats]:
    """Time each call `total` times, alternating blocks so that machine noise hits all alike."""
    for call in calls.values():
        for _ in range(warmup):
            call()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    while len(next(iter(samples.values()))) < total:
        for name, call in calls.items():
            samples[name].extend(timed(call) for _ in range(block))
    return {name: Stats.of(values[:total]) for name, values in samples.items()}


def in_threads(work: Callable[[list], object], items: list, threads: int) -> float:
    """Seconds to run `work` on `threads` interleaved shares of `items` at once."""
    started = [threading.Thread(target=work, args=(items[i::threads],)) for i in range(threads)]
    began = time.perf_counter()
    for thread in started:
        thread.start()
    for thread in started:
        thread.join()
    return time.perf_counter() - began


def change(base: float, other: float) -> float:
    """Relative change from base to other, in percent."""
    return (other - base) / base * 100


def database_url(admin_url: str, name: str) -> str:
    """The admin URL pointed at database `name`."""
    conninfo = psycopg.conninfo.conninfo_to_dict(admin_url)
    conninfo["dbname"] = name
    return psycopg.conninfo.make_conninfo(**conninfo)


def database_exists(admin_url: str, name: str) -> bool:
    """True when the server has a database called `name`."""
    with psycopg.connect(admin_url, autocommit=True) as admin:
        row = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    return row is not None


def migrate_database(url: str) -> None:
    """Apply pending migrations (a database kept from an earlier run may lag the code)."""
    from tsmetrics.store import schema

    with psycopg.connect(url) as conn:
        schema.migrate(conn)


def create_database(admin_url: str, name: str) -> str:
    """Create an empty, migrated database and return its URL."""
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = database_url(admin_url, name)
    migrate_database(url)
    return url


def drop_database(admin_url: str, name: str) -> None:
    """Drop database `name` if it exists, even with sessions still open."""
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def database_size(url: str) -> str:
    """The database's size on disk, human-readable."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        return row.fetchone()[0]


def newest_sample(url: str) -> datetime:
    """The time of the newest sample over every series."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT max(last_time) FROM series").fetchone()
    if row is None or row[0] is None:
        raise RuntimeError(f"{url}: no samples; drop the database and run again")
    return row[0].astimezone(UTC)


def cpu_model() -> str:
    """The processor's model name as /proc/cpuinfo gives it."""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def save_results(kind: str, results: dict) -> Path:
    """Write the figures to bench/out/<kind>-<UTC time>.json; return the file."""
    out = ROOT / "bench" / "out" / f"{kind}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    return out


def print_summary(lines: list[str], out: Path) -> None:
    """The summary as a list, then where the figures were saved."""
    print("\nSummary", flush=True)
    for line in lines:
        print(f"- {line}", flush=True)
    print(f"(figures saved to {out.relative_to(ROOT)})", flush=True)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class HttpClient:
    """One keep-alive HTTP/1.1 connection, used sequentially."""

    def __init__(self, port: int, headers: dict[str, str] | None = None) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = headers or {}

    def get(self, path: str) -> tuple[int, bytes]:
        """Status and body of GET path (the body read whole, as a client would).

        A connection the server closed while idle (gunicorn's keepalive) is
        opened again once, as browsers and HTTP libraries do.
        """
        try:
            self.conn.request("GET", path, headers=self.headers)
            response = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            self.conn.close()
            self.conn.request("GET", path, headers=self.headers)
            response = self.conn.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The command name may hold spaces; the parent pid follows its closing paren.
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(entry.name))
    return sorted(found)


def rss_mb(pid: int) -> float:
    """Resident set size of a process (VmRSS), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


@dataclass
class Gunicorn:
    """A running `gunicorn wsgi:app -c gunicorn.conf.py` on a free local port."""

    process: subprocess.Popen
    port: int

    def worker_pids(self) -> list[int]:
        """The worker processes (children of the master)."""
        return _children(self.process.pid)


def _wait_until_serving(server: Gunicorn, workers: int, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited; see {log_path}")
        try:
            client = HttpClient(server.port)
            status, _ = client.get("/openapi.json")
            client.close()
            if status == 200 and len(server.worker_pids()) == workers:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer within 60 s; see {log_path}")


@contextmanager
def gunicorn(
    url: str,
    *,
    workers: int = 2,
    label: str = "bench",
    env: dict[str, str] | None = None,
    root: Path = ROOT,
) -> Iterator[Gunicorn]:
    """Serve database `url` the production way from the tree at `root`, stopping it afterwards.

    Another `root` (a git worktree of an older commit) serves that commit's
    code, so a benchmark can compare two versions in one run.
    """
    port = free_port()
    env = {
        **os.environ,
        "TSMETRICS_DATABASE_URL": url,
        "TSMETRICS_BIND": f"127.0.0.1:{port}",
        "TSMETRICS_WORKERS": str(workers),
        "TSMETRICS_LOG_LEVEL": "WARNING",
        # Production mode refuses the development key.
        "TSMETRICS_SECRET_KEY": secrets.token_urlsafe(32),
        "PYTHONPATH": str(root),
        **(env or {}),
    }
    log_path = Path(f"/tmp/tsmetrics-{label}-{port}.log")  # noqa: S108 - a scratch log
    command = [str(Path(sys.executable).parent / "gunicorn"), "wsgi:app", "-c", "gunicorn.conf.py"]
    with log_path.open("wb") as sink:
        process = subprocess.Popen(command, cwd=root, env=env, stdout=sink, stderr=sink)
    server = Gunicorn(process, port)
    try:
        _wait_until_serving(server, workers, log_path)
        log(
            f"gunicorn serving on port {port}: master {process.pid}, workers "
            f"{server.worker_pids()} (log {log_path})"
        )
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
