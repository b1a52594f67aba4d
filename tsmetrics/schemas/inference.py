"""The inference and plan fields of an A/B test: as POST/PATCH /abtest load them, and as dumped."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from tsmetrics.management import expected_shares
from tsmetrics.schemas import (
    DATE_PATTERN,
    DATE_RANGE_NOTE,
    StrictBoolean,
    StrictInteger,
    supported_moment,
)
from tsmetrics.schemas.metrics import SLUG, ABTestSchema
from tsmetrics.store.catalogue import INFERENCES, ABTest
from tsmetrics.store.plans import MetricPlan


class MetricPlanSchema(ma.Schema):
    """What an A/B test plans for one metric; a metric given replaces its whole plan."""

    class Meta:
        unknown = ma.RAISE

    mde_relative = fields.Float(
        data_key="mdeRelative",
        allow_none=True,
        load_default=None,
        validate=validate.Range(min=0, max=10, min_inclusive=False, error="Must be > 0 and <= 10."),
        metadata={
            "description": "Minimum detectable effect, relative to the control mean: 0.01 is 1%.",
            "example": 0.01,
        },
    )
    guardrail = StrictBoolean(
        load_default=False,
        metadata={"description": "Alert when this metric is significantly worse (sequential)."},
    )


class MetricPlansField(fields.Dict):
    """{metric: plan or null}; errors read "metric: field: message", a list of strings."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            keys=fields.String(validate=SLUG),
            values=fields.Nested(MetricPlanSchema, allow_none=True),
            **kwargs,
        )

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return super()._deserialize(value, attr, data, **kwargs)
        except ma.ValidationError as error:
            messages = error.messages
            if not isinstance(messages, dict):
                raise
            raise ma.ValidationError(list(_flat_messages(messages))) from None


def _flat_messages(messages: Any, prefix: str = ""):
    if isinstance(messages, dict):
        for key, inner in messages.items():
            # marshmallow files a key's and a value's errors under "key" and "value".
            label = prefix if key in ("key", "value", "_schema") else f"{prefix}{key}: "
            yield from _flat_messages(inner, label)
    elif isinstance(messages, list):
        for message in messages:
            yield from _flat_messages(message, prefix)
    else:
        yield f"{prefix}{messages}"


def _count(name: str, description: str) -> fields.Integer:
    return StrictInteger(
        data_key=name,
        allow_none=True,
        validate=validate.Range(min=1, max=2**62, error="Must be a whole number >= 1."),
        metadata={"description": description},
    )


class InferenceLoadSchema(ma.Schema):
    """The inference and plan fields of POST and PATCH /abtest."""

    inference = fields.String(
        validate=validate.OneOf(INFERENCES),
        metadata={
            "description": "How the results are judged by default: `sequential` (always valid:"
            " look at any time; the default for new tests) or `fixed` (Welch's t-test, valid"
            " at the planned end only).",
            "example": "sequential",
        },
    )
    planned_end = fields.AwareDateTime(
        data_key="plannedEnd",
        allow_none=True,
        format="iso",
        validate=supported_moment,
        metadata={
            "description": "When the test is planned to end (ISO 8601 with offset). Tunes the"
            " sequential inference and the unit `time`; dates the fixed horizon." + DATE_RANGE_NOTE,
            "example": "2025-11-30T00:00:00Z",
            "pattern": DATE_PATTERN,
        },
    )
    planned_samples = _count(
        "plannedSamples",
        "Planned samples per metric, all variants together; tunes the sequential inference"
        " of unit `sample` metrics.",
    )
    sequential_n_star = _count(
        "sequentialNStar",
        "Samples (of the two variants compared) at which the confidence sequence is tightest,"
        " for unit `sample` metrics. Default: from plannedSamples, else the planned duration"
        " at the observed rate.",
    )
    metric_plans = MetricPlansField(
        data_key="metricPlans",
        metadata={
            "description": "Per metric: {mdeRelative, guardrail}; a metric given replaces its"
            " plan, null removes it, others keep theirs.",
            "example": {"response_time": {"mdeRelative": 0.01, "guardrail": True}},
        },
    )


class PlanOutSchema(ma.Schema):
    """One metric's plan."""

    mdeRelative = fields.Float(attribute="mde_relative", allow_none=True)
    guardrail = fields.Boolean()


class InferenceFieldsSchema(ma.Schema):
    """The inference and plan fields of an A/B test (dumped from a dict)."""

    inference = fields.String(metadata={"example": "sequential"})
    plannedEnd = fields.AwareDateTime(attribute="planned_end", allow_none=True)
    plannedSamples = fields.Integer(attribute="planned_samples", allow_none=True)
    sequentialNStar = fields.Integer(attribute="sequential_n_star", allow_none=True)
    metricPlans = fields.Dict(
        attribute="metric_plans",
        keys=fields.String(),
        values=fields.Nested(PlanOutSchema),
        metadata={"example": {"response_time": {"mdeRelative": 0.01, "guardrail": True}}},
    )


def managed(test: ABTest, plans: list[MetricPlan]) -> dict[str, Any]:
    """An A/B test and its metric plans as ManagedABTestSchema and ABTestSchema dump them."""
    return asdict(test) | {
        "expected_shares": expected_shares(test),
        "metric_plans": {plan.metric: plan for plan in plans},
    }


class ABTestDetailSchema(ABTestSchema, InferenceFieldsSchema):
    """GET /abtest/{name}: an A/B test, its metrics with samples, its inference and plans."""
