"""The `quantiles` query argument of the comparison: `p50,p95,p99`, as GET /metrics takes it.

The names and their fractions are tsmetrics.sketches.QUANTILES (p1 to p99 and
p99.9, the double nearest each decimal), refused with GET /metrics' message.
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields

from tsmetrics.sketches import QUANTILES


class QuantilesArg(fields.String):
    """`p50,p95,p99` -> [0.5, 0.95, 0.99], each once, in the order given."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> list[float]:
        text = super()._deserialize(value, attr, data, **kwargs)
        names = text.split(",")
        unknown = [name for name in names if name not in QUANTILES]
        if unknown:
            raise ValidationError(
                f"Unknown percentile {unknown[0]!r}: use p1 to p99 or p99.9, comma-separated."
            )
        return [QUANTILES[name] for name in dict.fromkeys(names)]


def quantiles_arg(description: str) -> QuantilesArg:
    """The argument, documented as GET /metrics documents its own."""
    return QuantilesArg(metadata={"description": description, "example": "p50,p95,p99"})
