"""Schemas of the management API: creating and changing A/B tests and metrics."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from tsmetrics.schemas import (
    ChangesSchema,
    StrictBoolean,
    StrictFloat,
    StrictInteger,
    TextBodySchema,
)
from tsmetrics.schemas.inference import InferenceFieldsSchema, InferenceLoadSchema
from tsmetrics.schemas.metrics import SLUG
from tsmetrics.store.catalogue import ABTEST_STATUSES, ANALYSIS_UNITS, METRIC_KINDS

CREATE_STATUSES = ("draft", "running")
# Weights of an expected split: with at most 20 variants every expected share
# is then at least 0.001 / 20,000 = 5e-8, a usable divisor for the SRM check,
# and their sum cannot overflow (5e-324 or 1e308 could).
MIN_WEIGHT, MAX_WEIGHT = 0.001, 1000


class FlatList(fields.List):
    """A list whose item errors read "item 2: ..." instead of nesting by index.

    Problem details promise a list of strings per field; marshmallow's nested
    {index: [...]} would not even serialise (integer keys).
    """

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> list[Any]:
        try:
            return super()._deserialize(value, attr, data, **kwargs)
        except ma.ValidationError as error:
            messages = error.messages
            if not isinstance(messages, dict):
                raise
            flat = [
                f"item {index + 1}: {message}"
                for index, item_messages in sorted(messages.items())
                for message in item_messages
            ]
            raise ma.ValidationError(flat) from None


class ListQueryArgsSchema(ma.Schema):
    """Query parameters of the lists that hide archived entries."""

    class Meta:
        unknown = ma.RAISE

    includeArchived = fields.Boolean(
        load_default=False,
        metadata={"description": "Also list archived entries.", "example": True},
    )


def _variants(**kwargs: Any) -> fields.List:
    return FlatList(
        fields.String(validate=SLUG),
        validate=validate.Length(min=2, max=20, error="Between 2 and 20 variants."),
        metadata={
            "description": "Variant names, all different, the control first.",
            "uniqueItems": True,
            **kwargs,
        },
    )


def _split(**kwargs: Any) -> fields.List:
    return FlatList(
        StrictFloat(
            validate=validate.Range(
                min=MIN_WEIGHT, max=MAX_WEIGHT, error=f"Must be {MIN_WEIGHT} to {MAX_WEIGHT:,}."
            )
        ),
        data_key="expectedSplit",
        metadata={
            "description": "Relative weight of each variant, one per variant, each"
            f" {MIN_WEIGHT} to {MAX_WEIGHT:,} (e.g. [50, 50] or [1, 3]); the SRM check"
            " compares the sample counts against it. Default: equal.",
            "example": [50, 50],
        },
        **kwargs,
    )


class _ABTestFieldsSchema(TextBodySchema, InferenceLoadSchema):
    class Meta:
        unknown = ma.RAISE

    title = fields.String(validate=validate.Length(max=200))
    description = fields.String(validate=validate.Length(max=10_000))
    hypothesis = fields.String(
        validate=validate.Length(max=2000),
        metadata={"example": "One-click checkout raises add-to-cart clicks by 5%."},
    )

    @ma.validates_schema
    def _check_variants(self, data: dict[str, Any], **_kwargs: Any) -> None:
        variants = data.get("variants")
        if variants and len(set(variants)) != len(variants):
            raise ma.ValidationError({"variants": ["Variant names must differ."]})
        split = data.get("expected_split")
        if variants and split is not None and len(split) != len(variants):
            raise ma.ValidationError({"expectedSplit": ["One weight per variant."]})


class ABTestCreateSchema(_ABTestFieldsSchema):
    """The body of POST /abtest."""

    name = fields.String(required=True, validate=SLUG, metadata={"example": "feature_c"})
    variants = _variants(example=["control", "treatment"])
    expected_split = _split()
    status = fields.String(
        load_default="draft",
        validate=validate.OneOf(CREATE_STATUSES),
        metadata={"description": "`draft` (default) or `running` (starts it now)."},
    )

    @ma.post_load
    def _default_variants(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        data.setdefault("variants", ["control", "treatment"])
        split = data.get("expected_split")
        if split is not None and len(split) != len(data["variants"]):
            raise ma.ValidationError({"expectedSplit": ["One weight per variant."]})
        return data


class ABTestUpdateSchema(ChangesSchema, _ABTestFieldsSchema):
    """The body of PATCH /abtest/{name}: only the fields to change."""

    variants = _variants(
        note="Refused (409) once the test has samples: samples store variant positions."
    )
    expected_split = _split(allow_none=True)
    status = fields.String(
        validate=validate.OneOf(ABTEST_STATUSES),
        metadata={
            "description": "Lifecycle: draft -> running | archived; running -> paused |"
            " completed; paused -> running | completed; completed -> archived. Other"
            " moves are 409. started_at, ended_at and archived_at are set automatically."
        },
    )


class MetricCreateSchema(TextBodySchema):
    """The body of POST /metrics/catalogue."""

    class Meta:
        unknown = ma.RAISE

    name = fields.String(required=True, validate=SLUG, metadata={"example": "checkout_time"})
    unit = fields.String(validate=validate.Length(max=20), metadata={"example": "ms"})
    description = fields.String(validate=validate.Length(max=10_000))
    kind = fields.String(
        validate=validate.OneOf(METRIC_KINDS),
        metadata={"description": "`mean` (gauges, latencies; default) or `sum` (counters)."},
    )
    higher_is_better = StrictBoolean(data_key="higherIsBetter")
    analysis_unit = fields.String(
        data_key="analysisUnit",
        validate=validate.OneOf(ANALYSIS_UNITS),
        metadata={
            "description": "`sample` (independent samples, e.g. per-request latency; default) or"
            " `time` (autocorrelated gauges, e.g. CPU: paired per-bucket means of the variants).",
        },
    )
    distribution = StrictBoolean(
        metadata={
            "description": "true: the rollups keep a sketch of the samples of each bucket, so"
            " GET /metrics answers percentiles (`quantiles=`) within 1% (default false). Buckets"
            " written before it was switched on answer none (`q` is null)."
        }
    )
    display_decimals = StrictInteger(
        data_key="displayDecimals",
        validate=validate.Range(min=0, max=6),
        metadata={"description": "Decimals the dashboard shows, 0 to 6 (default 2)."},
    )
    value_min = fields.Float(
        data_key="valueMin",
        metadata={
            "description": "The smallest value a sample may have; both ingestion paths refuse"
            " others as invalid. Finite, below valueMax. Default -1e15.",
            "example": 0,
        },
    )
    value_max = fields.Float(
        data_key="valueMax",
        metadata={
            "description": "The largest value a sample may have. Finite, above valueMin."
            " Default 1e15.",
            "example": 60000,
        },
    )

    @ma.validates_schema
    def _check_value_range(self, data: dict[str, Any], **_kwargs: Any) -> None:
        low, high = data.get("value_min"), data.get("value_max")
        if low is not None and high is not None and not low < high:
            raise ma.ValidationError({"valueMax": ["Must be above valueMin."]})


class MetricUpdateSchema(ChangesSchema, MetricCreateSchema):
    """The body of PATCH /metrics/catalogue/{name}: only the fields to change."""

    class Meta:
        unknown = ma.RAISE
        exclude = ("name",)

    archived = StrictBoolean(
        metadata={"description": "true archives (hides from lists, keeps data); false restores."}
    )


class ManagedABTestSchema(InferenceFieldsSchema):
    """An A/B test with every field the management API sets."""

    name = fields.String(metadata={"example": "feature_c"})
    title = fields.String()
    description = fields.String()
    hypothesis = fields.String()
    status = fields.String(metadata={"example": "draft"})
    variants = fields.List(fields.String(), metadata={"description": "The first is the control."})
    control = fields.Function(lambda test: test["variants"][0])
    expectedSplit = fields.List(
        fields.Float(),
        attribute="expected_shares",
        metadata={"description": "Expected share of each variant, summing to 1."},
    )
    createdAt = fields.AwareDateTime(attribute="created_at")
    startedAt = fields.AwareDateTime(attribute="started_at", allow_none=True)
    endedAt = fields.AwareDateTime(attribute="ended_at", allow_none=True)
    archivedAt = fields.AwareDateTime(attribute="archived_at", allow_none=True)


class ManagedMetricSchema(ma.Schema):
    """A metric with every field the management API sets."""

    name = fields.String(metadata={"example": "checkout_time"})
    unit = fields.String(metadata={"example": "ms"})
    description = fields.String()
    kind = fields.String()
    higherIsBetter = fields.Boolean(attribute="higher_is_better")
    displayDecimals = fields.Integer(attribute="display_decimals")
    analysisUnit = fields.String(attribute="analysis_unit")
    valueMin = fields.Float(attribute="value_min")
    valueMax = fields.Float(attribute="value_max")
    distribution = fields.Boolean()
    archived = fields.Function(lambda metric: metric.archived_at is not None)
    archivedAt = fields.AwareDateTime(attribute="archived_at", allow_none=True)
