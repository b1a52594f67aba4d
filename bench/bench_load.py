"""Load and faults: mixed dashboard and API traffic plus 10,000 samples/s, then restarts under it.

Bounded and local: everything runs on 127.0.0.1 for --seconds (steady) and
--fault-seconds (faults). The stack is the benchmark's own (bench/load_stack.py):
a throwaway PostgreSQL, a redis-server, two gunicorn API instances and two
consumers on a private queue. During the faults phase Redis restarts,
PostgreSQL is stopped (immediate shutdown) and started again, and the broker
goes away: by default by cutting and refusing every connection through the
consumers' and producer's proxy, so the machine's RabbitMQ, which others use,
keeps running; --stop-rabbitmq stops the real one (rabbitmqctl stop_app).

    ./dev bench bench_load [--seconds 60] [--fault-seconds 90] [--rate 10000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import threading
import time
from pathlib import Path

import psycopg
from common import ROOT, log, save_results
from load_stack import BROKER, Stack, running
from load_traffic import Publisher, Readers, first_ok
from ops import scrape


def _broker_outage(stack: Stack, seconds: float, real: bool) -> None:
    if real:
        subprocess.run(["rabbitmqctl", "stop_app"], check=True, capture_output=True)
        time.sleep(seconds)
        subprocess.run(["rabbitmqctl", "start_app"], check=True, capture_output=True)
        return
    stack.proxy.refusing = True
    stack.proxy.cut()
    time.sleep(seconds)
    stack.proxy.refusing = False


def _faults(stack: Stack, readers: Readers, args: argparse.Namespace) -> dict:
    """Redis, then PostgreSQL, then the broker; times of each, and PostgreSQL's recovery."""
    events: dict = {}
    time.sleep(10)
    events["redis_stopped"] = readers.clock()
    stack.redis.stop()
    time.sleep(args.redis_down)
    stack.redis.start()
    events["redis_started"] = readers.clock()
    time.sleep(10)
    events["postgres_stopped"] = readers.clock()
    stack.postgres.stop()
    time.sleep(args.pg_down)
    stack.postgres.start()
    events["postgres_started"] = readers.clock()
    recovered = first_ok(stack.apis, deadline=30) - readers.began
    events["postgres_recovered_after_s"] = round(recovered - events["postgres_started"], 2)
    log(f"faults: PostgreSQL answered again {events['postgres_recovered_after_s']} s after start")
    time.sleep(10)
    events["broker_stopped"] = readers.clock()
    _broker_outage(stack, args.broker_down, args.stop_rabbitmq)
    events["broker_started"] = readers.clock()
    return events


def _samples(url: str) -> int:
    for _ in range(60):
        try:
            with psycopg.connect(url, connect_timeout=2) as conn:
                return conn.execute("SELECT count(*) FROM samples").fetchone()[0]
        except psycopg.OperationalError:
            time.sleep(1)
    raise RuntimeError("the database did not come back")


def _drain(stack: Stack, before: int, publisher: Publisher) -> dict:
    """Wait for the consumers to store everything published; count lost and doubled."""
    expected = before + publisher.samples
    deadline = time.monotonic() + 120
    stored = _samples(stack.url)
    while stored < expected and time.monotonic() < deadline:
        time.sleep(1)
        stored = _samples(stack.url)
    time.sleep(2)
    stored = _samples(stack.url)
    with psycopg.connect(stack.url) as conn:
        ids = {row[0] for row in conn.execute("SELECT batch_id FROM ingested_batches")}
    missing = [batch_id for batch_id in publisher.ids if batch_id not in ids]
    return {
        "published_samples": publisher.samples,
        "published_batches": len(publisher.ids),
        "publish_failures": publisher.failures,
        "stored_samples": stored - before,
        "lost_samples": max(0, expected - stored),
        "doubled_samples": max(0, stored - expected),
        "batches_missing": len(missing),
    }


def phase(stack: Stack, name: str, seconds: float, args: argparse.Namespace) -> dict:
    """One run of the traffic, with the faults when asked; its figures."""
    pids = {api.port: sorted(api.worker_pids()) for api in stack.apis}
    before = _samples(stack.url)
    readers = Readers(stack.apis, threads=args.threads)
    publisher = Publisher(
        stack.proxy.url if not args.stop_rabbitmq else BROKER, stack.queue, rate=args.rate
    )
    readers.start()
    publisher.start()
    events = {}
    if name == "faults":
        worker = threading.Thread(target=lambda: events.update(_faults(stack, readers, args)))
        worker.start()
    time.sleep(seconds)
    publisher.stop()
    readers.stop()
    if name == "faults":
        worker.join()
    elapsed = readers.elapsed()
    result = {
        "seconds": round(elapsed, 1),
        "requests": readers.latencies.summary(elapsed),
        "errors": readers.errors(events),
        "ingest_rate_per_s": round(publisher.samples / elapsed),
        "events": events,
        "ingestion": _drain(stack, before, publisher),
        "workers_unchanged": pids == {api.port: sorted(api.worker_pids()) for api in stack.apis},
        "worker_crashes": _crashes(stack),
        "consumers_alive": all(process.poll() is None for process in stack.consumers),
        "consumer_metrics": [scrape_consumer(port) for port in stack.consumer_ports],
    }
    log(f"{name}: {json.dumps(result)}")
    return result


def _crashes(stack: Stack) -> int:
    """Lines in the API logs telling of a worker that died (recycling is not a crash)."""
    signs = ("WORKER TIMEOUT", "Exception in worker process", "exited with code", "failed to boot")
    total = 0
    for index, api in enumerate(stack.apis):
        text = Path(f"/tmp/tsmetrics-load{index}-{api.port}.log").read_text(errors="replace")  # noqa: S108
        total += sum(text.count(sign) for sign in signs)
    return total


def scrape_consumer(port: int) -> dict:
    """The consumer's counters."""
    samples = scrape(port)
    return {
        name.removeprefix("tsmetrics_consumer_"): value
        for (name, _labels), value in samples.items()
        if name.endswith("_total")
    }


def main() -> None:
    """Run both phases and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--fault-seconds", type=float, default=90)
    parser.add_argument("--rate", type=int, default=10_000, help="samples per second")
    parser.add_argument("--threads", type=int, default=4, help="reading clients")
    parser.add_argument("--days", type=int, default=7, help="days of history seeded first")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per instance")
    parser.add_argument("--redis-down", type=float, default=3)
    parser.add_argument("--pg-down", type=float, default=5)
    parser.add_argument("--broker-down", type=float, default=5)
    parser.add_argument("--stop-rabbitmq", action="store_true")
    args = parser.parse_args()
    results = {"arguments": vars(args)}
    with running(args.days, args.workers) as stack:
        results["steady"] = phase(stack, "steady", args.seconds, args)
        if args.fault_seconds:
            results["faults"] = phase(stack, "faults", args.fault_seconds, args)
    out = save_results("load", results)
    log(f"figures saved to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
