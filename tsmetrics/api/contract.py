"""Rules of a request schema that its fields cannot state, written into the OpenAPI document.

A schema class may hold `OPENAPI_RULES`, JSON Schema keywords about the object
as a whole (`minProperties` for a PATCH body that must change something);
this apispec plugin merges them into the schema's component, so that what the
API enforces is what the document says.
"""

from __future__ import annotations

from typing import Any

from apispec import BasePlugin
from apispec.ext.marshmallow.common import resolve_schema_cls


class RulesPlugin(BasePlugin):
    """Merge each schema's OPENAPI_RULES into its component."""

    def schema_helper(self, name: str, definition: dict, **kwargs: Any) -> dict | None:
        """The component's extra keywords (apispec merges them into `definition`)."""
        schema = kwargs.get("schema")
        if schema is None:
            return None
        rules = getattr(resolve_schema_cls(schema), "OPENAPI_RULES", None)
        return dict(rules) if rules else None
