"""Schemas of GET /abtest/{name}/plan: what each treatment can detect now, and when its MDE."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from tsmetrics.schemas.analysis import InferenceArgsSchema
from tsmetrics.schemas.comparison import MethodSchema

_NUMBER = {"allow_none": True}


class PlanQueryArgsSchema(InferenceArgsSchema):
    """Query parameters of GET /abtest/{name}/plan."""


class DetectableSchema(ma.Schema):
    """The smallest effect detected with 80% power at this look."""

    absolute = fields.Float(**_NUMBER, metadata={"description": "In the metric's unit."})
    relative = fields.Float(**_NUMBER, metadata={"description": "A fraction of the control mean."})


class TargetSchema(ma.Schema):
    """When the planned minimum detectable effect becomes detectable."""

    relative = fields.Float(metadata={"example": 0.01})
    unitsNeeded = fields.Float(**_NUMBER)
    when = fields.String(metadata={"description": "`now`, `later` or `not at the current rate`."})
    detectableAt = fields.AwareDateTime(allow_none=True)


class TreatmentPlanSchema(ma.Schema):
    """One treatment's plan at the current traffic and observed variance."""

    variant = fields.String()
    inference = fields.Nested(MethodSchema)
    units = fields.Float(allow_none=True)
    unitsPerHour = fields.Float(**_NUMBER, metadata={"description": "0 unless running."})
    detectableNow = fields.Nested(DetectableSchema, allow_none=True)
    mde = fields.Nested(TargetSchema, allow_none=True, metadata={"description": "Null: no MDE."})
    refusal = fields.String(allow_none=True)


class MetricPlanResultSchema(ma.Schema):
    """One metric's plan."""

    metric = fields.String()
    unit = fields.String()
    analysisUnit = fields.String()
    mdeRelative = fields.Float(allow_none=True)
    treatments = fields.List(fields.Nested(TreatmentPlanSchema))


class PlanResponseSchema(ma.Schema):
    """GET /abtest/{name}/plan."""

    abTest = fields.String(metadata={"example": "feature_a"})
    control = fields.String()
    start = fields.AwareDateTime()
    end = fields.AwareDateTime()
    alpha = fields.Float()
    power = fields.Float(metadata={"example": 0.8})
    inference = fields.String()
    validity = fields.String()
    metrics = fields.List(fields.Nested(MetricPlanResultSchema))
