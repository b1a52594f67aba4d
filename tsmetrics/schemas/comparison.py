"""Schemas of the answer of GET /abtest/{name}/compare: variants, comparisons, quantiles."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from tsmetrics.store.catalogue import ANALYSIS_UNITS

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
    unrepresentable = fields.Boolean(
        metadata={
            "description": "Present (true) only when a number above is null because its value"
            " lies beyond double precision (samples near ±1.8e308 stored before the accepted"
            " value range existed)."
        }
    )


class TuningSchema(ma.Schema):
    """The confidence sequence's tuning: tightest near N* units."""

    nStar = fields.Float(metadata={"description": "N*, in units (samples or buckets)."})
    rho = fields.Float(metadata={"description": "The normal mixture's rho, from N* and alpha."})
    source = fields.String(
        metadata={
            "description": "`setting` (sequentialNStar), `plannedSamples`, `plannedEnd` (the"
            " planned duration) or `default` (14 days).",
            "example": "default",
        }
    )


class MethodSchema(ma.Schema):
    """Which inference, unit and tuning made a comparison's numbers."""

    method = fields.String(metadata={"description": "`sequential` or `fixed`."})
    unit = fields.String(
        validate=validate.OneOf(ANALYSIS_UNITS),
        metadata={"description": "`sample` (independent samples) or `time` (paired means)."},
    )
    unitSeconds = fields.Integer(
        allow_none=True, metadata={"description": "Unit `time`: the width of a paired bucket."}
    )
    tuning = fields.Nested(TuningSchema, allow_none=True, metadata={"description": "Sequential."})
    validity = fields.String(metadata={"example": "Always valid: you may look at any time."})


class ComparisonSchema(ma.Schema):
    """One treatment against control; numbers are null with a refusal."""

    variant = fields.String(metadata={"example": "treatment"})
    lift = fields.Float(
        **_NUMBER,
        metadata={
            "description": "mean(treatment) - mean(control); unit time: the mean of the paired"
            " differences."
        },
    )
    liftCi = IntervalField(
        metadata={"description": "95% confidence sequence (sequential) or t interval (fixed)."}
    )
    relativeLift = fields.Float(
        **_NUMBER, metadata={"description": "lift / mean(control), a fraction: -0.1 is -10%."}
    )
    relativeLiftCi = IntervalField(metadata={"description": "95%, delta method."})
    statistic = fields.Float(**_NUMBER, metadata={"description": "z (sequential) or t (fixed)."})
    t = fields.Float(**_NUMBER, metadata={"description": "Fixed only: the t statistic."})
    df = fields.Float(**_NUMBER, metadata={"description": "Fixed only: degrees of freedom."})
    pValue = fields.Float(
        **_NUMBER, metadata={"description": "Two-sided; always valid with `sequential`."}
    )
    units = fields.Integer(
        allow_none=True,
        metadata={"description": "N: samples of both variants, or paired buckets."},
    )
    adjustedPValue = fields.Float(**_NUMBER, metadata={"description": "After the correction."})
    verdict = fields.String(metadata={"description": "`better`, `worse` or `inconclusive`."})
    refusal = fields.String(
        allow_none=True,
        metadata={
            "description": "Why the numbers are null, e.g. `fewer than 2 samples in treatment`,"
            " or `the numbers are beyond double precision` (samples near the float range).",
            "example": "fewer than 2 samples in treatment",
        },
    )
    inference = fields.Nested(MethodSchema)


class SampleRatioSchema(ma.Schema):
    """Chi-squared test of the sample counts against the expected split."""

    observed = fields.List(fields.Integer())
    expected = fields.List(fields.Float(), allow_none=True)
    chiSquared = fields.Float(**_NUMBER)
    df = fields.Integer(allow_none=True)
    pValue = fields.Float(**_NUMBER)
    flagged = fields.Boolean(metadata={"description": "p < 0.001."})
    refusal = fields.String(allow_none=True)


class QuantileValueSchema(ma.Schema):
    """One variant's quantile."""

    quantile = fields.String(metadata={"example": "p99"})
    value = fields.Float(
        **_NUMBER,
        metadata={
            "description": "Within 1% (`relativeError`) of numpy.quantile(samples, q,"
            " method='lower'), read within the sketch's bins; null without samples."
        },
    )
    ci = IntervalField(
        metadata={
            "description": "95%, from binomial order statistics read within the sketch's"
            " bins; null with too few samples or unit `time`."
        }
    )


class QuantileVariantSchema(ma.Schema):
    """One variant's quantiles in the window."""

    variant = fields.String(metadata={"example": "control"})
    count = fields.Integer()
    quantiles = fields.List(fields.Nested(QuantileValueSchema))


class QuantileMethodSchema(MethodSchema):
    """The inference of a quantile comparison, and what it assumes."""

    assumption = fields.String(
        metadata={
            "example": "Independent samples with a positive, continuous density at the"
            " quantile: the sample quantile is then asymptotically normal (Bahadur)."
        }
    )


class QuantileComparisonSchema(ma.Schema):
    """One treatment's quantile against control's; numbers are null with a refusal."""

    variant = fields.String(metadata={"example": "treatment"})
    quantile = fields.String(metadata={"example": "p99"})
    difference = fields.Float(**_NUMBER, metadata={"description": "q(treatment) - q(control)."})
    differenceCi = IntervalField(
        metadata={
            "description": "95% confidence sequence (sequential) or normal interval (fixed);"
            " its standard error includes the noise of reading the sketches' bins."
        }
    )
    relativeDifference = fields.Float(
        **_NUMBER, metadata={"description": "difference / q(control), a fraction."}
    )
    relativeDifferenceCi = IntervalField(metadata={"description": "95%, delta method."})
    statistic = fields.Float(
        **_NUMBER, metadata={"description": "The normal statistic, difference / its SE."}
    )
    pValue = fields.Float(
        **_NUMBER, metadata={"description": "Two-sided; always valid with `sequential`."}
    )
    adjustedPValue = fields.Float(**_NUMBER, metadata={"description": "After the correction."})
    units = fields.Integer(allow_none=True, metadata={"description": "Samples of both variants."})
    verdict = fields.String(metadata={"description": "`better`, `worse` or `inconclusive`."})
    refusal = fields.String(
        allow_none=True,
        metadata={"example": "fewer than 476 samples in treatment, which p99 needs"},
    )
    inference = fields.Nested(QuantileMethodSchema)


class MetricQuantilesSchema(ma.Schema):
    """A distribution metric's quantiles, when `quantiles` is asked for."""

    relativeError = fields.Float(
        metadata={
            "description": "The most a percentile here differs from the exact one, relative"
            " (read within the sketches' bins).",
            "example": 0.01,
        }
    )
    refusal = fields.String(allow_none=True)
    variants = fields.List(fields.Nested(QuantileVariantSchema))
    comparisons = fields.List(fields.Nested(QuantileComparisonSchema))


class MetricResultSchema(ma.Schema):
    """One metric: its catalogue entry, every variant, the SRM check, every comparison."""

    metric = fields.String(metadata={"example": "response_time"})
    unit = fields.String()
    kind = fields.String()
    higherIsBetter = fields.Boolean()
    displayDecimals = fields.Integer()
    analysisUnit = fields.String(metadata={"description": "`sample` or `time`."})
    variants = fields.List(fields.Nested(VariantResultSchema))
    srm = fields.Nested(SampleRatioSchema)
    comparisons = fields.List(fields.Nested(ComparisonSchema))
    quantiles = fields.Nested(
        MetricQuantilesSchema,
        allow_none=True,
        metadata={"description": "Only with `quantiles`; null for a metric without distributions."},
    )


class CompareResponseSchema(ma.Schema):
    """GET /abtest/{name}/compare."""

    abTest = fields.String(metadata={"example": "feature_a"})
    control = fields.String(metadata={"example": "control"})
    start = fields.AwareDateTime(metadata={"description": "The window used (whole minutes)."})
    end = fields.AwareDateTime()
    alpha = fields.Float(metadata={"example": 0.05})
    inference = fields.String(metadata={"description": "The inference used.", "example": "fixed"})
    validity = fields.String(
        metadata={
            "example": "Fixed horizon: valid at the planned end on 2025-11-20 00:00 UTC,"
            " preliminary before."
        }
    )
    correction = fields.Dict(
        metadata={"example": {"method": "holm", "comparisons": 4}},
    )
    expectedSplit = fields.List(fields.Float(), metadata={"example": [0.5, 0.5]})
    srm = fields.Dict(
        metadata={"example": {"threshold": 0.001, "flagged": False, "metrics": []}},
    )
    metrics = fields.List(fields.Nested(MetricResultSchema))
