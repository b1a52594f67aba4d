"""`tsmetrics maintain`: one pass drops exactly what retention says, answers stay honest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pytest
from click.testing import CliRunner

from tests.support.helpers import small_app
from tsmetrics.cli import main as cli
from tsmetrics.granularity import GRANULARITIES
from tsmetrics.maintenance import _rows_of, cutoff, run_pass
from tsmetrics.retention import parse_rollups
from tsmetrics.settings import load_settings
from tsmetrics.store import catalogue, horizons, partitions
from tsmetrics.store.samples import SampleColumns, insert_samples

RETAIN_RAW = "30d"
RETAIN_ROLLUPS = "1m:7d,5m:20d,30m:45d,1h:60d,6h:90d"  # 1d: forever
DAYS = 120
PROBLEM = "application/problem+json"


def _settings(**extra) -> dict:
    return load_settings({"RETAIN_RAW": RETAIN_RAW, "RETAIN_ROLLUPS": RETAIN_ROLLUPS, **extra})


@pytest.fixture(autouse=True)
def forget_horizons(db):
    """Tests that follow without the `db` fixture (a module's seeded data) must see no horizon."""
    yield
    db.execute("DELETE FROM data_horizons")


@pytest.fixture
def uncached_client(database_url):
    """A test client of the app with the query cache off (answers read the rollups)."""
    app = small_app(database_url, CACHE="off")
    yield app.test_client()
    app.extensions["tsmetrics.pool"].close()


@pytest.fixture
def history(db, feature_a):
    """A sample every 20 minutes per variant over 120 days, backdated, through the write path."""
    return _write_history(db, *feature_a)


@pytest.fixture
def sketched_history(db, feature_a):
    """`history` of a distribution metric: the rollups keep sketches too."""
    test, metric = feature_a
    db.execute("UPDATE metrics SET distribution = true WHERE id = %s", (metric.id,))
    return _write_history(db, test, metric)


def _write_history(db, test, metric) -> datetime:
    now = datetime.now(UTC)
    rng = np.random.default_rng(15)
    first = now.timestamp() - DAYS * 86400
    seconds = np.arange(first, now.timestamp() - 600, 1200.0)
    for variant in (0, 1):
        values = np.round(rng.normal(100 + 5 * variant, 10, len(seconds)), 2)
        insert_samples(
            db, SampleColumns.from_seconds(seconds + variant, values, test.id, metric.id, variant)
        )
    return now


def _count(db, query: str, *params) -> int:
    return db.execute(query, params).fetchone()[0]


def _expected_drops(db, now: datetime) -> tuple[int, dict[str, int]]:
    raw = _count(db, "SELECT count(*) FROM samples WHERE time < %s", cutoff(now, 30 * 86400))
    rollups = {}
    for name, keep in parse_rollups(RETAIN_ROLLUPS).items():
        if keep.seconds is not None:
            rollups[name] = _count(
                db,
                "SELECT count(*) FROM rollups WHERE bucket_seconds = %s AND bucket < %s",
                GRANULARITIES[name],
                cutoff(now, keep.seconds),
            )
    return raw, rollups


def _answers(client, now: datetime) -> dict:
    """/metrics over the last days at 1m, and comparisons over a recent and an old window."""
    day = 86400
    midnight = int(now.timestamp()) // day * day
    recent = f"start={_iso(now - timedelta(days=5))}&end={_iso(now)}"
    old = f"start={_iso(midnight - 100 * day)}&end={_iso(midnight - 80 * day)}"
    base = "/metrics?abTestName=feature_a&metricName=response_time"
    return {
        "metrics_1m": client.get(f"{base}&granularity=1m&{recent}").get_json(),
        "metrics_1d": client.get(f"{base}&granularity=1d&{old}").get_json(),
        "compare_recent": client.get(
            f"/abtest/feature_a/compare?metric=response_time&{recent}"
        ).get_json(),
        "compare_old": client.get(
            f"/abtest/feature_a/compare?metric=response_time&{old}"
        ).get_json(),
    }


def _iso(moment) -> str:
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_one_pass_drops_exactly_what_retention_says_and_a_second_does_nothing(
    db, history, uncached_client
):
    now = history
    before = _answers(uncached_client, now)
    samples, rollups = (
        _count(db, "SELECT count(*) FROM samples"),
        _count(db, "SELECT count(*) FROM rollups"),
    )
    raw_drop, rollup_drop = _expected_drops(db, now)
    assert raw_drop > 0 and all(rollup_drop.values())

    report = run_pass(db, _settings(), now=now)

    assert report.layout == "partitioned"
    assert report.raw_rows_dropped == raw_drop
    assert report.rollup_rows_dropped == rollup_drop
    assert _count(db, "SELECT count(*) FROM samples") == samples - raw_drop
    assert _count(db, "SELECT count(*) FROM rollups") == rollups - sum(rollup_drop.values())
    assert _expected_drops(db, now) == (0, dict.fromkeys(rollup_drop, 0))
    raw_cut = cutoff(now, 30 * 86400).date()
    days = [p.day for p in partitions.list_sample_partitions(db)]
    assert min(days) == raw_cut and report.raw_partitions_dropped > 0
    assert set(horizons.read_horizons(db)) == {"raw", *rollup_drop}
    assert _answers(uncached_client, now) == before

    again = run_pass(db, _settings(), now=now)
    assert again.did_nothing and again.raw_partitions_dropped == 0
    assert _count(db, "SELECT count(*) FROM samples") == samples - raw_drop


def test_reads_stay_honest_about_dropped_granularities(db, history, uncached_client):
    now = history
    run_pass(db, _settings(), now=now)
    start = _iso(now - timedelta(days=50))
    base = f"/metrics?abTestName=feature_a&metricName=response_time&start={start}"
    refused = uncached_client.get(f"{base}&end={_iso(now)}&granularity=5m")
    assert refused.status_code == 409 and refused.mimetype == PROBLEM
    detail = refused.get_json()["detail"]
    assert "5m for 20d" in detail and "TSMETRICS_RETAIN_ROLLUPS" in detail
    assert "the finest granularity still available from there is 1h" in detail
    assert refused.get_json()["errors"] == {"granularity": [detail]}
    # auto would pick 1h for 50 days (1,200 buckets > 1,000): 6h; for 2 days from
    # 50 days back, 5m fits the bucket budget but is dropped there: 1h.
    short = f"{base}&end={_iso(now - timedelta(days=48))}&granularity=auto"
    assert uncached_client.get(short).get_json()["granularity"] == "1h"
    recent = _iso(now - timedelta(days=2))
    fine = uncached_client.get(
        f"/metrics?abTestName=feature_a&metricName=response_time&start={recent}"
        f"&end={_iso(now)}&granularity=auto"
    )
    assert fine.get_json()["granularity"] == "5m"
    # The dashboard reads the same path: an old range is drawn from what is kept,
    # and a dropped granularity asked for by name is refused with the same reason.
    page = f"/dashboard/abtests/feature_a/charts/response_time?start={start}&end={_iso(now)}"
    drawn = uncached_client.get(page)
    assert drawn.status_code == 200 and "6h" in drawn.get_data(as_text=True)
    refused_page = uncached_client.get(page + "&granularity=5m", headers={"Accept": "text/html"})
    assert refused_page.status_code == 409 and refused_page.mimetype == "text/html"
    assert "the finest granularity still available" in refused_page.get_data(as_text=True)


def test_an_old_comparison_window_is_widened_to_the_kept_buckets(db, history, uncached_client):
    now = history
    run_pass(db, _settings(), now=now)
    start = now - timedelta(days=70, minutes=17)
    body = uncached_client.get(
        f"/abtest/feature_a/compare?metric=response_time&start={_iso(start)}&end={_iso(now)}"
    ).get_json()
    # 70 days back only the 6h and 1d rollups are left: the window starts on 6 h.
    shown = datetime.fromisoformat(body["start"].replace("Z", "+00:00"))
    assert shown.timestamp() % 21600 == 0 and shown <= start < shown + timedelta(hours=6)
    counts = [v["count"] for v in body["metrics"][0]["variants"]]
    expected = [
        _count(
            db,
            "SELECT count(*) FROM rollups WHERE bucket_seconds = 86400 AND variant = %s"
            " AND bucket >= %s",
            0,
            shown,
        )
    ]
    assert expected[0] > 0
    # Exact: the counts are those of the raw samples in the shown window (the raw
    # samples older than 30 days are gone, so sum the kept buckets that tile it).
    assert sum(counts) == _count(
        db,
        "SELECT sum(n) FROM rollups WHERE bucket_seconds = 60 AND variant = -1 AND bucket >= %s",
        cutoff(now, 7 * 86400),
    ) + _count(
        db,
        "SELECT sum(n) FROM rollups WHERE bucket_seconds = 21600 AND variant = -1"
        " AND bucket >= %s AND bucket < %s",
        shown,
        cutoff(now, 7 * 86400),
    )


def test_an_old_window_has_percentiles_of_the_very_samples_its_counts_cover(
    db, sketched_history, uncached_client
):
    now = sketched_history
    run_pass(db, _settings(), now=now)
    start = now - timedelta(days=70, minutes=17)
    query = f"start={_iso(start)}&end={_iso(now)}&metric=response_time&quantiles=p50,p95"
    body = uncached_client.get(f"/abtest/feature_a/compare?{query}").get_json()
    (metric,) = body["metrics"]
    counts = [v["count"] for v in metric["variants"]]
    assert metric["quantiles"]["refusal"] is None
    assert [v["count"] for v in metric["quantiles"]["variants"]] == counts
    assert sum(counts) > 70 * 72 * 2 * 0.99  # about 72 samples a day per variant


def test_rows_in_the_default_partition_are_moved_to_their_own(db, feature_a):
    test, metric = feature_a
    ahead = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) + timedelta(
        days=9
    )
    db.execute(
        "INSERT INTO samples SELECT %s + i * interval '1 second', i, %s, %s, 0"
        " FROM generate_series(1, 50) AS i",
        [ahead, test.id, metric.id],
    )
    assert _count(db, "SELECT count(*) FROM samples_default") == 50
    report = run_pass(db, _settings())
    assert report.moved_rows == 50
    assert _count(db, "SELECT count(*) FROM samples_default") == 0
    where = db.execute("SELECT DISTINCT tableoid::regclass::text FROM samples").fetchall()
    assert where == [(f"samples_{ahead:%Y%m%d}",)]


def test_a_second_maintainer_skips_its_pass(db, database_url):
    with psycopg.connect(database_url, autocommit=True) as other:
        assert horizons.try_maintenance_lock(other)
        assert run_pass(db, _settings()).skipped
        horizons.release_maintenance_lock(other)
    assert not run_pass(db, _settings()).skipped


def test_the_command_runs_a_pass_and_refuses_a_bad_retention(db, database_url, monkeypatch):
    monkeypatch.setenv("TSMETRICS_DATABASE_URL", database_url)
    monkeypatch.setenv("TSMETRICS_LOG_FORMAT", "text")
    monkeypatch.setenv("TSMETRICS_RETAIN_ROLLUPS", "1m:14d,5m:7d")
    bad = CliRunner().invoke(cli, ["maintain"])
    assert bad.exit_code == 2 and "less than the finer 1m" in bad.output
    monkeypatch.setenv("TSMETRICS_RETAIN_ROLLUPS", RETAIN_ROLLUPS)
    assert CliRunner().invoke(cli, ["maintain", "--every", "0x"]).exit_code == 2
    result = CliRunner().invoke(cli, ["maintain"])
    assert result.exit_code == 0, result.output


def test_on_timescaledb_raw_samples_are_left_to_its_retention_policy(db):
    if partitions.samples_layout(db) != "hypertable":
        pytest.skip("samples is not a TimescaleDB hypertable here (no timescaledb extension)")
    report = run_pass(db, _settings())
    assert report.layout == "hypertable" and report.raw_partitions_dropped == 0
    jobs = db.execute(
        "SELECT count(*) FROM timescaledb_information.jobs"
        " WHERE hypertable_name = 'samples' AND proc_name = 'policy_retention'"
    ).fetchone()
    assert jobs == (1,)


def test_a_long_transaction_on_samples_defers_the_drop_to_the_next_pass(
    db, feature_a, database_url
):
    test, metric = feature_a
    old = datetime.now(UTC) - timedelta(days=40)
    insert_samples(db, SampleColumns.from_rows([(old.timestamp(), 1.0, test.id, metric.id, 0)]))
    with psycopg.connect(database_url) as reader:
        reader.execute("SELECT count(*) FROM samples")  # holds its lock until it ends
        waited = run_pass(db, _settings())
        assert waited.raw_partitions_dropped == 0 and not waited.skipped
    assert _count(db, "SELECT count(*) FROM samples") == 1
    done = run_pass(db, _settings())
    assert done.raw_partitions_dropped == 1 and done.raw_rows_dropped == 1


def test_a_days_rows_are_counted_from_the_rollups_or_else_by_count(db, feature_a):
    """What a pass logs as dropped: the rollups' exact count (no read of the partition), at the
    coarsest granularity kept for that day; count(*) where every granularity is gone."""
    test, metric = feature_a
    other = catalogue.ensure_metric(db, "cpu_usage", unit="%")
    day = (datetime.now(UTC) - timedelta(days=3)).date()
    start = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
    rng = np.random.default_rng(16)
    for metric_id, size in ((metric.id, 700), (other.id, 300)):
        seconds = np.sort(rng.uniform(start - 3600, start + 86400 + 3600, size))
        variants = rng.integers(0, 2, size).astype(np.int16)
        insert_samples(
            db,
            SampleColumns.from_seconds(
                seconds, rng.normal(100, 9, size), test.id, metric_id, variants
            ),
        )
    partition = next(p for p in partitions.list_sample_partitions(db) if p.day == day)
    exact = _count(db, f"SELECT count(*) FROM {partition.name}")
    assert 0 < exact < 1000
    for seconds in GRANULARITIES.values():
        assert partitions.rolled_up_count(db, day, seconds) == exact
    assert _rows_of(db, partition, {}) == exact
    gone = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    every = {name: horizons.Horizon(name, gone, "1d") for name in GRANULARITIES}
    assert _rows_of(db, partition, every) == exact  # by count(*)
