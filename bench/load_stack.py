"""The system under load for bench_load.py: its own PostgreSQL, Redis, queue, APIs and consumers.

Nothing here touches a service other people use, except a private queue on the
machine's RabbitMQ, reached through a TCP proxy whose connections can be cut
(an outage as the consumers and the producer see it).
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from common import ROOT, Gunicorn, free_port, gunicorn, log
from ops import Postgres, RedisServer, delete_queue, start_consumer, throwaway_postgres

sys.path.insert(0, str(ROOT))
from tests.support.rabbit import CuttableProxy  # the tests' proxy, reused
from tsmetrics.demo.seed import seed
from tsmetrics.ingest import broker
from tsmetrics.store import schema

BROKER = "amqp://guest:guest@127.0.0.1:5672/%2F"
API_ENV = {
    "TSMETRICS_AUTH": "off",
    "TSMETRICS_ENV": "development",
    "TSMETRICS_LOG_LEVEL": "WARNING",
    **{f"TSMETRICS_RATE_LIMIT_{c}": "" for c in ("READ", "INGEST", "ADMIN", "DASHBOARD")},
}


@dataclass
class Stack:
    """Everything running, and the handles the faults need."""

    postgres: Postgres
    redis: RedisServer
    proxy: CuttableProxy
    queue: str
    apis: list[Gunicorn]
    consumers: list[subprocess.Popen]
    consumer_ports: list[int]

    @property
    def url(self) -> str:
        """The database's URL."""
        return self.postgres.url


def _consumer(url: str, queue: str, broker_url: str, port: int, log_path: Path) -> subprocess.Popen:
    settings = {
        "TSMETRICS_DATABASE_URL": url,
        "TSMETRICS_BROKER_URL": broker_url,
        "TSMETRICS_QUEUE": queue,
        "TSMETRICS_METRICS_BIND": f"127.0.0.1:{port}",
        "TSMETRICS_LOG_LEVEL": "WARNING",
        "TSMETRICS_CONNECT_TIMEOUT": "2",
    }
    return start_consumer(settings, log_path, append=True)


def _prepare(url: str, days: int) -> None:
    with psycopg.connect(url) as conn:
        schema.migrate(conn)
    seed(lambda: psycopg.connect(url), days=days, out=lambda line: log(f"seed: {line}"))


@contextmanager
def running(days: int, workers: int) -> Iterator[Stack]:
    """The whole stack, torn down afterwards (queue deleted, servers stopped, data removed)."""
    topology = broker.Topology(f"tsmetrics.bench.{secrets.token_hex(4)}")
    with ExitStack() as stack:
        postgres = stack.enter_context(throwaway_postgres())
        _prepare(postgres.url, days)
        redis = RedisServer().start()
        stack.callback(redis.stop)
        proxy = CuttableProxy()
        stack.callback(proxy.close)
        stack.callback(delete_queue, BROKER, topology.queue)
        env = {**API_ENV, "TSMETRICS_REDIS_URL": redis.url}
        apis = [
            stack.enter_context(gunicorn(postgres.url, workers=workers, label=f"load{i}", env=env))
            for i in range(2)
        ]
        ports = [free_port(), free_port()]
        consumers = []
        for i, port in enumerate(ports):
            log_path = Path(f"/tmp/tsmetrics-load-consumer{i}-{port}.log")  # noqa: S108
            consumers.append(_consumer(postgres.url, topology.queue, proxy.url, port, log_path))
            stack.callback(_stop, consumers[-1])
        log(f"stack: PostgreSQL {postgres.url}, Redis {redis.port}, queue {topology.queue}")
        yield Stack(postgres, redis, proxy, topology.queue, apis, consumers, ports)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
