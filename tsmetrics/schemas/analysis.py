"""Query parameters of the A/B analysis resources: /abtest/{name}/compare and its over-time twin."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from tsmetrics.analysis.stats import CORRECTIONS
from tsmetrics.granularity import AUTO, CHOICES
from tsmetrics.schemas.manage import FlatList

# Shared with GET /metrics so that both refuse and repair dates alike.
from tsmetrics.schemas.metrics import SLUG, TimeRangeArgsSchema, datetime_arg, format_arg
from tsmetrics.schemas.quantiles import quantiles_arg
from tsmetrics.store.catalogue import INFERENCES

_WINDOW = (
    " The window is widened to whole minutes. Default: from the test's start (or first"
    " sample) to its end (or now)."
)


class _WindowArgsSchema(TimeRangeArgsSchema):
    class Meta:
        unknown = ma.RAISE

    metric = FlatList(
        fields.String(validate=SLUG),
        load_default=list,
        metadata={
            "description": "A metric; repeat for several. Default: every metric with samples.",
            "example": ["response_time", "add_to_cart"],
        },
    )
    start = datetime_arg("ISO 8601 with offset." + _WINDOW, "2025-11-01T00:00:00Z")
    end = datetime_arg("ISO 8601 with offset, exclusive, after `start`.", "2025-11-08T00:00:00Z")

    @ma.validates_schema
    def _check(self, data: dict[str, Any], **_kwargs: Any) -> None:
        start, end = data.get("start"), data.get("end")
        if start and end and end <= start:
            raise ma.ValidationError({"end": ["Must be after start."]})


class InferenceArgsSchema(_WindowArgsSchema):
    """A window and an inference."""

    inference = fields.String(
        validate=validate.OneOf(INFERENCES),
        metadata={
            "description": "`sequential` (always valid: a confidence sequence and an always-valid"
            " p-value, right at any number of looks) or `fixed` (Welch's t-test, valid once, at"
            " the planned end). Default: the A/B test's own `inference`.",
            "example": "sequential",
        },
    )


class CompareQueryArgsSchema(InferenceArgsSchema):
    """Query parameters of GET /abtest/{name}/compare."""

    correction = fields.String(
        load_default="none",
        validate=validate.OneOf(CORRECTIONS),
        metadata={
            "description": "Multiple-comparison correction over every treatment of every"
            " metric (and every quantile compared): `none`, `holm` (family-wise error) or `bh`"
            " (Benjamini-Hochberg, FDR).",
            "example": "holm",
        },
    )
    format = format_arg()
    quantiles = quantiles_arg(
        "Percentiles to compare for distribution metrics: any of p1 to p99 and p99.9,"
        " comma-separated. Each metric then has `quantiles` (each variant's with a 95%"
        " interval, each treatment's difference against control). 400 for a metric named in"
        " `metric` that keeps no distribution; unnamed ones without it get `quantiles: null`."
    )


class OverTimeQueryArgsSchema(InferenceArgsSchema):
    """Query parameters of GET /abtest/{name}/compare/over-time."""

    granularity = fields.String(
        load_default=AUTO,
        validate=validate.OneOf(CHOICES),
        metadata={
            "description": "Bucket size of the points. `auto`: the finest with at most 200"
            " points. A granularity that gives more than 1,000 points over the window is"
            " refused (400): choose a coarser one or `auto`.",
            "example": "1h",
        },
    )
    format = format_arg()
