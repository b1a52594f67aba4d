"""Schemas of raised guardrail alerts, in GET /abtest/{name} and GET /overview."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields

from tsmetrics.store.guardrails import GuardrailAlert


def _interval(description: str) -> fields.List:
    # [low, high], as the comparisons' liftCi (IntervalField of schemas/comparison.py).
    return fields.List(fields.Float(), allow_none=True, metadata={"description": description})


class GuardrailInferenceSchema(ma.Schema):
    """What made an alert's numbers: always-valid inference, Holm over the test's guardrails."""

    method = fields.String(metadata={"example": "sequential"})
    unit = fields.String(metadata={"description": "`sample` or `time` (paired bucket means)."})
    unitSeconds = fields.Integer(
        allow_none=True, metadata={"description": "Unit `time`: the paired buckets' width."}
    )
    alpha = fields.Float(metadata={"example": 0.05})
    correction = fields.String(metadata={"example": "holm"})
    familySize = fields.Integer(
        metadata={"description": "Guardrail comparisons of the test adjusted together."}
    )
    nStar = fields.Float(metadata={"description": "Units at which the sequence is tightest."})
    tuningSource = fields.String(metadata={"description": "`setting`, `planned` or `default`."})


class GuardrailAlertSchema(ma.Schema):
    """A guardrail metric on which a treatment is significantly worse than control."""

    metric = fields.String(metadata={"example": "response_time"})
    metricUnit = fields.String(metadata={"example": "ms"})
    variant = fields.String(metadata={"example": "treatment"})
    control = fields.String(metadata={"example": "control"})
    lift = fields.Float(metadata={"description": "mean(treatment) - mean(control)."})
    liftCi = _interval("Always-valid 95% interval of the lift: [low, high].")
    relativeLift = fields.Float(allow_none=True, metadata={"description": "A fraction."})
    relativeLiftCi = _interval("Always-valid 95% interval of the relative lift, or null.")
    pValue = fields.Float(metadata={"description": "Always-valid p-value."})
    adjustedPValue = fields.Float(metadata={"description": "Holm-adjusted over the guardrails."})
    inference = fields.Nested(GuardrailInferenceSchema)
    raisedAt = fields.AwareDateTime(metadata={"description": "When it was raised."})
    evaluatedAt = fields.AwareDateTime(metadata={"description": "The latest evaluation."})

    @ma.pre_dump
    def _shape(self, alert: GuardrailAlert, **_kwargs: Any) -> dict[str, Any]:
        relative = alert.relative_low is not None and alert.relative_high is not None
        return {
            "metric": alert.metric,
            "metricUnit": alert.metric_unit,
            "variant": alert.variant,
            "control": alert.control,
            "lift": alert.lift,
            "liftCi": [alert.lift_low, alert.lift_high],
            "relativeLift": alert.relative_lift,
            "relativeLiftCi": [alert.relative_low, alert.relative_high] if relative else None,
            "pValue": alert.p_value,
            "adjustedPValue": alert.adjusted_p,
            "inference": {
                "method": alert.inference,
                "unit": alert.unit,
                "unitSeconds": alert.unit_seconds,
                "alpha": alert.alpha,
                "correction": alert.correction,
                "familySize": alert.family_size,
                "nStar": alert.n_star,
                "tuningSource": alert.tuning_source,
            },
            "raisedAt": alert.raised_at,
            "evaluatedAt": alert.evaluated_at,
        }


GUARDRAIL_ALERTS_DESCRIPTION = (
    "Raised guardrails: treatments significantly worse than control on a guardrail metric "
    "(always-valid inference, evaluated by `tsmetrics watch`). Empty: none."
)
