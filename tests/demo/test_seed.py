"""Demo data: realistic shape, idempotent, and the sketch's request works on it."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from tests.support.helpers import at
from tsmetrics.demo import synthetic
from tsmetrics.demo.seed import seed

NOW = at("2025-11-11 12:00:00")


def _seed(database_url, now=NOW, **options):
    lines = []
    report = seed(lambda: psycopg.connect(database_url), now=now, out=lines.append, **options)
    return report, lines


def _count(db):
    return db.execute("SELECT count(*) FROM samples").fetchone()[0]


def test_seed_creates_the_demo_catalogue_and_data(db, database_url):
    report, lines = _seed(database_url, days=2, interval=60)
    per_series_ticks = 2 * 86_400 // 60
    assert report.samples == _count(db) == 2 * 4 * per_series_ticks
    assert report.rate > 0
    assert "samples/s" in lines[-1] and "rollups included" in lines[-1]
    tests = db.execute("SELECT name, status, variants FROM abtests ORDER BY name").fetchall()
    assert tests == [
        ("feature_a", "running", ["control", "treatment"]),
        ("feature_b", "running", ["control", "treatment"]),
    ]
    metrics = db.execute("SELECT name, unit, kind FROM metrics ORDER BY name").fetchall()
    assert metrics == [
        ("add_to_cart", "clicks", "sum"),
        ("cpu_usage", "%", "mean"),
        ("ram_usage", "MB", "mean"),
        ("response_time", "ms", "mean"),
    ]


def test_running_seed_twice_does_not_double_the_data(db, database_url):
    _seed(database_url, days=1, interval=60)
    first = _count(db)
    report, lines = _seed(database_url, days=1, interval=60)
    assert report.samples == 0 and _count(db) == first
    assert "up to date" in lines[-1]


def test_a_later_seed_tops_up_to_now(db, database_url):
    _seed(database_url, days=1, interval=60)
    first = _count(db)
    later = NOW + timedelta(hours=1)
    _seed(database_url, days=1, interval=60, now=later)
    assert _count(db) == first + 2 * 4 * 60
    duplicates = db.execute(
        "SELECT count(*) FROM (SELECT 1 FROM samples GROUP BY time, abtest_id, metric_id"
        " HAVING count(*) > 1) d"
    ).fetchone()[0]
    assert duplicates == 0


def test_a_top_up_says_so_and_counts_what_it_adds(db, database_url):
    _seed(database_url, days=1, interval=60)
    # 61 s later, off the minute: two more ticks per series, not one.
    report, lines = _seed(database_url, days=1, interval=60, now=NOW + timedelta(seconds=61))
    assert report.samples == 2 * 4 * 2
    assert lines[0].startswith(f"Topping up {report.samples} demo samples after the newest one")
    for line in lines:
        progress = re.search(r"([\d,]+) samples of ([\d,]+) \((\d+)%\)", line)
        if progress:
            done, total = (int(n.replace(",", "")) for n in progress.groups()[:2])
            assert done <= total and int(progress[3]) <= 100, line
    assert lines[-1].startswith(f"Topped up {report.samples} samples")


def test_reset_replaces_instead_of_adding(db, database_url):
    _seed(database_url, days=1, interval=60)
    first = _count(db)
    _seed(database_url, days=1, interval=60, reset=True)
    assert _count(db) == first
    rollup_total = db.execute(
        "SELECT sum(n) FROM rollups WHERE bucket_seconds = 86400 AND variant = -1"
    ).fetchone()[0]
    assert rollup_total == first


def test_treatment_effect_is_in_the_data(db, database_url):
    _seed(database_url, days=2, interval=20)
    means = dict(
        db.execute(
            "SELECT variant, avg(value) FROM samples s JOIN abtests a ON a.id = s.abtest_id"
            " JOIN metrics m ON m.id = s.metric_id"
            " WHERE a.name = 'feature_a' AND m.name = 'response_time' GROUP BY variant"
        ).fetchall()
    )
    assert 0.85 < means[1] / means[0] < 0.95  # the documented -10 %


def test_generation_is_deterministic():
    ids = {
        "abtest_ids": {"feature_a": 1, "feature_b": 2},
        "metric_ids": {m.name: i for i, m in enumerate(synthetic.METRICS, start=1)},
    }
    first = synthetic.generate(0, 600, 2, **ids)
    again = synthetic.generate(0, 600, 2, **ids)
    assert (first.value == again.value).all()
    assert len(first) == 2 * 4 * 300


def test_the_sketch_example_request_works_verbatim(client, database_url):
    _seed(database_url, days=1, interval=60)
    response = client.get(
        "/metrics?abTestName=feature_a&metricName=response_time"
        "&start=2025-10-13T12:00:00Z&end=2025-11-11T12:00:00Z&granularity=5m"
    )
    body = response.get_json()
    assert response.status_code == 200
    assert body["count"] == 288 and body["isComplete"] is True
    assert set(body["datapoints"][0]) == {"t", "a", "l", "h"}
    assert body["datapoints"][0]["t"] == int(at("2025-11-10 12:00:00").timestamp())


@pytest.mark.slow
def test_the_sketch_window_is_seeded_once_and_never_overlaps(db, database_url, client):
    later = at("2026-11-27 12:00:00")
    report, _ = _seed(database_url, days=1, interval=600, sketch_window=True, now=later)
    window_samples = 2 * 4 * (29 * 86_400 // 30)
    assert report.samples == 2 * 4 * (86_400 // 600) + window_samples
    again, _ = _seed(database_url, days=1, interval=600, sketch_window=True, now=later)
    assert again.samples == 0
    in_window = db.execute(
        "SELECT count(*) FROM samples WHERE time >= '2025-10-13 12:00+00'"
        " AND time < '2025-11-11 12:00+00'"
    ).fetchone()[0]
    assert in_window == window_samples
    # docs/sketch.md shows the sketch's request on the demo data: it must stay true.
    page = (Path(__file__).resolve().parents[2] / "docs" / "sketch.md").read_text()
    shown = json.loads(
        page.split("With `&limit=2` appended")[1].split("```json")[1].split("```")[0]
    )
    response = client.get(
        "/metrics?abTestName=feature_a&metricName=response_time"
        "&start=2025-10-13T12:00:00Z&end=2025-11-11T12:00:00Z&granularity=5m&limit=2"
    )
    assert response.get_json() == shown
    full = client.get(
        "/metrics?abTestName=feature_a&metricName=response_time"
        "&start=2025-10-13T12:00:00Z&end=2025-11-11T12:00:00Z&granularity=5m"
    ).get_json()
    assert full["count"] == 8352 and full["isComplete"] is True


def test_the_sketch_window_is_skipped_when_the_recent_range_covers_it(db, database_url):
    # NOW, 2025-11-11 12:00: the recent range overlaps the window's end.
    report, _ = _seed(database_url, days=2, interval=600, sketch_window=True)
    assert report.samples == 2 * 4 * (2 * 86_400 // 600)
