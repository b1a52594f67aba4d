"""The error body every API response shares."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields


class ProblemSchema(ma.Schema):
    """An RFC 9457 problem: every error response of the API."""

    type = fields.String(metadata={"example": "about:blank"})
    title = fields.String(metadata={"example": "Bad Request"})
    status = fields.Integer(metadata={"example": 400})
    detail = fields.String(metadata={"example": "Invalid input: granularity."})
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={
            "description": "Per field, why it was refused.",
            "example": {"granularity": ["Must be one of: 1m, 5m, 30m, 1h, 6h, 1d, auto."]},
        },
    )
