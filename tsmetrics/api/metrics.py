"""GET /metrics (aggregated buckets) and the metric catalogue."""

from __future__ import annotations

from dataclasses import asdict

import orjson
from flask import Response, current_app
from flask.views import MethodView
from flask_smorest import abort

from tsmetrics import db
from tsmetrics.api.blueprint import ApiBlueprint
from tsmetrics.cache.bodies import conditional_json, metrics_answer
from tsmetrics.schemas.manage import ListQueryArgsSchema
from tsmetrics.schemas.metrics import (
    NAMES_RESPONSE,
    MetricSchema,
    MetricsQueryArgsSchema,
    MetricsResponseSchema,
)
from tsmetrics.series import MetricPage, fetch_resolved_page
from tsmetrics.store import catalogue

blp = ApiBlueprint(
    "metrics", __name__, url_prefix="/metrics", description="Aggregated metric time series."
)


@blp.route("")
class Metrics(MethodView):
    """Buckets of one A/B test's metric."""

    @blp.arguments(MetricsQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, MetricsResponseSchema)
    @blp.alt_response(304, description="Not Modified: the If-None-Match ETag is current.")
    @blp.alt_response(404, description="Unknown A/B test, metric or variant.")
    @blp.alt_response(503, description="Database unavailable; see Retry-After.")
    def get(self, **args):
        """Aggregated buckets (mean, min, max) of one metric of one A/B test

        Each bucket's mean is the sum over the count of the raw samples in it, at
        every granularity. Buckets are aligned to the Unix epoch (UTC); every
        bucket overlapping [start, end) is returned whole, oldest first.
        """
        settings = current_app.config["TSMETRICS"]
        with db.connection() as conn:

            def fetch(abtest: catalogue.ABTest, metric: catalogue.Metric) -> MetricPage:
                return fetch_resolved_page(
                    conn,
                    abtest=abtest,
                    metric=metric,
                    start=args["start"],
                    end=args["end"],
                    granularity=args["granularity"],
                    variant=args.get("variant"),
                    skip=args["skip"],
                    limit=args["limit"],
                    auto_max_buckets=settings["AUTO_MAX_BUCKETS"],
                )

            # A repeated request is answered with the body rendered before,
            # while no write has touched its days (tsmetrics/cache/bodies.py);
            # otherwise orjson writes the datapoint dataclasses directly: a
            # 10,000-bucket page in about a millisecond, not through marshmallow.
            answer = metrics_answer(conn, args, settings["AUTO_MAX_BUCKETS"], fetch)
        return conditional_json(answer)


@blp.route("/capabilities")
class Capabilities(MethodView):
    """The metric names."""

    @blp.arguments(ListQueryArgsSchema, location="query", as_kwargs=True)
    @blp.doc(responses=NAMES_RESPONSE)
    def get(self, includeArchived):
        """Names of every metric that /metrics can aggregate, sorted (archived: on request)"""
        with db.connection() as conn:
            metrics = catalogue.list_metrics(conn, include_archived=includeArchived)
            names = [metric.name for metric in metrics]
        return Response(orjson.dumps(names), mimetype="application/json")


@blp.route("/catalogue")
class MetricCatalogue(MethodView):
    """The metric catalogue."""

    @blp.arguments(ListQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, MetricSchema(many=True))
    def get(self, includeArchived):
        """Every metric with its unit, kind and direction (archived: on request)"""
        with db.connection() as conn:
            metrics = catalogue.list_metrics(conn, include_archived=includeArchived)
            return [asdict(metric) for metric in metrics]


@blp.route("/catalogue/<name>")
class MetricEntry(MethodView):
    """One metric of the catalogue."""

    @blp.response(200, MetricSchema)
    @blp.alt_response(404, description="No such metric.")
    def get(self, name):
        """One metric with its unit, kind and direction"""
        with db.connection() as conn:
            metric = catalogue.get_metric(conn, name)
        if metric is None:
            abort(404, message=f"Metric {name!r} does not exist.")
        return asdict(metric)
