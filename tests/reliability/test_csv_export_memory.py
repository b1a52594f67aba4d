"""A 30-day 1-minute CSV export keeps a real gunicorn worker's memory flat (issue 15).

The worker's peak resident set (VmHWM) is read after exports of 8 days (11,520
rows, two pages) and then after exports of 30 days (43,200 rows, five pages).
Streamed page by page, the 30-day export needs what the 8-day one needs: one
page at a time. Read whole, its 31,680 more buckets alone would take over 11 MB
as Python objects (at least 350 bytes each: a dict of four numbers), and its
CSV text 1.7 MB more. One thread and the query cache off, so that what is
measured is the export, not which thread's malloc arena served it, nor the
cache (whose memory TSMETRICS_CACHE_LOCAL_MAX_POINTS bounds on its own).
Figures of the same measurement with the cache on: bench/bench_csv_export.py.
"""

from __future__ import annotations

import urllib.request
from datetime import timedelta
from pathlib import Path

import numpy as np

from tests.reliability.servers import Gunicorn
from tests.support.helpers import at, store
from tsmetrics.store import catalogue

END = at("2025-11-01 00:00:00")
ALLOWED_GROWTH_MB = 6.0


def _export(server: Gunicorn, days: int) -> int:
    """Rows of one CSV export of the `days` before END (the header not counted)."""
    start = (END - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    url = (
        f"{server.url}/metrics?abTestName=export&metricName=latency&granularity=1m"
        f"&start={start}&end=2025-11-01T00:00:00Z&format=csv"
    )
    with urllib.request.urlopen(url, timeout=120) as response:  # noqa: S310 - our server
        assert response.headers.get_content_type() == "text/csv"
        assert response.headers["Transfer-Encoding"] == "chunked"  # streamed, no length
        return sum(1 for _ in response) - 1


def _peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM for pid {pid}")


def _worker(server: Gunicorn) -> int:
    (pid,) = (
        (Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")).read_text().split()
    )
    return int(pid)


def test_a_30_day_export_needs_no_more_memory_than_an_8_day_one(tmp_path, database_url, db):
    test = catalogue.ensure_abtest(db, "export", variants=["control", "treatment"])
    metric = catalogue.ensure_metric(db, "latency", unit="ms")
    minutes = 30 * 1440
    values = np.round(np.random.default_rng(15).normal(180, 40, minutes), 3)
    first = END - timedelta(days=30)
    store(
        db,
        [
            (first + timedelta(minutes=m, seconds=7), float(values[m]), test.id, metric.id, m % 2)
            for m in range(minutes)
        ],
    )
    server = Gunicorn(tmp_path / "api.log", workers=1, DATABASE_URL=database_url, CACHE="off")
    server.env["TSMETRICS_THREADS"] = "1"
    server.start()
    try:
        worker = _worker(server)
        assert [_export(server, 8) for _ in range(3)] == [8 * 1440] * 3
        small = _peak_mb(worker)
        assert [_export(server, 30) for _ in range(3)] == [minutes] * 3
        large = _peak_mb(worker)
    finally:
        server.stop()
    print(f"worker peak RSS: {small:.1f} MB after 8-day exports, {large:.1f} MB after 30-day ones")
    assert large - small < ALLOWED_GROWTH_MB, (small, large)
