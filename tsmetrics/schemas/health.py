"""Schemas of the health endpoints."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from tsmetrics.schemas.problem import ProblemSchema


class LivenessSchema(ma.Schema):
    """The process is up."""

    status = fields.String(metadata={"example": "alive"})


class CheckSchema(ma.Schema):
    """How one dependency answered."""

    status = fields.String(metadata={"enum": ["ok", "failed", "timeout"], "example": "ok"})
    ms = fields.Float(metadata={"description": "How long the check took.", "example": 1.3})
    error = fields.String(
        metadata={"description": "The kind of failure.", "example": "PoolTimeout"}
    )


class ReadinessSchema(ma.Schema):
    """Every dependency answered."""

    status = fields.String(metadata={"example": "ready"})
    checks = fields.Dict(keys=fields.String(), values=fields.Nested(CheckSchema))


class UnreadySchema(ProblemSchema):
    """A problem (503) with each dependency's answer."""

    checks = fields.Dict(keys=fields.String(), values=fields.Nested(CheckSchema))
