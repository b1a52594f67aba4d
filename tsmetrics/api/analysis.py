"""A/B analysis: variant comparison with exact statistics, and the lift over time."""

from __future__ import annotations

from typing import Any

import orjson
from flask import Response
from flask.views import MethodView
from flask_smorest import abort

from tsmetrics import db
from tsmetrics.analysis import compare, timeline
from tsmetrics.api.blueprint import ApiBlueprint
from tsmetrics.schemas.analysis import (
    CompareQueryArgsSchema,
    CompareResponseSchema,
    OverTimeQueryArgsSchema,
    OverTimeResponseSchema,
)
from tsmetrics.schemas.analysis_bodies import comparison_json, timeline_json

blp = ApiBlueprint(
    "analysis",
    __name__,
    url_prefix="/abtest",
    description="A/B analysis: each treatment against control, exact from the rollups.",
)


def _json(body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), mimetype="application/json")


@blp.route("/<name>/compare")
class Compare(MethodView):
    """Variant comparison."""

    @blp.arguments(CompareQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, CompareResponseSchema)
    @blp.alt_response(404, description="Unknown A/B test or metric.")
    def get(self, name, **args):
        """Each treatment against control per metric: Welch's t-test, lift, SRM check

        Per variant: count, mean, standard deviation, min, max (and sum and rate per
        minute for counters). Per treatment: absolute and relative lift with 95%
        intervals, Welch's two-sided p-value (optionally Holm or Benjamini-Hochberg
        adjusted over every comparison in the response) and a verdict that follows
        the metric's direction. A comparison that cannot be made says why in
        `refusal`, with null numbers. Sample ratio mismatch: chi-squared test of the
        counts against the expected split, flagged at p < 0.001.
        """
        with db.connection() as conn:
            report = compare.compare(
                conn,
                abtest_name=name,
                metric_names=args["metric"],
                start=args.get("start"),
                end=args.get("end"),
                correction=args["correction"],
            )
        return _json(comparison_json(report))


@blp.route("/<name>/compare/over-time")
class CompareOverTime(MethodView):
    """Results over time."""

    @blp.arguments(OverTimeQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, OverTimeResponseSchema)
    @blp.alt_response(404, description="Unknown A/B test or metric.")
    def get(self, name, **args):
        """Cumulative lift of each treatment with its 95% interval, bucket by bucket

        Point `t` (a bucket end) compares everything from the window's start up to
        `t`: watch when the interval settles, and whether an early lift fades
        (a novelty effect). Points are given for buckets with samples.
        """
        try:
            with db.connection() as conn:
                result = timeline.timeline(
                    conn,
                    abtest_name=name,
                    metric_names=args["metric"],
                    start=args.get("start"),
                    end=args.get("end"),
                    granularity=args["granularity"],
                )
        except timeline.TooManyPoints as error:
            abort(400, message=str(error), errors={"granularity": [str(error)]})
        return _json(timeline_json(result))
