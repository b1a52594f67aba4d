"""A database outage under a read load: how fast the API says 503, and how soon it serves again.

gunicorn (2 workers x 4 threads, authentication on) serves a small database
of its own through a TCP proxy (tests/support/pgproxy.py) that plays the
outage: it refuses new connections and cuts open ones, as a stopped server
would, while the machine's PostgreSQL keeps serving everyone else. 8 clients
read /metrics (with a bearer token) as fast as they can; one more asks
/readyz every 0.2 s. Issue 14 (10d) goals: during the outage p99 <= 0.5 s and
>= 90% of the normal request rate answered (503 problem+json with Retry-After),
recovery <= 1 s after the database is back, /readyz within HEALTH_TIMEOUT.

    PYTHONPATH=$PWD:$PWD/bench .venv/bin/python bench/bench_outage.py [--outage 10]
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
from datetime import timedelta

import psycopg
from common import (
    DEFAULT_ADMIN_URL,
    create_database,
    drop_database,
    gunicorn,
    log,
    print_summary,
    save_results,
)

from tests.support.helpers import at, store
from tests.support.outage import run_outage
from tests.support.pgproxy import DatabaseProxy
from tsmetrics.security import tokens
from tsmetrics.store import catalogue

PATH = (
    "/metrics?abTestName=feature_a&metricName=response_time&granularity=1h"
    "&start=2025-11-01T00:00:00Z&end=2025-11-11T00:00:00Z"
)
HEALTH_TIMEOUT = 0.8


def _seed(url: str) -> str:
    """Ten days of samples of one metric; a read token's text."""
    with psycopg.connect(url, autocommit=True) as conn:
        test = catalogue.ensure_abtest(conn, "feature_a", variants=["control", "treatment"])
        metric = catalogue.ensure_metric(conn, "response_time", unit="ms")
        rng, start = random.Random(5), at("2025-11-01 00:00:00")
        rows = [
            (
                start + timedelta(seconds=rng.uniform(0, 864_000)),
                rng.gauss(100, 20),
                test.id,
                metric.id,
                variant,
            )
            for variant in (0, 1)
            for _ in range(20_000)
        ]
        store(conn, rows)
        token, _record = tokens.issue(conn, "bench-outage", ["read"])
    return token


def _measure(url: str, token: str, args: argparse.Namespace) -> dict:
    """One outage through the proxy, under the clients' load; the figures."""
    env = {
        "TSMETRICS_THREADS": "4",
        "TSMETRICS_AUTH": "on",
        "TSMETRICS_RATE_LIMIT_READ": "",
        "TSMETRICS_HEALTH_TIMEOUT": str(HEALTH_TIMEOUT),
    }
    with DatabaseProxy() as proxy, gunicorn(proxy.url(url), label="outage", env=env) as server:
        log(f"{args.clients} clients; {args.outage:.0f} s outage after {args.normal:.0f} s")
        outage = run_outage(
            server.port,
            proxy,
            PATH,
            clients=args.clients,
            normal=args.normal,
            outage=args.outage,
            after=args.after,
            headers={"Authorization": f"Bearer {token}"},
        )
    figures = outage.report(normal_seconds=args.normal)
    figures["conditions"] = {**vars(args), "workers": 2, "threads": 4, "cpus": os.cpu_count()}
    figures["conditions"]["load_average"] = os.getloadavg()
    return figures


def _summary(figures: dict) -> list[str]:
    normal, during = figures["normal"], figures["outage"]
    readyz = figures["readyz_during_outage"]
    return [
        f"normal: {normal['per_second']:.0f} answers/s, p99 {normal['p99_ms']:.0f} ms",
        f"outage: {during['per_second']:.0f} answers/s "
        f"({figures['outage_rate_vs_normal']:.0%} of normal), p99 {during['p99_ms']:.0f} ms, "
        f"max {during['max_ms']:.0f} ms, statuses {during['statuses']}",
        f"503s well formed (problem+json, Retry-After): {figures['well_formed_503s']}",
        f"/readyz during the outage: max {readyz['max_ms']:.0f} ms, {readyz['statuses']}",
        f"recovery: first 200 {figures['first_200_after_up_s']} s after the database was "
        f"back, last error {figures['last_error_after_up_s']} s after",
        f"load average {figures['conditions']['load_average'][0]:.1f} on {os.cpu_count()} CPUs",
    ]


def main() -> None:
    """Measure one outage and save the figures to bench/out/outage-*.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--normal", type=float, default=10.0, help="seconds before the outage")
    parser.add_argument("--outage", type=float, default=10.0, help="seconds the database is away")
    parser.add_argument("--after", type=float, default=5.0, help="seconds measured after it")
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    name = f"tsm_outage_{secrets.token_hex(3)}"
    url = create_database(DEFAULT_ADMIN_URL, name)
    try:
        figures = _measure(url, _seed(url), args)
    finally:
        drop_database(DEFAULT_ADMIN_URL, name)
    print_summary(_summary(figures), save_results("outage", figures))


if __name__ == "__main__":
    main()
