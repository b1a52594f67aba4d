"""Schemas of the token management API (GET, POST /tokens, DELETE /tokens/{id})."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from tsmetrics.schemas import DATE_PATTERN, DATE_RANGE_NOTE, TextBodySchema, supported_moment
from tsmetrics.schemas.manage import FlatList
from tsmetrics.security.startup import SettingError, check_rate_limit
from tsmetrics.security.tokens import SCOPES


class TokenSchema(ma.Schema):
    """A token as listed: never the token itself, only its public prefix."""

    id = fields.Integer()
    name = fields.String(metadata={"example": "ci-ingest"})
    prefix = fields.String(metadata={"description": "The token's first characters."})
    scopes = fields.List(fields.String(), metadata={"example": ["ingest"]})
    rateLimit = fields.String(attribute="rate_limit", allow_none=True)
    createdAt = fields.AwareDateTime(attribute="created_at")
    expiresAt = fields.AwareDateTime(attribute="expires_at", allow_none=True)
    lastUsedAt = fields.AwareDateTime(attribute="last_used_at", allow_none=True)


class CreatedTokenSchema(TokenSchema):
    """A new token: the only response that ever contains the token."""

    token = fields.String(
        metadata={"description": "The bearer token. Shown once: store it now.", "example": "tsm_…"}
    )


# The same rule as security.tokens' name check, stated where the OpenAPI document shows it.
NAME_PATTERN = r"^[^\x00-\x1f\x7f]{1,100}$"
_PER = r"\s*0*[1-9][0-9]*\s*(/|per)\s*(0*[1-9][0-9]*\s*)?(second|minute|hour|day|month|year)s?\s*"
# Flask-Limiter's notation with at least 1 request per period; check_rate_limit decides.
RATE_PATTERN = rf"^{_PER}([;,]{_PER})*$"


def _rate(value: str) -> None:
    try:
        check_rate_limit(value, "rateLimit")
    except SettingError as error:
        raise ma.ValidationError(str(error)) from None


class TokenCreateSchema(TextBodySchema):
    """The body of POST /tokens."""

    class Meta:
        unknown = ma.RAISE

    name = fields.String(
        required=True,
        validate=validate.Regexp(
            NAME_PATTERN, error="Must be 1 to 100 characters without control characters."
        ),
        metadata={"description": "What the token is for.", "example": "ci-ingest"},
    )
    scopes = FlatList(
        fields.String(validate=validate.OneOf(SCOPES)),
        required=True,
        validate=validate.Length(min=1, max=len(SCOPES)),
        metadata={"description": "Any of read, ingest, admin.", "example": ["ingest"]},
    )
    expiresAt = fields.AwareDateTime(
        format="iso",
        validate=supported_moment,
        metadata={
            "description": "When the token stops working; in the future." + DATE_RANGE_NOTE,
            "example": "2030-12-31T00:00Z",
            "pattern": DATE_PATTERN,
        },
    )
    rateLimit = fields.String(
        validate=[validate.Length(max=100), _rate],
        metadata={
            "description": "Its own rate instead of the defaults, in Flask-Limiter's notation"
            " (`60/minute`, `10/second;600/hour`), at least 1 per period.",
            "example": "60/minute",
            "pattern": RATE_PATTERN,
        },
    )
