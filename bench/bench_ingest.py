"""Ingestion benchmark: the consumer (publish to stored and in rollups) vs raw COPY; HTTP ingest.

    .venv/bin/python bench/bench_ingest.py [--samples 1000000] [--steps consumer,http]

Uses the machine's PostgreSQL (TSMETRICS_BENCH_ADMIN_URL) and RabbitMQ
(TSMETRICS_BENCH_BROKER_URL) with a database and queue of its own, removed at
the end. Figures go to the terminal and, as JSON, to bench/out/. The consumer
part is in ingest_consumer.py, the batches sent in ingest_workload.py.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import time
import uuid
from datetime import UTC, datetime

import pika
import psycopg
from common import (
    DEFAULT_ADMIN_URL,
    Stats,
    cpu_model,
    create_database,
    drop_database,
    gunicorn,
    in_threads,
    log,
    save_results,
)
from ingest_consumer import BROKER_URL, consumer_against_copy
from ingest_workload import VISIBLE, prepare, reset

from tsmetrics.demo.seed import ensure_catalogue

DATABASE = "tsm_bench_ingest"


def _post_all(port: int, bodies: list[bytes], latencies: list[float], failures: list[str]) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        for body in bodies:
            headers = {"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex}
            began = time.perf_counter()
            connection.request("POST", "/ingest", body, headers)
            response = connection.getresponse()
            answer = response.read()
            latencies.append((time.perf_counter() - began) * 1000)
            if response.status != 201:
                failures.append(f"{response.status} {answer[:200]!r}")
    finally:
        connection.close()


def post_concurrently(port: int, bodies: list[bytes], clients: int) -> tuple[float, list[float]]:
    """POST every body from `clients` keep-alive connections; seconds and latencies (ms)."""
    latencies: list[float] = []
    failures: list[str] = []
    seconds = in_threads(lambda share: _post_all(port, share, latencies, failures), bodies, clients)
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, e.g. {failures[0]}")
    return seconds, latencies


def bench_http(url: str, bodies: list[bytes], total: int, clients: int, workers: int) -> dict:
    """POST /ingest through gunicorn: 1,000-sample batches from `clients` connections."""
    # A benchmark is one client: no rate limit; authentication is measured elsewhere.
    env = {"TSMETRICS_AUTH": "off", "TSMETRICS_RATE_LIMIT_INGEST": ""}
    with gunicorn(url, workers=workers, label="ingest", env=env) as server:
        post_concurrently(server.port, bodies[: clients * 4], clients)  # warm every worker
        reset(url)
        seconds, latencies = post_concurrently(server.port, bodies, clients)
    with psycopg.connect(url) as conn:
        stored = conn.execute(VISIBLE).fetchone()[0]
    assert stored == total, f"{stored:,} in rollups, expected {total:,}"
    stats = Stats.of(latencies)
    result = {
        "samples": total,
        "requests": len(bodies),
        "clients": clients,
        "workers": workers,
        "seconds": seconds,
        "rate": total / seconds,
        "latency_ms": {"p50": stats.p50, "p99": stats.p99},
    }
    log(
        f"http: {total:,} samples in {len(bodies):,} requests in {seconds:.2f} s = "
        f"{result['rate']:,.0f} samples/s ({len(bodies) / seconds:,.0f} requests/s, {stats})"
    )
    return result


def machine() -> dict:
    """What the figures were measured on."""
    with psycopg.connect(DEFAULT_ADMIN_URL) as conn:
        postgres = conn.execute("SHOW server_version").fetchone()[0]
    with pika.BlockingConnection(pika.URLParameters(BROKER_URL)) as connection:
        version = connection._impl.server_properties.get("version", b"?")
        rabbitmq = version.decode() if isinstance(version, bytes) else str(version)
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "postgresql": postgres,
        "rabbitmq": rabbitmq,
    }


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--http-samples", type=int, default=500_000)
    parser.add_argument(
        "--publishers", type=int, default=2, help="publisher connections (each waits per confirm)"
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--steps", default="consumer,http")
    return parser.parse_args()


def main() -> None:
    """Run the chosen steps and write bench/out/ingest-<time>.json."""
    args = _arguments()
    steps = set(args.steps.split(","))
    drop_database(DEFAULT_ADMIN_URL, DATABASE)
    url = create_database(DEFAULT_ADMIN_URL, DATABASE)
    results: dict = {"machine": machine(), "when": datetime.now(UTC).isoformat(timespec="seconds")}
    log(f"machine: {results['machine']}")
    try:
        with psycopg.connect(url) as conn:
            ensure_catalogue(conn, days=1)
        if "consumer" in steps:
            bodies, total, columns = prepare(url, args.samples, args.batch_size)
            log(f"consumer: {total:,} samples in {len(bodies):,} messages of <= {args.batch_size}")
            results["consumer"] = consumer_against_copy(url, bodies, columns, args.publishers)
        if "http" in steps:
            bodies, total, _ = prepare(url, args.http_samples, 1000, full_only=True)
            results["http"] = bench_http(url, bodies, total, args.clients, args.workers)
    finally:
        drop_database(DEFAULT_ADMIN_URL, DATABASE)
    out = save_results("ingest", results)
    log(f"results in {out}")


if __name__ == "__main__":
    main()
