"""The consumer's ingestion rate (published to stored and in rollups) against a raw COPY."""

from __future__ import annotations

import os
import threading
import time
import uuid
from pathlib import Path

import psycopg
from common import in_threads, log
from ingest_workload import VISIBLE, reset
from ops import delete_queue, start_consumer

from tsmetrics.ingest.producer import Producer
from tsmetrics.store import samples as sample_store

BROKER_URL = os.environ.get("TSMETRICS_BENCH_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
RAW_COPY = "COPY samples (time, value, abtest_id, metric_id, variant) FROM STDIN (FORMAT BINARY)"


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
            part = columns.subset(slice(first, first + chunk))
            with conn.transaction():
                sample_store.insert_samples(conn, part)
        seconds = time.perf_counter() - began
    rate = len(columns) / seconds
    log(f"insert_samples alone, {chunk:,} per transaction: {rate:,.0f} samples/s")
    return rate


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
    return in_threads(lambda share: _publish_all(share, queue), bodies, publishers)


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
        settings = {
            "TSMETRICS_DATABASE_URL": url,
            "TSMETRICS_BROKER_URL": BROKER_URL,
            "TSMETRICS_QUEUE": queue,
        }
        consumer = start_consumer(settings, log_path)
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
        delete_queue(BROKER_URL, queue)
    return result


def consumer_against_copy(
    url: str, bodies: list[bytes], columns: sample_store.SampleColumns, publishers: int
) -> dict:
    """Both consumer runs, each set beside raw COPYs of the same rows and insert_samples alone."""
    total = len(columns)
    # Raw COPY before, between and after the consumer runs: each run is
    # compared with the COPYs next to it, so a busy moment hits both.
    copies = [raw_copy(url, columns, total)]
    live = bench_consumer(url, bodies, total, "live", publishers)
    copies.append(raw_copy(url, columns, total))
    backlog = bench_consumer(url, bodies, total, "backlog", publishers)
    copies.append(raw_copy(url, columns, total))
    ceiling = write_path(url, columns, 100_000)
    for run, around in ((live, copies[:2]), (backlog, copies[1:])):
        run["raw_copy_rate"] = sum(around) / 2
        run["ratio_to_raw_copy"] = run["rate"] / run["raw_copy_rate"]
        run["ratio_to_insert_samples"] = run["rate"] / ceiling
        log(
            f"consumer/{run['mode']}: {run['rate']:,.0f} samples/s = "
            f"{run['ratio_to_raw_copy']:.1%} of raw COPY "
            f"({run['raw_copy_rate']:,.0f} rows/s)"
        )
    return {
        "raw_copy_rates": copies,
        "insert_samples_rate": ceiling,
        "live": live,
        "backlog": backlog,
    }
