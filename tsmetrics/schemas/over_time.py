"""Schemas of the answer of GET /abtest/{name}/compare/over-time: cumulative points."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from tsmetrics.schemas.comparison import IntervalField, MethodSchema

_NUMBER = {"allow_none": True}


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
    units = fields.Integer(allow_none=True)
    refusal = fields.String(allow_none=True)


class TreatmentSeriesSchema(ma.Schema):
    """One treatment's cumulative comparison: every point judged by `inference`."""

    variant = fields.String()
    inference = fields.Nested(MethodSchema)
    points = fields.List(fields.Nested(PointSchema))


class MetricSeriesSchema(ma.Schema):
    """Every treatment of one metric."""

    metric = fields.String()
    unit = fields.String()
    higherIsBetter = fields.Boolean()
    analysisUnit = fields.String()
    treatments = fields.List(fields.Nested(TreatmentSeriesSchema))


class OverTimeResponseSchema(ma.Schema):
    """GET /abtest/{name}/compare/over-time."""

    abTest = fields.String(metadata={"example": "feature_a"})
    control = fields.String()
    granularity = fields.String(metadata={"example": "6h"})
    start = fields.AwareDateTime()
    end = fields.AwareDateTime()
    alpha = fields.Float()
    inference = fields.String()
    validity = fields.String()
    metrics = fields.List(fields.Nested(MetricSeriesSchema))
