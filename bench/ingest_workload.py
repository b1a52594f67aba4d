"""What the ingestion benchmark sends and where it lands: simulator batches, their rows, tables."""

from __future__ import annotations

import time

import numpy as np
import psycopg

from tsmetrics.demo import simulator
from tsmetrics.ingest import batch_format
from tsmetrics.ingest.catalogue_cache import load_catalogue
from tsmetrics.ingest.limits import Limits
from tsmetrics.ingest.producer import encode_batch
from tsmetrics.store import samples as sample_store

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


def prepare(
    url: str, samples: int, batch_size: int, *, full_only: bool = False
) -> tuple[list[bytes], int, sample_store.SampleColumns]:
    """Encoded bodies, their total, and the same rows as SampleColumns for the raw COPY."""
    made = make_batches(samples, batch_size, full_only=full_only)
    bodies = [encode_batch(*batch) for batch in made]
    with psycopg.connect(url) as conn:
        catalogue = load_catalogue(conn)
    limits = Limits(max_bytes=10**8, max_age_seconds=10**9)
    columns = sample_store.SampleColumns.concat(
        [batch_format.parse_batch(body, catalogue, limits).samples for body in bodies]
    )
    return bodies, len(columns), columns


def reset(url: str) -> None:
    """Empty the sample tables between runs (the catalogue stays)."""
    with psycopg.connect(url) as conn:
        conn.execute("TRUNCATE samples, rollups, series, ingested_batches")
