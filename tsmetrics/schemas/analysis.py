"""Schemas of the A/B analysis resources: /abtest/{name}/compare and its over-time twin."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from tsmetrics.analysis.stats import CORRECTIONS
from tsmetrics.granularity import AUTO, CHOICES
from tsmetrics.schemas.manage import FlatList

# Shared with GET /metrics so that both refuse and repair dates alike.
from tsmetrics.schemas.metrics import SLUG, TimeRangeArgsSchema, datetime_arg

_WINDOW = (
    " The window is widened to whole minutes. Default: from the test's start (or first"
    " sample) to its end (or now)."
)


class _WindowArgsSchema(TimeRangeArgsSchema):
    class Meta:
        unknown = ma.RAISE

    metric = FlatList(
        fields.String(validate=SLUG),
        load_default=list,
        metadata={
            "description": "A metric; repeat for several. Default: every metric with samples.",
            "example": ["response_time", "add_to_cart"],
        },
    )
    start = datetime_arg("ISO 8601 with offset." + _WINDOW, "2025-11-01T00:00:00Z")
    end = datetime_arg("ISO 8601 with offset, exclusive.", "2025-11-08T00:00:00Z")

    @ma.validates_schema
    def _check(self, data: dict[str, Any], **_kwargs: Any) -> None:
        start, end = data.get("start"), data.get("end")
        if start and end and end <= start:
            raise ma.ValidationError({"end": ["Must be after start."]})


class CompareQueryArgsSchema(_WindowArgsSchema):
    """Query parameters of GET /abtest/{name}/compare."""

    correction = fields.String(
        load_default="none",
        validate=validate.OneOf(CORRECTIONS),
        metadata={
            "description": "Multiple-comparison correction over every treatment of every"
            " metric: `none`, `holm` (family-wise error) or `bh` (Benjamini-Hochberg, FDR).",
            "example": "holm",
        },
    )


class OverTimeQueryArgsSchema(_WindowArgsSchema):
    """Query parameters of GET /abtest/{name}/compare/over-time."""

    granularity = fields.String(
        load_default=AUTO,
        validate=validate.OneOf(CHOICES),
        metadata={
            "description": "Bucket size of the points. `auto`: the finest with at most 200"
            " points; at most 1,000 points in any case.",
            "example": "1h",
        },
    )


_NUMBER = {"allow_none": True}


class IntervalField(fields.List):
    """[low, high] of a 95% interval, or null."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(fields.Float(), allow_none=True, **kwargs)


class VariantResultSchema(ma.Schema):
    """One variant's samples of one metric in the window."""

    variant = fields.String(metadata={"example": "control"})
    count = fields.Integer(metadata={"description": "Samples in the window."})
    mean = fields.Float(**_NUMBER)
    sd = fields.Float(**_NUMBER, metadata={"description": "Sample standard deviation."})
    min = fields.Float(**_NUMBER)
    max = fields.Float(**_NUMBER)
    meanCi = IntervalField(metadata={"description": "95% t interval of the mean."})
    sum = fields.Float(**_NUMBER, metadata={"description": "Counters (kind sum) only."})
    ratePerMinute = fields.Float(**_NUMBER, metadata={"description": "Counters only."})


class ComparisonSchema(ma.Schema):
    """One treatment against control (Welch's t-test); numbers are null with a refusal."""

    variant = fields.String(metadata={"example": "treatment"})
    lift = fields.Float(**_NUMBER, metadata={"description": "mean(treatment) - mean(control)."})
    liftCi = IntervalField(metadata={"description": "95% Welch interval of the lift."})
    relativeLift = fields.Float(
        **_NUMBER, metadata={"description": "lift / mean(control), a fraction: -0.1 is -10%."}
    )
    relativeLiftCi = IntervalField(metadata={"description": "95% interval (delta method)."})
    t = fields.Float(**_NUMBER)
    df = fields.Float(**_NUMBER, metadata={"description": "Welch-Satterthwaite df."})
    pValue = fields.Float(**_NUMBER, metadata={"description": "Two-sided."})
    adjustedPValue = fields.Float(**_NUMBER, metadata={"description": "After the correction."})
    verdict = fields.String(metadata={"description": "`better`, `worse` or `inconclusive`."})
    refusal = fields.String(
        allow_none=True, metadata={"example": "fewer than 2 samples in treatment"}
    )


class SampleRatioSchema(ma.Schema):
    """Chi-squared test of the sample counts against the expected split."""

    observed = fields.List(fields.Integer())
    expected = fields.List(fields.Float(), allow_none=True)
    chiSquared = fields.Float(**_NUMBER)
    df = fields.Integer(allow_none=True)
    pValue = fields.Float(**_NUMBER)
    flagged = fields.Boolean(metadata={"description": "p < 0.001."})
    refusal = fields.String(allow_none=True)


class MetricResultSchema(ma.Schema):
    """One metric: its catalogue entry, every variant, the SRM check, every comparison."""

    metric = fields.String(metadata={"example": "response_time"})
    unit = fields.String()
    kind = fields.String()
    higherIsBetter = fields.Boolean()
    displayDecimals = fields.Integer()
    variants = fields.List(fields.Nested(VariantResultSchema))
    srm = fields.Nested(SampleRatioSchema)
    comparisons = fields.List(fields.Nested(ComparisonSchema))


class CompareResponseSchema(ma.Schema):
    """GET /abtest/{name}/compare."""

    abTest = fields.String(metadata={"example": "feature_a"})
    control = fields.String(metadata={"example": "control"})
    start = fields.AwareDateTime(metadata={"description": "The window used (whole minutes)."})
    end = fields.AwareDateTime()
    alpha = fields.Float(metadata={"example": 0.05})
    correction = fields.Dict(
        metadata={"example": {"method": "holm", "comparisons": 4}},
    )
    expectedSplit = fields.List(fields.Float(), metadata={"example": [0.5, 0.5]})
    srm = fields.Dict(
        metadata={"example": {"threshold": 0.001, "flagged": False, "metrics": []}},
    )
    metrics = fields.List(fields.Nested(MetricResultSchema))


class PointSchema(ma.Schema):
    """The comparison of everything up to `t`."""

    t = fields.Integer(metadata={"description": "Bucket end, epoch seconds."})
    controlCount = fields.Integer()
    treatmentCount = fields.Integer()
    lift = fields.Float(**_NUMBER)
    liftCi = IntervalField()
    relativeLift = fields.Float(**_NUMBER)
    relativeLiftCi = IntervalField()
    pValue = fields.Float(**_NUMBER)
    refusal = fields.String(allow_none=True)


class TreatmentSeriesSchema(ma.Schema):
    """One treatment's cumulative comparison."""

    variant = fields.String()
    points = fields.List(fields.Nested(PointSchema))


class MetricSeriesSchema(ma.Schema):
    """Every treatment of one metric."""

    metric = fields.String()
    unit = fields.String()
    higherIsBetter = fields.Boolean()
    treatments = fields.List(fields.Nested(TreatmentSeriesSchema))


class OverTimeResponseSchema(ma.Schema):
    """GET /abtest/{name}/compare/over-time."""

    abTest = fields.String(metadata={"example": "feature_a"})
    control = fields.String()
    granularity = fields.String(metadata={"example": "6h"})
    start = fields.AwareDateTime()
    end = fields.AwareDateTime()
    alpha = fields.Float()
    metrics = fields.List(fields.Nested(MetricSeriesSchema))
