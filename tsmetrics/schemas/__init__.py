"""Marshmallow schemas: request arguments (validated) and responses (documented).

One module per API area; import from the module, e.g. `tsmetrics.schemas.metrics`.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma


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
