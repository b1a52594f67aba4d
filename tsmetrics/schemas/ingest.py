"""Schemas of POST /ingest: the sample batch (documentation) and the answer.

The batch is validated by tsmetrics.ingest.batch_format, the one path shared with the queue
consumer and much faster than marshmallow on 10,000 samples; this schema is
what the OpenAPI document shows, and a test keeps it, the validator and
schemas/sample-batch.schema.json in agreement.
"""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from tsmetrics.ingest.batch_format import MAX_SAMPLES
from tsmetrics.schemas.metrics import SLUG

EXAMPLE_BATCH = {
    "abTest": "feature_a",
    "variant": "treatment",
    "samples": [
        {"metric": "response_time", "value": 93.5, "time": "2025-11-09T12:00:00.250Z"},
        {"metric": "add_to_cart", "value": 1, "time": 1762689600.25},
    ],
}


class SampleSchema(ma.Schema):
    """One sample: which metric, its value, and when it was measured."""

    class Meta:
        unknown = ma.RAISE

    metric = fields.String(
        required=True,
        validate=SLUG,
        metadata={"description": "A metric of the catalogue.", "example": "response_time"},
    )
    value = fields.Float(
        required=True,
        allow_nan=False,
        metadata={
            "description": "A finite number within the metric's accepted range (its valueMin"
            " and valueMax in the catalogue; by default -1e15 to 1e15). A value outside is"
            " refused as invalid, naming the field (`samples[3].value`) and the range.",
            "example": 93.5,
        },
    )
    time = fields.Raw(
        required=True,
        metadata={
            "description": "RFC 3339 date-time with an offset (`Z` or `+02:00`), or epoch "
            "seconds as a number. At most TSMETRICS_MAX_SAMPLE_AGE old (7 days by default) and "
            "TSMETRICS_MAX_SAMPLE_FUTURE ahead (5 minutes by default); others are refused (400).",
            "oneOf": [{"type": "string", "format": "date-time"}, {"type": "number"}],
            "example": "2025-11-09T12:00:00Z",
        },
    )


class SampleBatchSchema(ma.Schema):
    """A batch of samples of one variant of one A/B test (the queue's message body too)."""

    class Meta:
        unknown = ma.RAISE

    abTest = fields.String(
        required=True,
        validate=SLUG,
        metadata={"description": "The A/B test's name.", "example": "feature_a"},
    )
    variant = fields.String(
        required=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "One of the test's variants.", "example": "treatment"},
    )
    samples = fields.List(
        fields.Nested(SampleSchema),
        required=True,
        validate=validate.Length(min=1, max=MAX_SAMPLES),
        metadata={"description": f"1 to {MAX_SAMPLES:,} samples."},
    )


class IngestResponseSchema(ma.Schema):
    """What POST /ingest did with the batch."""

    stored = fields.Integer(metadata={"description": "Samples stored now.", "example": 2})
    duplicate = fields.Boolean(
        metadata={"description": "True: this Idempotency-Key was stored before; nothing stored."}
    )
    batchId = fields.String(
        allow_none=True,
        metadata={"description": "The Idempotency-Key, or null without one.", "example": "b-1"},
    )
