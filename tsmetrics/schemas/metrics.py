"""Schemas of GET /metrics and the catalogue resources."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from tsmetrics.granularity import CHOICES, clamp
from tsmetrics.schemas import DATE_PATTERN, DATE_RANGE_NOTE, supported_moment
from tsmetrics.schemas.guardrails import GUARDRAIL_ALERTS_DESCRIPTION, GuardrailAlertSchema
from tsmetrics.sketches import QUANTILES

SLUG = validate.Regexp(r"^[a-z0-9_-]{1,50}$", error="Must be 1 to 50 of a-z, 0-9, _ and -.")
DEFAULT_RANGE = timedelta(days=3)
# An unencoded "+" in a query string arrives as a space: "12:00:00 01:00".
_DATETIME_ERRORS = {
    "invalid": "Not a valid ISO 8601 date-time; use e.g. 2025-10-13T12:00:00Z.",
    "invalid_awareness": "Needs a UTC offset, e.g. 2025-10-13T12:00:00Z or ...T12:00:00+02:00.",
}
_SPACE_FOR_PLUS = re.compile(r"(T\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d:?\d\d)$")


def datetime_arg(description: str, example: str) -> fields.AwareDateTime:
    """A `start` or `end` query argument: ISO 8601 with an offset, refused alike everywhere."""
    return fields.AwareDateTime(
        format="iso",
        validate=supported_moment,
        error_messages=_DATETIME_ERRORS,
        metadata={
            "description": description + DATE_RANGE_NOTE,
            "example": example,
            "pattern": DATE_PATTERN,
        },
    )


def format_arg() -> fields.String:
    """The `format` query argument of a view with a CSV twin."""
    return fields.String(
        validate=validate.OneOf(("json", "csv")),
        metadata={
            "description": "`csv`: the same numbers as CSV (text/csv with a header row, as an"
            " attachment). Default: JSON, unless `Accept` prefers text/csv.",
            "example": "csv",
        },
    )


class TimeRangeArgsSchema(ma.Schema):
    """Query arguments with `start` and `end`: an unencoded "+" offset is repaired."""

    @ma.pre_load
    def _repair_offsets(self, data: Any, **_kwargs: Any) -> dict[str, Any]:
        # webargs' proxy answers the whole list for a multi-valued field, one value otherwise.
        data = {key: data.get(key) for key in data}
        for key in ("start", "end"):
            if isinstance(data.get(key), str):
                data[key] = _SPACE_FOR_PLUS.sub(r"\1+\2", data[key].strip())
        return data


class MetricsQueryArgsSchema(TimeRangeArgsSchema):
    """Query parameters of GET /metrics."""

    class Meta:
        unknown = ma.RAISE

    abTestName = fields.String(
        validate=SLUG,
        metadata={
            "description": "A/B test name (required; `abTest` is an alias: give one of the"
            " two, or both equal).",
            "example": "feature_a",
        },
    )
    abTest = fields.String(
        validate=SLUG,
        load_only=True,
        metadata={"description": "Alias of `abTestName`; if both are given they must be equal."},
    )
    metricName = fields.String(
        validate=SLUG,
        metadata={
            "description": "Metric name (required; `metric` is an alias: give one of the two,"
            " or both equal).",
            "example": "response_time",
        },
    )
    metric = fields.String(
        validate=SLUG,
        load_only=True,
        metadata={"description": "Alias of `metricName`; if both are given they must be equal."},
    )
    start = datetime_arg(
        "ISO 8601 with offset. Default: `end` minus 3 days. Floored to the granularity:"
        " the first bucket is the one containing `start`.",
        "2025-10-13T12:00:00Z",
    )
    end = datetime_arg(
        "ISO 8601 with offset, exclusive, after `start`. Default: now.", "2025-11-11T12:00:00Z"
    )
    granularity = fields.String(
        load_default="5m",
        validate=validate.OneOf(CHOICES),
        metadata={
            "description": "Bucket size. `auto`: the finest that gives at most 1,000 buckets.",
            "example": "5m",
        },
    )
    skip = fields.Integer(
        load_default=0,
        validate=validate.Range(min=0),
        metadata={"description": "Buckets to skip (pagination).", "example": 0},
    )
    # No load_default: JSON pages hold at most 10,000 buckets, CSV has every bucket unless asked.
    limit = fields.Integer(
        validate=validate.Range(min=1, max=10_000),
        metadata={
            "description": "Most buckets to return, 1 to 10,000. Default: 10,000; with CSV,"
            " every bucket of the range (streamed).",
            "example": 10_000,
        },
    )
    variant = fields.String(
        validate=SLUG,
        metadata={
            "description": "Only this variant. Default: all variants combined.",
            "example": "control",
        },
    )
    format = format_arg()

    quantiles = fields.String(
        metadata={
            "description": "Percentiles per bucket, comma-separated: any of `p1` ... `p99` and"
            ' `p99.9`. Each datapoint then has `q`, e.g. `{"p50": 101.5, "p99": 310.2}`:'
            " within 1% relative error of the exact percentile of the bucket's raw samples,"
            ' numpy.quantile(values, q, method="lower"), before rounding to 3 decimals like'
            " `a`, `l` and `h`. `q` is null for a bucket stored before its metric kept"
            " distributions. Only for metrics with `distribution: true` (else 400).",
            "example": "p50,p95,p99",
        },
    )

    @ma.validates_schema
    def _check(self, data: dict[str, Any], **_kwargs: Any) -> None:
        errors: dict[str, list[str]] = {}
        if "quantiles" in data:
            problem = _quantiles_problem(data["quantiles"])
            if problem:
                errors["quantiles"] = [problem]
        for name, alias in (("abTestName", "abTest"), ("metricName", "metric")):
            given = {data.get(name), data.get(alias)} - {None}
            if not given:
                errors[name] = [f"Missing data for required field (or its alias `{alias}`)."]
            elif len(given) > 1:
                errors[name] = [f"`{name}` and `{alias}` disagree; give one of them."]
        start, end = data.get("start"), data.get("end")
        if start and end and end <= start:
            errors["end"] = ["Must be after start."]
        if errors:
            raise ma.ValidationError(errors)

    @ma.post_load
    def _resolve(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        data["abTestName"] = data.pop("abTest", None) or data["abTestName"]
        data["metricName"] = data.pop("metric", None) or data["metricName"]
        if "end" not in data:
            data["end"] = datetime.now(UTC)
        if "start" not in data:
            data["start"] = clamp(data["end"] - DEFAULT_RANGE)
        if data["end"] <= data["start"]:
            raise ma.ValidationError({"start": ["Must be before end (end defaults to now)."]})
        if "quantiles" in data:
            data["quantiles"] = tuple(dict.fromkeys(data["quantiles"].split(",")))
        return data


def _quantiles_problem(text: str) -> str | None:
    """Why a `quantiles` argument is refused, or None."""
    unknown = [name for name in text.split(",") if name not in QUANTILES]
    if not unknown:
        return None
    return f"Unknown percentile {unknown[0]!r}: use p1 to p99 or p99.9, comma-separated."


class DatapointSchema(ma.Schema):
    """One bucket: always three numbers, whatever was stored (see docs/api.md)."""

    t = fields.Integer(metadata={"description": "Bucket start, epoch seconds."})
    a = fields.Float(
        metadata={
            "description": "Mean of the raw samples, 3 decimals. Always a number: it lies between"
            " `l` and `h` (to the 15 significant digits sums keep); past ±1e300, where rounding"
            " would change no double, it is not rounded."
        }
    )
    l = fields.Float(metadata={"description": "Minimum, 3 decimals."})  # noqa: E741
    h = fields.Float(metadata={"description": "Maximum, 3 decimals."})
    q = fields.Dict(
        keys=fields.String(),
        values=fields.Float(),
        allow_none=True,
        metadata={
            "description": "Only with `quantiles`: each percentile asked for, within 1% of the"
            " exact one, 3 decimals; null for a bucket stored before its metric kept"
            " distributions (its sketch does not hold all of its samples).",
            "example": {"p50": 101.5, "p95": 212.25, "p99": 310.125},
        },
    )


class MetricsResponseSchema(ma.Schema):
    """GET /metrics: one page of buckets, in the sketch's shape plus additive fields."""

    abTest = fields.String(metadata={"example": "feature_a"})
    metric = fields.String(metadata={"example": "response_time"})
    unit = fields.String(metadata={"example": "ms"})
    skip = fields.Integer()
    limit = fields.Integer()
    count = fields.Integer(metadata={"description": "Datapoints in this page."})
    isComplete = fields.Boolean(metadata={"description": "False when buckets lie past this page."})
    granularity = fields.String(metadata={"description": "The granularity used (resolves auto)."})
    variant = fields.String(allow_none=True, metadata={"description": "null: all variants."})
    quantiles = fields.List(
        fields.String(),
        metadata={"description": "Only with `quantiles`: the percentiles each `q` holds."},
    )
    datapoints = fields.List(fields.Nested(DatapointSchema))


class ABTestSchema(ma.Schema):
    """An A/B test of the catalogue."""

    name = fields.String(metadata={"example": "feature_a"})
    title = fields.String()
    description = fields.String()
    status = fields.String(metadata={"example": "running"})
    variants = fields.List(fields.String(), metadata={"description": "The first is the control."})
    control = fields.Function(lambda test: test["variants"][0])
    metrics = fields.List(fields.String(), metadata={"description": "Metrics with samples."})
    createdAt = fields.AwareDateTime(attribute="created_at")
    startedAt = fields.AwareDateTime(attribute="started_at", allow_none=True)
    endedAt = fields.AwareDateTime(attribute="ended_at", allow_none=True)
    latestSampleAt = fields.AwareDateTime(attribute="latest_sample_at", allow_none=True)
    guardrailAlerts = fields.List(
        fields.Nested(GuardrailAlertSchema),
        attribute="guardrail_alerts",
        metadata={"description": GUARDRAIL_ALERTS_DESCRIPTION},
    )


class MetricSchema(ma.Schema):
    """A metric of the catalogue."""

    name = fields.String(metadata={"example": "response_time"})
    unit = fields.String(metadata={"example": "ms"})
    description = fields.String()
    kind = fields.String(metadata={"description": "`mean` (gauges) or `sum` (counters)."})
    higherIsBetter = fields.Boolean(attribute="higher_is_better")
    analysisUnit = fields.String(
        attribute="analysis_unit",
        metadata={"description": "`sample` (independent samples) or `time` (paired means)."},
    )
    valueMin = fields.Float(
        attribute="value_min",
        metadata={"description": "The accepted value range: ingestion refuses samples outside."},
    )
    valueMax = fields.Float(attribute="value_max")
    distribution = fields.Boolean(
        metadata={"description": "true: GET /metrics answers percentiles (`quantiles=`)."}
    )


# A plain JSON array of names, as the sketch's /abtest answered; marshmallow
# has no schema for a bare array, so the OpenAPI text is written out.
NAMES_RESPONSE = {
    "200": {
        "description": "A JSON array of names, sorted.",
        "content": {
            "application/json": {
                "schema": {"type": "array", "items": {"type": "string"}},
                "example": ["feature_a", "feature_b"],
            }
        },
    }
}
