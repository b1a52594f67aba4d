"""Chunks as Redis keeps them: the same datapoints back, percentiles and nulls included."""

from __future__ import annotations

import orjson

from tsmetrics.cache import chunks

PLAIN = [
    {"t": 1_762_646_400, "a": 1.5, "l": -0.0, "h": 3.25},
    {"t": 1_762_646_460, "a": 2.0, "l": 1.0, "h": 3.0},
]


def test_plain_chunks_keep_their_format():
    """32 bytes a bucket, no header: what older processes wrote reads the same."""
    data = chunks.encode(PLAIN)
    assert len(data) == 64
    assert orjson.dumps(chunks.decode(data)) == orjson.dumps(PLAIN)


def test_percentiles_round_trip_with_nulls_in_order():
    """q per bucket, in the order asked, null where the bucket has none."""
    points = [
        PLAIN[0] | {"q": {"p99": 3.125, "p50": 1.5, "p99.9": 3.25}},
        PLAIN[1] | {"q": None},
    ]
    assert orjson.dumps(chunks.decode(chunks.encode(points))) == orjson.dumps(points)
    nulls = [point | {"q": None} for point in PLAIN]
    assert chunks.decode(chunks.encode(nulls)) == nulls
    assert chunks.decode(chunks.encode([])) == []
