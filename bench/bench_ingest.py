"""Ingestion benchmark: the consumer (publish to stored and in rollups) vs raw COPY; HTTP ingest.

    .venv/bin/python bench/bench_ingest.py [--samples 1000000] [--steps consumer,http]

Uses the machine's PostgreSQL (TSMETRICS_BENCH_ADMIN_URL) and RabbitMQ
(TSMETRICS_BENCH_BROKER_URL) with a database and queue of its own, removed at
the end. Figures go to the terminal and, as JSON, to bench/out/.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pika
import psycopg
from common import DEFAULT_ADMIN_URL, ROOT, Stats, create_database, drop_database, gunicorn, log

from tsmetrics import batches, simulator
from tsmetrics.catalogue_cache import load_catalogue
from tsmetrics.producer import Producer, encode_batch
from tsmetrics.seed import ensure_catalogue
from tsmetrics.store import samples as sample_store
from tsmetrics.store.batches import concat_samples

BROKER_URL = os.environ.get("TSMETRICS_BENCH_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
DATABASE = "tsm_bench_ingest"
RAW_COPY = "COPY samples (time, value, abtest_id, metric_id, variant) FROM STDIN (FORMAT BINARY)"
FIELDS = tuple(sample_store.SampleColumns.__dataclass_fields__)
VISIBLE = (
    "SELECT coalesce(sum(n), 0)::bigint FROM rollups WHERE bucket_seconds = 86400 AND variant = -1"
)


def make_batches(
    samples: int, batch_size: int, *, full_only: bool = False
) -> list[tuple[str, str, list[dict]]]:
    """Realistic simulator batches of the demo tests, up to `batch_size` samples, ending now."""
    traffic = simulator.Traffic(simulator.select_tests(), 0, np.random.default_rng(42))
    groups = 2 * len(traffic.tests)  # (test, variant) pairs
    # About one batch per pair per simulated second; a quarter more for whole batches.
    traffic.rate = groups * batch_size * (1.25 if full_only else 1)
    seconds = max(1, round(samples / (groups * batch_size)))
    start = time.time() - seconds - 1
    out = []
    for second in range(seconds):
        for abtest, variant, rows in traffic.batches(start + second, 1.0):
            for first in range(0, len(rows), batch_size):
                chunk = rows[first : first + batch_size]
                if len(chunk) == batch_size or not full_only:
                    out.append((abtest, variant, chunk))
    return out


def raw_copy(url: str, columns: sample_store.SampleColumns, total: int) -> float:
    """Rows/s of a raw binary COPY of these rows into `samples` (then emptied again)."""
    payload = sample_store.binary_copy_payload(columns)
    reset(url)
    with psycopg.connect(url) as conn:
        began = time.perf_counter()
        with conn.cursor() as cur, cur.copy(RAW_COPY) as copy:
            for first in range(0, len(payload), 1 << 20):
                copy.write(payload[first : first + (1 << 20)])
        conn.commit()
        seconds = time.perf_counter() - began
        conn.execute("TRUNCATE samples")
        conn.commit()
    log(f"raw binary COPY of the same rows: {seconds:.2f} s = {total / seconds:,.0f} rows/s")
    return total / seconds


def write_path(url: str, columns: sample_store.SampleColumns, chunk: int) -> float:
    """Samples/s of insert_samples alone (no broker, no parsing) in flushes of `chunk`."""
    reset(url)
    with psycopg.connect(url, autocommit=True) as conn:
        began = time.perf_counter()
        for first in range(0, len(columns), chunk):
            part = sample_store.SampleColumns(
                *(getattr(columns, name)[first : first + chunk] for name in FIELDS)
            )
            with conn.transaction():
                sample_store.insert_samples(conn, part)
        seconds = time.perf_counter() - began
    rate = len(columns) / seconds
    log(f"insert_samples alone, {chunk:,} per transaction: {rate:,.0f} samples/s")
    return rate


def start_consumer(url: str, queue: str, log_path: Path) -> subprocess.Popen:
    """`tsmetrics consume` for the bench queue, logging to a file."""
    env = {
        **os.environ,
        "TSMETRICS_DATABASE_URL": url,
        "TSMETRICS_BROKER_URL": BROKER_URL,
        "TSMETRICS_QUEUE": queue,
    }
    with log_path.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "tsmetrics.cli", "consume"],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


def wait_visible(url: str, total: int, timeout: float = 600) -> float:
    """Block until rollups count `total` samples; return the perf_counter time it happened."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            seen = conn.execute(VISIBLE).fetchone()[0]
            if seen >= total:
                return time.perf_counter()
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {seen:,} of {total:,} samples visible after {timeout} s")
            time.sleep(0.02)


def first_visible(url: str) -> tuple[float, int]:
    """The perf_counter time at which rollups first count samples, and how many."""
    with psycopg.connect(url, autocommit=True) as conn:
        while not (seen := conn.execute(VISIBLE).fetchone()[0]):
            time.sleep(0.005)
    return time.perf_counter(), seen


def _publish_all(bodies: list[bytes], queue: str) -> None:
    with Producer(BROKER_URL, queue, name="tsmetrics-bench") as producer:
        for body in bodies:
            producer.publish_body(body, uuid.uuid4().hex)


def publish(bodies: list[bytes], queue: str, publishers: int = 2) -> float:
    """Publish every body with confirms from `publishers` connections; return the seconds."""
    # Each confirm is a round trip; two connections keep the broker busy meanwhile.
    threads = [
        threading.Thread(target=_publish_all, args=(bodies[i::publishers], queue))
        for i in range(publishers)
    ]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began


def reset(url: str) -> None:
    """Empty the sample tables between runs (the catalogue stays)."""
    with psycopg.connect(url) as conn:
        conn.execute("TRUNCATE samples, rollups, series, ingested_batches")


def bench_consumer(
    url: str, bodies: list[bytes], total: int, mode: str, publishers: int = 2
) -> dict:
    """`live`: publish while the consumer runs; `backlog`: publish first, then consume."""
    queue = f"tsmetrics.bench.{os.getpid()}.{mode}"
    log_path = Path(f"/tmp/tsmetrics-bench-consumer-{mode}.log")  # noqa: S108 - scratch log
    reset(url)
    result: dict = {
        "mode": mode,
        "samples": total,
        "messages": len(bodies),
        "publishers": publishers,
    }
    try:
        if mode == "backlog":
            result["publish_rate"] = total / publish(bodies, queue, publishers)
            log(f"consumer/{mode}: published {total:,} samples ({result['publish_rate']:,.0f}/s)")
        consumer = start_consumer(url, queue, log_path)
        if mode == "live":
            time.sleep(3)  # started and consuming: the clock measures throughput, not imports
            began = time.perf_counter()
            publisher = threading.Thread(
                target=lambda: result.update(publish_s=publish(bodies, queue, publishers))
            )
            publisher.start()
            counted = 0
        else:
            # Time the drain from the first flush: process start-up is not throughput.
            began, counted = first_visible(url)
        done = wait_visible(url, total)
        if mode == "live":
            publisher.join()
        consumer.terminate()
        consumer.wait(timeout=60)
        result["seconds"] = done - began
        result["rate"] = (total - counted) / result["seconds"]
        with psycopg.connect(url) as conn:
            stored = conn.execute("SELECT count(*) FROM samples").fetchone()[0]
        assert stored == total, f"{stored:,} stored, expected {total:,}"
        log(
            f"consumer/{mode}: {total:,} samples in {result['seconds']:.2f} s = "
            f"{result['rate']:,.0f} samples/s, stored and in rollups (consumer log {log_path})"
        )
        if mode == "live":
            # When the broker's confirms are slow, publishing is the limit, not the consumer.
            log(f"consumer/live: the publishers took {result['publish_s']:.2f} s of those")
    finally:
        with pika.BlockingConnection(pika.URLParameters(BROKER_URL)) as connection:
            channel = connection.channel()
            for name in (queue, f"{queue}.dead"):
                channel.queue_delete(name)
            channel.exchange_delete(f"{queue}.dlx")
    return result


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
    threads = [
        threading.Thread(target=_post_all, args=(port, bodies[i::clients], latencies, failures))
        for i in range(clients)
    ]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
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
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    with psycopg.connect(DEFAULT_ADMIN_URL) as conn:
        postgres = conn.execute("SHOW server_version").fetchone()[0]
    with pika.BlockingConnection(pika.URLParameters(BROKER_URL)) as connection:
        version = connection._impl.server_properties.get("version", b"?")
        rabbitmq = version.decode() if isinstance(version, bytes) else str(version)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "postgresql": postgres,
        "rabbitmq": rabbitmq,
    }


def prepare(url: str, samples: int, batch_size: int, *, full_only: bool = False):
    """Encoded bodies, their total, and the same rows as SampleColumns for the raw COPY."""
    made = make_batches(samples, batch_size, full_only=full_only)
    bodies = [encode_batch(*batch) for batch in made]
    with psycopg.connect(url) as conn:
        catalogue = load_catalogue(conn)
    limits = batches.Limits(max_bytes=10**8, max_age_seconds=10**9)
    columns = concat_samples(
        [batches.parse_batch(body, catalogue, limits).samples for body in bodies]
    )
    return bodies, len(columns), columns


def main() -> None:
    """Run the chosen steps and write bench/out/ingest-<time>.json."""
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
    args = parser.parse_args()
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
            # Raw COPY before, between and after the consumer runs: each run is
            # compared with the COPYs next to it, so a busy moment hits both.
            copies = [raw_copy(url, columns, total)]
            live = bench_consumer(url, bodies, total, "live", args.publishers)
            copies.append(raw_copy(url, columns, total))
            backlog = bench_consumer(url, bodies, total, "backlog", args.publishers)
            copies.append(raw_copy(url, columns, total))
            ceiling = write_path(url, columns, 100_000)
            results["consumer"] = {
                "raw_copy_rates": copies,
                "insert_samples_rate": ceiling,
                "live": live,
                "backlog": backlog,
            }
            for run, around in ((live, copies[:2]), (backlog, copies[1:])):
                run["raw_copy_rate"] = sum(around) / 2
                run["ratio_to_raw_copy"] = run["rate"] / run["raw_copy_rate"]
                run["ratio_to_insert_samples"] = run["rate"] / ceiling
                log(
                    f"consumer/{run['mode']}: {run['rate']:,.0f} samples/s = "
                    f"{run['ratio_to_raw_copy']:.1%} of raw COPY "
                    f"({run['raw_copy_rate']:,.0f} rows/s)"
                )
        if "http" in steps:
            bodies, total, _ = prepare(url, args.http_samples, 1000, full_only=True)
            results["http"] = bench_http(url, bodies, total, args.clients, args.workers)
    finally:
        drop_database(DEFAULT_ADMIN_URL, DATABASE)
    out = ROOT / "bench" / "out" / f"ingest-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    log(f"results in {out}")


if __name__ == "__main__":
    main()
