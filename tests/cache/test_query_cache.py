"""The query cache: the database's answers, a late sample seen at once, exact invalidation."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from tests.support.cache_data import BASE, END, START, TEN_DAYS, delta, fill, lookups
from tests.support.helpers import at, store
from tsmetrics import cache
from tsmetrics.analysis import compare
from tsmetrics.cache import QueryCache, bodies, chunks
from tsmetrics.cache.backends import LocalStore
from tsmetrics.granularity import GRANULARITIES
from tsmetrics.store import buckets
from tsmetrics.store.buckets import ALL_VARIANTS, SeriesQuery


def _query(test, metric, granularity, start, end, variant=None, skip=0, limit=10_000):
    """A resolved query, as tsmetrics.series makes them (start floored, end whole)."""
    seconds = GRANULARITIES[granularity]
    return SeriesQuery(
        abtest=test,
        metric=metric,
        variant=None if variant is None else test.variants[variant],
        variant_index=ALL_VARIANTS if variant is None else variant,
        granularity=granularity,
        start=int(start) // seconds * seconds,
        end=int(end),
        skip=skip,
        limit=limit,
    )


@pytest.fixture
def filled(db, feature_a):
    """Ten days of irregular samples, both variants."""
    return fill(db, feature_a)


def test_a_late_sample_is_seen_at_once(client, filled, database_url):
    test, metric = filled
    first = client.get(BASE + TEN_DAYS + "&granularity=1h").get_json()
    before, bodies = lookups(), lookups("bodies")
    assert client.get(BASE + TEN_DAYS + "&granularity=1h").get_json() == first
    assert delta(before, lookups())["miss"] == 0
    assert delta(bodies, lookups("bodies"))["local"] == 1  # the rendered body, as it was
    # Another process (a consumer) writes a sample into the past, far below the minimum.
    with psycopg.connect(database_url, autocommit=True) as other:
        store(other, [(at("2025-11-03 10:20:00"), -500.0, test.id, metric.id, 1)])
    before = lookups()
    second = client.get(BASE + TEN_DAYS + "&granularity=1h").get_json()
    bucket = int(at("2025-11-03 10:00:00").timestamp())
    [point] = [p for p in second["datapoints"] if p["t"] == bucket]
    assert point["l"] == -500.0
    # Only the chunk the write touched was read again.
    planned = chunks.plan(_query(test, metric, "1h", START.timestamp(), END.timestamp()), 2e9)
    assert len(planned) == 2
    assert delta(before, lookups()) == {"local": 1, "redis": 0, "miss": 1}


def test_invalidation_is_per_day_and_per_metric(client, filled, db):
    test, metric = filled
    client.get(BASE + TEN_DAYS + "&granularity=5m")  # ten chunks of one day each
    before = lookups()
    store(db, [(at("2025-11-05 12:00:00"), 1.0, test.id, metric.id, 0)])
    client.get(BASE + TEN_DAYS + "&granularity=5m")
    assert delta(before, lookups()) == {"local": 9, "redis": 0, "miss": 1}


def _compare_with_database(db, test, metric, rng, now):
    granularity = rng.choice(list(GRANULARITIES))
    seconds = GRANULARITIES[granularity]
    start = int(START.timestamp()) + rng.randrange(0, 10 * 86400) // seconds * seconds
    end = start + rng.randrange(1, 12 * 86400)
    variant = rng.choice([None, 0, 1])
    skip, limit = rng.choice([(0, 10_000), (0, 7), (rng.randrange(50), rng.randrange(1, 300))])
    query = _query(test, metric, granularity, start, end, variant, skip, limit)
    query_cache = QueryCache(LocalStore(10**6), ttl=(60, 60))
    # Cold; then the body kept; then another page of the same range, from the chunks.
    other = replace(query, limit=query.limit + 1)
    for asked in (query, query, other):
        before = lookups()
        (answer,) = query_cache.answers(db, [asked], now=now)
        expected = bodies.render(asked, buckets.metric_buckets(db, asked))
        assert answer.body == expected.body, asked
    through_chunks = chunks.plan(query, now) is not None
    assert delta(before, lookups())["miss"] == 0 or not through_chunks
    return through_chunks


def test_cached_pages_equal_the_database(db, filled):
    test, metric = filled
    rng = random.Random(11)
    # "Now" inside the data: chunks on both sides of it, the live one cached in part.
    nows = ("2026-12-01 00:00:00", "2025-11-06 13:37:00", "2025-11-06 00:00:00")
    for now in (at(moment).timestamp() for moment in nows):
        through_cache = [_compare_with_database(db, test, metric, rng, now) for _ in range(50)]
        # The others are pages far shorter than their range, read directly by design.
        assert sum(through_cache) >= 25


def test_reads_without_an_app_bypass_the_cache(db, filled):
    test, metric = filled
    direct = cache.current()
    assert not direct.enabled
    (answer,) = direct.answers(db, [_query(test, metric, "1d", START.timestamp(), END.timestamp())])
    assert answer.count == 10


def test_several_variants_are_read_with_one_reading_of_the_stamps(db, filled):
    test, metric = filled
    query_cache = QueryCache(LocalStore(10**6), ttl=(60, 60))
    lines = [_query(test, metric, "1h", START.timestamp(), END.timestamp(), v) for v in (0, 1)]
    answers = query_cache.answers(db, lines)
    for line, answer in zip(lines, answers, strict=True):
        assert answer.body == bodies.render(line, buckets.metric_buckets(db, line)).body
    with pytest.raises(ValueError, match="one series"):
        query_cache.answers(db, [lines[0], replace(lines[1], skip=1)])


def test_version_stamps_follow_every_change_to_the_rollups(db, filled):
    test, metric = filled

    def stamps() -> dict:
        rows = db.execute("SELECT day, version FROM cache_versions ORDER BY day").fetchall()
        return dict(rows)

    first = stamps()
    assert len(first) == 10  # one per UTC day with samples
    store(db, [(at("2025-11-04 23:59:59"), 1.0, test.id, metric.id, 0)])
    second = stamps()
    changed = {day for day in first if first[day] != second[day]}
    assert changed == {at("2025-11-04 00:00:00")}
    db.execute("DELETE FROM rollups WHERE bucket >= %s", [at("2025-11-10 00:00:00")])
    assert stamps()[at("2025-11-10 00:00:00")] > second[at("2025-11-10 00:00:00")]
    epoch = db.execute("SELECT epoch FROM cache_epoch").fetchone()[0]
    db.execute("TRUNCATE rollups")
    assert db.execute("SELECT epoch FROM cache_epoch").fetchone()[0] > epoch
    assert stamps() == {}


def test_comparison_is_cached_and_sees_late_samples(app, filled, db):
    test, metric = filled
    window = {"abtest_name": "feature_a", "metric_names": ["response_time"]}
    with app.app_context(), app.extensions["tsmetrics.pool"].connection() as conn:
        first = compare.compare(conn, **window, start=START, end=END)
        before = lookups("totals")
        assert compare.compare(conn, **window, start=START, end=END) == first
        assert delta(before, lookups("totals"))["local"] == 1
        store(db, [(at("2025-11-02 08:00:00"), 10_000.0, test.id, metric.id, 1)])
        late = compare.compare(conn, **window, start=START, end=END)
    treatment = late.metrics[0].variants[1]
    assert treatment.count == first.metrics[0].variants[1].count + 1
    assert treatment.max == 10_000.0


def test_local_store_keeps_within_budget_and_expires():
    local = LocalStore(max_weight=10)
    local.put("a", [1] * 4, ttl=60, weight=4)
    local.put("b", [1] * 4, ttl=60, weight=4)
    assert local.get("a") is not None  # now the most recently used
    local.put("c", [1] * 4, ttl=60, weight=4)
    assert (local.get("a") is not None, local.get("b"), local.get("c") is not None) == (
        True,
        None,
        True,
    )
    assert local.weight == 8
    local.put("gone", [1], ttl=-1, weight=1)
    assert local.get("gone") is None
    local.put("huge", [1] * 11, ttl=60, weight=11)
    assert local.get("huge") is None


def test_live_ranges_are_told_apart(feature_a):
    test, metric = feature_a
    now = at("2025-11-10 12:02:00").timestamp()

    def live(end: str, granularity: str) -> bool:
        query = _query(test, metric, granularity, START.timestamp(), at(end).timestamp())
        return bodies.is_live(query, now)

    assert live("2025-11-10 12:01:00", "5m")
    assert not live("2025-11-10 12:00:00", "5m")
    assert live("2025-11-10 11:00:01", "1d")


def test_etag_304_and_a_new_etag_after_a_late_sample(client, filled, db):
    test, metric = filled
    first = client.get(BASE + TEN_DAYS)
    assert first.headers["Cache-Control"] == "private, max-age=60"
    etag = first.headers["ETag"]
    unchanged = client.get(BASE + TEN_DAYS, headers={"If-None-Match": etag})
    assert (unchanged.status_code, unchanged.data, unchanged.headers["ETag"]) == (304, b"", etag)
    store(db, [(at("2025-11-08 08:08:08"), 1.0, test.id, metric.id, 0)])
    changed = client.get(BASE + TEN_DAYS, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert changed.get_json() != first.get_json()


def test_ranges_reaching_now_get_a_short_max_age(client, db, feature_a):
    test, metric = feature_a
    store(db, [(datetime.now(UTC) - timedelta(minutes=2), 1.0, test.id, metric.id, 0)])
    response = client.get(BASE)  # the last three days, up to now
    assert response.headers["Cache-Control"] == "private, max-age=5"
    assert response.get_json()["count"] == 1


def test_the_write_path_needs_no_cache(database_url, filled):
    # The stamps are written by the database itself: a plain connection with no
    # app, no Redis and no cache code still invalidates what it changes.
    test, metric = filled
    with psycopg.connect(database_url, autocommit=True) as conn:
        before = conn.execute("SELECT max(version) FROM cache_versions").fetchone()[0]
        store(conn, [(at("2025-11-01 00:00:00"), 1.0, test.id, metric.id, 0)])
        after = conn.execute("SELECT max(version) FROM cache_versions").fetchone()[0]
    assert after > before


def test_live_writes_leave_the_earlier_days_of_their_chunk_cached(client, db, feature_a):
    test, metric = feature_a
    now = datetime.now(UTC)
    hours = range(1, 24 * 7, 3)
    store(db, [(now - timedelta(hours=h), 1.0, test.id, metric.id, 0) for h in hours])
    start = (now - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    query = BASE + "&granularity=30m&start=" + start  # up to now
    client.get(query)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    store(db, [(max(now - timedelta(seconds=30), today), 2.0, test.id, metric.id, 0)])
    before = lookups()
    body = client.get(query).get_json()
    # Only today's part is read again; every earlier day, of every chunk, is a hit.
    found = delta(before, lookups())
    assert found["miss"] == 1 and found["local"] >= 1
    assert (
        body["count"]
        == len({int((now - timedelta(hours=h)).timestamp()) // 1800 for h in hours}) + 1
    )
