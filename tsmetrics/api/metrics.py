"""GET /metrics: aggregated buckets of one metric of one A/B test."""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView

from tsmetrics import db
from tsmetrics.api.blueprint import ApiBlueprint
from tsmetrics.cache.bodies import conditional_json, metrics_answer
from tsmetrics.schemas.metrics import MetricsQueryArgsSchema, MetricsResponseSchema
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
