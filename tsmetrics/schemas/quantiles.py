"""The `quantiles` query argument: `p50,p95,p99`, any of p1 to p99 and p99.9."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marshmallow import ValidationError, fields

# The names allowed, and the fraction each means (exact decimals: p99.9 is 0.999, not 0.99900..1).
QUANTILES = {f"p{k}": k / 100 for k in range(1, 100)} | {"p99.9": float(Decimal("0.999"))}


class QuantilesArg(fields.Field):
    """`p50,p95,p99` (comma-separated, or the argument repeated) -> [0.5, 0.95, 0.99], once each."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> list[float]:
        parts = value if isinstance(value, list) else [value]
        names = [n.strip() for part in parts for n in str(part).split(",") if n.strip()]
        wrong = [n for n in names if n not in QUANTILES]
        if wrong:
            raise ValidationError(f"{', '.join(wrong)}: each must be one of p1 to p99 or p99.9.")
        if not names:
            raise ValidationError("Name at least one quantile, e.g. p50,p95,p99.")
        return [QUANTILES[n] for n in dict.fromkeys(names)]


def quantiles_arg(description: str) -> QuantilesArg:
    """The argument, documented as a comma-separated string."""
    return QuantilesArg(
        metadata={
            "description": description,
            "example": "p50,p95,p99",
            "type": "string",
            "pattern": r"^p([1-9][0-9]?|99\.9)(,p([1-9][0-9]?|99\.9))*$",
        }
    )
