"""Marshmallow schemas: request arguments (validated) and responses (documented).

One module per API area; import from the module, e.g. `tsmetrics.schemas.metrics`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import marshmallow as ma
from marshmallow import fields

from tsmetrics import granularity


def supported_moment(moment: Any) -> None:
    """Refuse a date-time outside the one supported range (granularity.EARLIEST to LATEST)."""
    problem = granularity.date_problem(moment)
    if problem:
        raise ma.ValidationError(problem)


# Appended to the description of every date-time input, so that the OpenAPI
# document states the range the validator enforces.
DATE_RANGE_NOTE = f" Supported range: {granularity.DATE_RANGE_TEXT}."
# The range as a JSON Schema pattern on the year, for generators and validators
# of the document: years 1971 to 9998, which lie inside the range whatever the
# UTC offset (the API also takes the rest of 1970 and 9999-01-01T00:00:00Z).
DATE_PATTERN = r"^(197[1-9]|19[89][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-"


class TextBodySchema(ma.Schema):
    """A request body whose strings must be storable in PostgreSQL `text` (no NUL)."""

    @ma.pre_load
    def _refuse_nul(self, data: Any, **_kwargs: Any) -> Any:
        if isinstance(data, dict):
            bad = {
                str(key): ["Must not contain NUL (\\u0000) characters."]
                for key, value in data.items()
                if isinstance(value, str) and "\x00" in value
            }
            if bad:
                raise ma.ValidationError(bad)
        return data


class ChangesSchema(ma.Schema):
    """The body of a PATCH: only the fields to change, and at least one of them."""

    # Merged into the OpenAPI component by tsmetrics.api.contract.
    OPENAPI_RULES: ClassVar[dict[str, Any]] = {"minProperties": 1}
    NOTHING = "Nothing to change: give at least one field."

    @ma.validates_schema
    def _something_to_change(self, data: dict[str, Any], **_kwargs: Any) -> None:
        # An empty or missing body used to answer 200 as if it had changed something.
        if not data:
            raise ma.ValidationError({"body": [self.NOTHING]})


class StrictBoolean(fields.Boolean):
    """A JSON body's boolean: true or false only, never "yes", "1" or 1 (as OpenAPI says)."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class StrictInteger(fields.Integer):
    """A JSON body's integer: 2 or 2.0, never 2.5, "2" or true (a bool is an int in Python)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _validated(self, value: Any) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return super()._validated(value)


class StrictFloat(fields.Float):
    """A JSON body's number: 1 or 0.5, never "1" or true."""

    def _validated(self, value: Any) -> float:
        if isinstance(value, bool | str):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)
