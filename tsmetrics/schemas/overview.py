"""Schemas of GET /overview, the JSON twin of the dashboard's overview page."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from tsmetrics.schemas.guardrails import GUARDRAIL_ALERTS_DESCRIPTION, GuardrailAlertSchema
from tsmetrics.schemas.metrics import format_arg
from tsmetrics.store.catalogue import ABTEST_STATUSES

# The page's search box holds at most this many characters.
SEARCH_MAX = 100


class OverviewQueryArgsSchema(ma.Schema):
    """Query parameters of GET /overview: the overview page's filters, under the same names."""

    class Meta:
        unknown = ma.RAISE

    status = fields.String(
        validate=validate.OneOf(ABTEST_STATUSES),
        metadata={
            "description": "Only A/B tests of this status. Default: every status but archived.",
            "example": "running",
        },
    )
    q = fields.String(
        load_default="",
        validate=[
            validate.Length(max=SEARCH_MAX),
            # PostgreSQL text cannot hold NUL: refused here by name, not by the database.
            validate.Regexp(r"^[^\x00]*$", error="Must not contain NUL (\\u0000)."),
        ],
        metadata={
            "description": "Only A/B tests whose name or title contains this text"
            " (case-insensitive).",
            "example": "checkout",
        },
    )
    format = format_arg()

    @ma.post_load
    def _strip(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        data["q"] = data["q"].strip()
        return data


class ABTestSummarySchema(ma.Schema):
    """One A/B test of the overview."""

    name = fields.String(metadata={"example": "feature_a"})
    title = fields.String()
    status = fields.String(metadata={"example": "running"})
    variants = fields.List(fields.String(), metadata={"description": "The first is the control."})
    metrics = fields.List(
        fields.String(), attribute="metric_names", metadata={"description": "Metrics with samples."}
    )
    recentSamples = fields.Integer(
        attribute="recent_samples",
        metadata={"description": "Samples of every metric since the overview's `since`."},
    )
    latestSampleAt = fields.AwareDateTime(
        attribute="latest_sample_at",
        allow_none=True,
        metadata={"description": "The latest sample of any metric; null: none yet."},
    )
    guardrailAlerts = fields.List(
        fields.Nested(GuardrailAlertSchema),
        attribute="guardrail_alerts",
        metadata={"description": GUARDRAIL_ALERTS_DESCRIPTION},
    )


class OverviewSchema(ma.Schema):
    """GET /overview: the A/B tests by name, with their recent activity."""

    since = fields.AwareDateTime(
        metadata={"description": "Start of the window of `recentSamples`: an hour boundary."}
    )
    abTests = fields.List(fields.Nested(ABTestSummarySchema), attribute="abtests")


OVERVIEW_EXAMPLE = {
    "since": "2025-11-10T11:00:00+00:00",
    "abTests": [
        {
            "name": "feature_a",
            "title": "One-page checkout",
            "status": "running",
            "variants": ["control", "treatment"],
            "metrics": ["add_to_cart", "response_time"],
            "recentSamples": 172800,
            "latestSampleAt": "2025-11-11T11:59:58+00:00",
            "guardrailAlerts": [],
        }
    ],
}
