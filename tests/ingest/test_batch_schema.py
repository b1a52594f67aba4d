"""The published JSON Schema of a sample batch agrees with the validator."""

from __future__ import annotations

import json
import math
from pathlib import Path

import jsonschema
import pytest

from tests.support.batch_data import CATALOGUE, LIMITS, NOW
from tests.support.batch_data import batch as _batch
from tests.support.batch_data import sample as _sample
from tsmetrics.ingest import batch_format
from tsmetrics.ingest.batch_format import BatchRejected
from tsmetrics.ingest.limits import Limits

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def schema_validator():
    schema = json.loads((ROOT / "schemas" / "sample-batch.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


# Every example's names exist and its times are recent: the rules the schema
# cannot express (catalogue, age, byte size) are tested in test_batches.py. No
# example ends in a newline: Python's `$` matches before one, ECMA-262's (JSON
# Schema's) not.
SCHEMA_EXAMPLES = [
    _batch(),
    _batch([_sample(time=NOW - 5), _sample(metric="add_to_cart", value=0, time=int(NOW) - 5)]),
    _batch([_sample(time="2025-11-09T12:59:00.123456+01:00", value=-1e15)]),
    _batch([_sample()] * 10_000),
    _batch(abTest=...),
    _batch(variant=...),
    _batch(samples=...),
    _batch(samples=[]),
    _batch(samples=[_sample()] * 10_001),
    _batch(abTest="Feature A"),
    _batch(abTest="a" * 51),
    _batch(variant=""),
    _batch(variant=3),
    _batch(extra=1),
    _batch([_sample(extra=1)]),
    _batch([_sample(metric=...)]),
    _batch([_sample(value=...)]),
    _batch([_sample(time=...)]),
    _batch([_sample(value="1.5")]),
    _batch([_sample(value=True)]),
    _batch([_sample(value=None)]),
    _batch([_sample(time="2025-11-09 11:59:00Z")]),
    _batch([_sample(time="2025-11-09T11:59:00")]),
    _batch([_sample(time="2025-11-09T11:59Z")]),
    _batch([_sample(time="20251109T115900Z")]),
    _batch([_sample(time="2025-11-09T11:59:00z")]),
    _batch([_sample(time=None)]),
    _batch([_sample(time=[NOW])]),
    _batch(["sample"]),
    [_batch()],
    "batch",
]


@pytest.mark.parametrize("doc", SCHEMA_EXAMPLES)
def test_json_schema_agrees_with_the_validator(schema_validator, doc):
    schema_says = schema_validator.is_valid(doc)
    try:
        batch_format.validate_batch(doc, CATALOGUE, LIMITS, now=NOW)
        validator_says = True
    except BatchRejected:
        validator_says = False
    assert schema_says == validator_says


def test_schema_example_is_valid(schema_validator):
    schema = schema_validator.schema
    for example in schema["examples"]:
        assert schema_validator.is_valid(example)
        batch_format.validate_batch(example, CATALOGUE, Limits(max_age_seconds=math.inf))
