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
from tsmetrics.api.csv_responses import (
    csv_doc,
    csv_response,
    encode_rows,
    vary_on_accept,
    wants_csv,
)
from tsmetrics.schemas.analysis import CompareQueryArgsSchema, OverTimeQueryArgsSchema
from tsmetrics.schemas.analysis_bodies import comparison_json, plan_json, timeline_json
from tsmetrics.schemas.comparison import CompareResponseSchema
from tsmetrics.schemas.csv_tables import (
    TIMELINE_HEADER,
    comparison_header,
    comparison_rows,
    timeline_rows,
)
from tsmetrics.schemas.over_time import OverTimeResponseSchema
from tsmetrics.schemas.plan import PlanQueryArgsSchema, PlanResponseSchema
from tsmetrics.sketches import QUANTILES

blp = ApiBlueprint(
    "analysis",
    __name__,
    url_prefix="/abtest",
    description="A/B analysis: each treatment against control, exact from the rollups.",
)


_COMPARE_CSV = (
    "metric,unit,kind,analysisUnit,variant,count,mean,...,verdict,refusal,inference,...\r\n"
    "response_time,ms,mean,sample,control,86400,182.4,...,,,,...\r\n"
    "response_time,ms,mean,sample,treatment,86012,179.9,...,better,,sequential,...\r\n"
)
_OVER_TIME_CSV = (
    "metric,unit,variant,inference,t,time,controlCount,treatmentCount,lift,...\r\n"
    "response_time,ms,treatment,sequential,1762002000,2025-11-01T13:00:00Z,1790,1811,-2.3,...\r\n"
)


def _json(body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), mimetype="application/json")


@blp.route("/<name>/compare")
class Compare(MethodView):
    """Variant comparison."""

    @blp.arguments(CompareQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, CompareResponseSchema)
    @blp.alt_response(404, description="Unknown A/B test or metric.")
    @blp.doc(**csv_doc(_COMPARE_CSV))
    def get(self, name, **args):
        """Each treatment against control per metric: lift, interval, p-value, verdict, SRM check

        `inference` (default: the A/B test's own) chooses `sequential`, always valid:
        a 95% confidence sequence for the absolute and relative lift and an
        always-valid p-value, so an A/A test is called better or worse at any look,
        however many, with probability at most 5%; or `fixed`: Welch's t-test, valid
        at one look at the planned end only. Each comparison says which (`inference`:
        method, unit, tuning, validity). A metric's analysis unit is `sample`
        (independent samples) or `time` (paired bucket means of the variants, for
        autocorrelated gauges). Per variant: count, mean, standard deviation, min,
        max (and sum and rate per minute for counters). Holm or Benjamini-Hochberg
        adjust the p-values over every comparison in the response; the verdict
        follows the metric's direction. A comparison that cannot be made says why
        in `refusal`, with null numbers. Sample ratio mismatch: chi-squared test of
        the counts against the expected split, flagged at p < 0.001. With
        `format=csv` (or `Accept: text/csv`): a row per metric and variant, the
        treatments' with their comparison (an interval as `...Low`, `...High`),
        then for each percentile asked for its value, interval and comparison.
        `quantiles` (e.g. p50,p95,p99) adds, for distribution metrics, each
        variant's quantiles with 95% intervals (binomial order statistics, read
        within the sketches' bins) and each treatment's difference and relative
        difference against control, by the same inference and correction.
        """
        with db.connection() as conn:
            report = compare.compare(
                conn,
                abtest_name=name,
                metric_names=args["metric"],
                start=args.get("start"),
                end=args.get("end"),
                correction=args["correction"],
                inference=args.get("inference"),
                quantiles=args.get("quantiles"),
            )
        body = comparison_json(report)
        if wants_csv(args.get("format")):
            names = {q: name for name, q in QUANTILES.items()}
            quantiles = tuple(names[q] for q in args.get("quantiles") or ())
            rows = encode_rows(comparison_header(quantiles), comparison_rows(body, quantiles))
            return csv_response(rows, f"{name}_compare.csv")
        return vary_on_accept(_json(body))


@blp.route("/<name>/plan")
class Plan(MethodView):
    """How long to run."""

    @blp.arguments(PlanQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, PlanResponseSchema)
    @blp.alt_response(404, description="Unknown A/B test or metric.")
    def get(self, name, **args):
        """Per metric and treatment: the effect detectable now, and when the planned MDE will be

        At the current traffic (units per second over the window, 0 unless the test
        is running) and the observed variance: the smallest absolute and relative
        effect detected with 80% power at alpha 0.05 by the inference in use
        (`inference`, default the test's own), and for a metric with a planned
        minimum detectable effect (the test's `metricPlans`), the units needed and
        the time (`detectableAt`) it becomes detectable, or `when`: `not at the
        current rate`.
        """
        with db.connection() as conn:
            report = compare.compare(
                conn,
                abtest_name=name,
                metric_names=args["metric"],
                start=args.get("start"),
                end=args.get("end"),
                inference=args.get("inference"),
                with_plans=True,
            )
        return _json(plan_json(report))


@blp.route("/<name>/compare/over-time")
class CompareOverTime(MethodView):
    """Results over time."""

    @blp.arguments(OverTimeQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, OverTimeResponseSchema)
    @blp.alt_response(404, description="Unknown A/B test or metric.")
    @blp.doc(**csv_doc(_OVER_TIME_CSV))
    def get(self, name, **args):
        """Cumulative lift of each treatment with its 95% interval, bucket by bucket: the looks

        Point `t` (a bucket end) compares everything from the window's start up to
        `t`: watch when the interval settles, and whether an early lift fades
        (a novelty effect). Points are given for buckets with samples. Every point
        is judged by the same inference and tuning (`inference`, default the
        test's own): with `sequential` the intervals form a confidence sequence,
        valid at every point at once; with `fixed` each is valid alone only.
        With `format=csv` (or `Accept: text/csv`): a row per metric, treatment and point.
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
                    inference=args.get("inference"),
                )
        except timeline.TooManyPoints as error:
            abort(400, message=str(error), errors={"granularity": [str(error)]})
        body = timeline_json(result)
        if wants_csv(args.get("format")):
            filename = f"{name}_compare_over-time_{result.granularity}.csv"
            return csv_response(encode_rows(TIMELINE_HEADER, timeline_rows(body)), filename)
        return vary_on_accept(_json(body))
