"""The batch format: validation paths and reasons, limits, the catalogue cache."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import orjson
import pytest

from tests.support.batch_data import CATALOGUE, LIMITS, NOW
from tests.support.batch_data import batch as _batch
from tests.support.batch_data import sample as _sample
from tsmetrics.ingest import batch_format
from tsmetrics.ingest.batch_format import BatchRejected, parse_batch
from tsmetrics.ingest.catalogue_cache import Catalogue, CatalogueCache
from tsmetrics.ingest.limits import Limits


def _parse(doc) -> batch_format.Batch:
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return parse_batch(body, CATALOGUE, LIMITS, now=NOW)


def _refused(doc) -> BatchRejected:
    with pytest.raises(BatchRejected) as caught:
        _parse(doc)
    return caught.value


def test_valid_batch_becomes_columns():
    batch = _parse(
        _batch(
            [
                _sample(time="2025-11-09T12:59:30.5+01:00"),
                _sample(metric="add_to_cart", value=2, time=NOW - 10.25),
            ]
        )
    )
    assert (batch.abtest, batch.variant, len(batch)) == ("feature_a", "treatment", 2)
    columns = batch.samples
    assert columns.time_us.tolist() == [(NOW - 29.5) * 1e6, (NOW - 10.25) * 1e6]
    assert columns.value.tolist() == [93.5, 2.0]
    assert columns.abtest_id.tolist() == [7, 7]
    assert columns.metric_id.tolist() == [3, 4]
    assert columns.variant.tolist() == [1, 1]
    assert columns.time_us.dtype == np.int64 and columns.metric_id.dtype == np.int16


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        (_batch(abTest=...), "abTest"),
        (_batch(abTest="Feature A"), "abTest"),
        (_batch(abTest=5), "abTest"),
        (_batch(variant=...), "variant"),
        (_batch(variant=["treatment"]), "variant"),
        (_batch(variant=""), "variant"),
        (_batch(samples=...), "samples"),
        (_batch(samples={"0": _sample()}), "samples"),
        (_batch(colour="blue"), "colour"),
        (_batch([_sample(), "junk"]), "samples[1]"),
        (_batch([_sample(), _sample(value="93.5")]), "samples[1].value"),
        (_batch([_sample(value=True)]), "samples[0].value"),
        (_batch([_sample(value=None)]), "samples[0].value"),
        (_batch([_sample(value=...)]), "samples[0].value"),
        (_batch([_sample(metric=["response_time"])]), "samples[0].metric"),
        (_batch([_sample(metric="Response Time")]), "samples[0].metric"),
        (_batch([_sample(time="yesterday")]), "samples[0].time"),
        (_batch([_sample(time="2025-11-09T11:59:00")]), "samples[0].time"),
        (_batch([_sample(time="2025-11-09T11:59:00+25:00")]), "samples[0].time"),
        (_batch([_sample(time={"epoch": NOW})]), "samples[0].time"),
        (_batch([_sample(time=NOW - 3601)]), "samples[0].time"),
        (_batch([_sample(time=NOW + 61)]), "samples[0].time"),
        (_batch([_sample(time="2025-11-09T13:02:00+01:00")]), "samples[0].time"),
        (_batch([_sample(unit="ms")]), "samples[0].unit"),
    ],
)
def test_each_problem_is_named_by_path(doc, path):
    rejected = _refused(doc)
    assert rejected.code == batch_format.INVALID
    assert path in rejected.errors, rejected.errors
    assert all(isinstance(m, str) and m for m in rejected.errors[path])


@pytest.mark.parametrize(
    "body",
    [
        b'{"abTest": "feature_a", "variant": "treatment", "samples": [{"metric": "response_time",'
        b' "value": NaN, "time": 1762689000}]}',
        b'{"abTest": "feature_a", "variant": "treatment", "samples": [{"metric": "response_time",'
        b' "value": -Infinity, "time": 1762689000}]}',
        b'{"abTest": "feature_a", "variant": "treatment", "samples": [{"metric": "response_time",'
        b' "value": 1e400, "time": 1762689000}]}',
        b'{"abTest": "feature_a", "variant": "treatment", "samples": [{"metric": "response_time",'
        b' "value": ' + b"9" * 400 + b', "time": 1762689000}]}',
    ],
)
def test_values_must_be_finite(body):
    rejected = _refused(body)
    assert rejected.errors == {"samples[0].value": ["Must be finite."]}


def test_every_bad_sample_is_named_and_good_ones_are_not():
    doc = _batch([_sample(), _sample(value="x"), _sample(), _sample(time="x", metric=1)])
    assert set(_refused(doc).errors) == {
        "samples[1].value",
        "samples[3].time",
        "samples[3].metric",
    }


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"{", b"\xff\xfe", b"[" * 5000 + b"]" * 5000, b'{"a": 1} trailing'],
)
def test_garbage_is_not_json(body):
    rejected = _refused(body)
    assert rejected.code == batch_format.NOT_JSON
    assert list(rejected.errors) == ["body"]


@pytest.mark.parametrize("body", [b"[]", b"null", b"42", b'"batch"', b"[{}]"])
def test_json_that_is_not_an_object(body):
    rejected = _refused(body)
    assert (rejected.code, list(rejected.errors)) == (batch_format.INVALID, ["body"])


def test_limits_are_too_large():
    roomy = Limits(max_bytes=2_000_000, max_age_seconds=3600, max_future_seconds=60)
    with pytest.raises(BatchRejected) as caught:
        parse_batch(orjson.dumps(_batch([_sample()] * 10_001)), CATALOGUE, roomy, now=NOW)
    many = caught.value
    assert (many.code, list(many.errors)) == (batch_format.TOO_LARGE, ["samples"])
    big = _refused(b" " * 100_001)
    assert (big.code, list(big.errors)) == (batch_format.TOO_LARGE, ["body"])


def test_ten_thousand_samples_are_fine():
    limits = Limits(max_bytes=2_000_000, max_age_seconds=3600, max_future_seconds=60)
    body = orjson.dumps(_batch([_sample()] * 10_000))
    assert len(parse_batch(body, CATALOGUE, limits, now=NOW)) == 10_000


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        (_batch(abTest="feature_z"), "abTest"),
        (_batch(variant="green"), "variant"),
        (_batch([_sample(), _sample(metric="latency")]), "samples[1].metric"),
    ],
)
def test_unknown_names_have_their_own_code(doc, path):
    rejected = _refused(doc)
    assert (rejected.code, list(rejected.errors)) == (batch_format.UNKNOWN_NAME, [path])
    assert rejected.reason().startswith("unknown-name: " + path)


def test_unknown_name_with_other_problems_is_invalid():
    rejected = _refused(_batch([_sample(metric="latency", value="x")]))
    assert rejected.code == batch_format.INVALID
    assert set(rejected.errors) == {"samples[0].metric", "samples[0].value"}


def test_reason_is_one_bounded_line():
    rejected = _refused(_batch([_sample(value="x")] * 500))
    reason = rejected.reason()
    assert reason.startswith("invalid: samples[0].value: Must be a number.; samples[1].value")
    assert len(reason) <= 1000 and "\n" not in reason


def test_catalogue_cache_rechecks_an_unknown_name_and_reloads_only_when_the_stamp_moved():
    stamp = {"version": 1}
    known = {"response_time": 3}
    loads = []

    def load():
        loads.append(1)
        return Catalogue(
            {"feature_a": (7, ("control", "treatment"))}, dict(known), version=stamp["version"]
        )

    cache = CatalogueCache(load, lambda: stamp["version"], ttl=60)
    body = orjson.dumps(_batch([_sample(metric="add_to_cart", time=NOW)]))
    limits = Limits(max_age_seconds=math.inf)
    for _ in range(3):  # unknown, and the stamp has not moved: refused, never reloaded
        with pytest.raises(BatchRejected):
            batch_format.parse_with_refresh(body, cache, limits)
    assert len(loads) == 1
    known["add_to_cart"] = 4
    stamp["version"] = 2  # what the trigger does when the metric is created
    assert len(batch_format.parse_with_refresh(body, cache, limits)) == 1
    assert len(loads) == 2
    batch_format.parse_with_refresh(body, cache, limits)
    assert len(loads) == 2  # cached


def test_a_check_made_after_a_batch_arrived_answers_it():
    checks = []

    def version():
        checks.append(1)
        return 1

    cache = CatalogueCache(lambda: Catalogue({}, {}, version=1), version, ttl=60)
    cache.current()  # the first load
    arrived = time.monotonic()
    cache.as_of(time.monotonic())
    assert checks == [1]
    cache.as_of(arrived)  # the check above began after the batch arrived: no second one
    assert checks == [1]
    cache.as_of(time.monotonic())
    assert checks == [1, 1]
