"""Backup and restore as docs/deployment.md says; the restored database answers alike (issue 15).

A database seeded through the real insert path is dumped with pg_dump
(custom format) and restored with pg_restore into a new database, by the
binaries of the server's major version; the app on the restored database,
sharing the original's Redis cache once its keys are flushed as the
documentation says, answers /metrics, the comparison and the overview exactly
as the original did. Nothing here knows the tables' layout: whatever
partitions or hypertables the schema has, pg_dump and pg_restore carry them.

It also shows why the flush is a step: a write to the original after the dump
and one to the restored database take the same version stamp, so before the
flush the restored database's app answers that day from the original's cache.
"""

from __future__ import annotations

import json
import secrets
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
import pytest
import redis

from tests.support.database import fresh_database
from tests.support.helpers import small_app, store
from tests.support.server_binaries import server_bin_dir
from tests.support.services import port_open, require_service
from tsmetrics.store import catalogue, schema

REDIS_URL = "redis://127.0.0.1:6379/0"
DAYS = 3
# Whole days just before today: recent (within any retention) and wholly past (cached whole).
START = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=4)
LATE = START + timedelta(days=1, hours=5, seconds=30)  # written after the dump, on both sides


def _span(first: datetime, days: int) -> str:
    last = first + timedelta(days=days)
    return f"start={first:%Y-%m-%dT%H:%M:%SZ}&end={last:%Y-%m-%dT%H:%M:%SZ}"


WINDOW = _span(START, DAYS)
DAY_TWO = _span(START + timedelta(days=1), 1)
READS = [
    f"/metrics?abTestName=exp&metricName=latency&granularity=1m&{WINDOW}",
    f"/metrics?abTestName=exp&metricName=latency&granularity=1h&variant=treatment&{WINDOW}",
    f"/metrics?abTestName=exp&metricName=clicks&granularity=auto&{WINDOW}&format=csv",
    f"/abtest/exp/compare?{WINDOW}&correction=holm",
    f"/abtest/exp/compare/over-time?{WINDOW}&granularity=6h&metric=latency",
    "/overview",
    "/overview?format=csv",
]


def _binary(conn: psycopg.Connection, name: str) -> str:
    """pg_dump or pg_restore of the server's major version (docs/deployment.md)."""
    folder = server_bin_dir(conn, name)
    if folder is None:
        major = conn.info.server_version // 10_000
        pytest.skip(f"no {name} of the server's major version {major}")
    return str(folder / name)


def _run(*command: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, f"{shlex.join(command)}:\n{done.stdout}\n{done.stderr}"


def _seed(url: str) -> None:
    """Two metrics of exp over DAYS days, a sample a minute each, through insert_samples."""
    with psycopg.connect(url, autocommit=True) as conn:
        test = catalogue.ensure_abtest(
            conn, "exp", variants=["control", "treatment"], title="Exp", status="running"
        )
        latency = catalogue.ensure_metric(conn, "latency", unit="ms")
        clicks = catalogue.ensure_metric(conn, "clicks", unit="", kind="sum", higher_is_better=True)
        rng = np.random.default_rng(15)
        minutes = DAYS * 1440
        values = zip(rng.normal(180, 40, minutes), rng.poisson(3, minutes), strict=True)
        rows = []
        for m, (x, c) in enumerate(values):
            moment = START + timedelta(minutes=m, seconds=11)
            rows.append((moment, round(float(x), 3), test.id, latency.id, m % 2))
            rows.append((moment, float(c), test.id, clicks.id, (m // 7) % 2))
        store(conn, rows)


def _late_sample(url: str, value: float) -> None:
    """One more latency sample at LATE, through the same write path."""
    with psycopg.connect(url, autocommit=True) as conn:
        test, metric = catalogue.get_abtest_and_metric(conn, "exp", "latency")
        store(conn, [(LATE, value, test.id, metric.id, 0)])


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A cache prefix of this test's own on the machine's Redis; its keys deleted afterwards."""
    require_service(port_open("127.0.0.1", 6379), "Redis is not running on 127.0.0.1:6379")
    prefix = f"tsmetrics-restore-{secrets.token_hex(4)}"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{prefix}:*"):
        client.unlink(key)
    client.close()


class _Api:
    """An app on one database, caching in the shared Redis under `prefix` (or not at all)."""

    def __init__(self, url: str, prefix: str, cache: str = "on") -> None:
        self.app = small_app(
            url, REDIS_URL=REDIS_URL, CACHE_PREFIX=prefix, CACHE=cache, RATE_LIMIT_READ=""
        )
        self.client = self.app.test_client()

    def read(self, path: str) -> bytes:
        """The body of a 200 answer, with the overview's `since` (an hour of now) left out."""
        response = self.client.get(path)
        assert response.status_code == 200, (path, response.get_data(as_text=True))
        body = response.get_data()
        if path.startswith("/overview") and response.mimetype == "text/csv":
            return b"\n".join(b",".join(line.split(b",")[:6]) for line in body.splitlines())
        if path.startswith("/overview"):
            return json.dumps(response.get_json() | {"since": None}).encode()
        return body

    def close(self) -> None:
        """Close its pool."""
        self.app.extensions["tsmetrics.pool"].close()


def _restore(pg_restore: str, dump: Path, target: str, timescale: bool) -> None:
    """Step 2 of the restore, as docs/deployment.md gives it, into the (new, empty) target."""
    if not timescale:
        _run(pg_restore, "--no-owner", "--exit-on-error", f"--dbname={target}", str(dump))
        return
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        conn.execute("SELECT timescaledb_pre_restore()")
    _run(pg_restore, "--no-owner", f"--dbname={target}", str(dump))
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute("SELECT timescaledb_post_restore()")


def _flush(prefix: str) -> None:
    """Step 4, the documented command, with this test's prefix."""
    if shutil.which("redis-cli") is None:
        pytest.skip("no redis-cli: the documented flush runs it")
    command = (
        f"redis-cli -u {REDIS_URL} --scan --pattern '{prefix}:*'"
        f" | xargs -r redis-cli -u {REDIS_URL} unlink"
    )
    _run("bash", "-o", "pipefail", "-c", command)


def test_a_restored_database_answers_as_the_original(database_server, redis_prefix, tmp_path):
    dump = tmp_path / "tsmetrics.dump"
    day_two = f"/metrics?abTestName=exp&metricName=latency&granularity=1m&{DAY_TWO}"
    with (
        fresh_database(database_server, "tsm_backup") as source,
        fresh_database(database_server, "tsm_restored") as target,
    ):
        with psycopg.connect(source) as conn:
            schema.migrate(conn)
            pg_dump, pg_restore = _binary(conn, "pg_dump"), _binary(conn, "pg_restore")
            timescale = schema.timescaledb_state(conn) == "ready"
        _seed(source)
        original, restored = _Api(source, redis_prefix), _Api(target, redis_prefix)
        try:
            before = [original.read(path) for path in READS]
            assert b"latency" in before[0] and b"clicks" in before[3]
            _run(pg_dump, "--format=custom", f"--file={dump}", source)
            _restore(pg_restore, dump, target, timescale)
            with psycopg.connect(target) as conn:
                schema.migrate(conn)  # step 3: nothing to apply to a dump of this release
            _flush(redis_prefix)
            # Read from the restored rollups (the cache was flushed), then from the cache.
            assert [restored.read(path) for path in READS] == before
            assert [restored.read(path) for path in READS] == before

            # Why the flush: a write on each side after the dump takes the same stamp.
            _late_sample(source, 1000.0)
            stale = original.read(day_two)
            _late_sample(target, 2.0)
            assert restored.read(day_two) == stale
            # Flushed, and started again (step 5: its in-process cache holds the stale day too).
            _flush(redis_prefix)
            restarted, uncached = _Api(target, redis_prefix), _Api(target, "-", cache="off")
            fresh = restarted.read(day_two)
            assert fresh == uncached.read(day_two)
            assert b'"h":1000.0' in stale and b'"h":1000.0' not in fresh
            restarted.close()
            uncached.close()
        finally:
            original.close()
            restored.close()
