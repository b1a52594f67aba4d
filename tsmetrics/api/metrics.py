"""GET /metrics: aggregated buckets of one metric of one A/B test."""

from __future__ import annotations

from flask import Response, current_app, request
from flask.views import MethodView

from tsmetrics import db
from tsmetrics.api.blueprint import ApiBlueprint
from tsmetrics.cache.bodies import Answer
from tsmetrics.schemas.metrics import MetricsQueryArgsSchema, MetricsResponseSchema
from tsmetrics.series import SeriesAsk, read_series

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
    @blp.alt_response(
        409,
        description="The granularity's buckets from `start` were dropped by retention "
        "(TSMETRICS_RETAIN_ROLLUPS); the problem names the finest granularity still kept.",
    )
    @blp.alt_response(503, description="Database unavailable; see Retry-After.")
    def get(self, **args):
        """Aggregated buckets (mean, min, max) of one metric of one A/B test

        Each bucket's mean is the sum over the count of the raw samples in it, at
        every granularity. Buckets are aligned to the Unix epoch (UTC); every
        bucket overlapping [start, end) is returned whole, oldest first.
        """
        settings = current_app.config["TSMETRICS"]
        ask = SeriesAsk(
            abtest=args["abTestName"],
            metric=args["metricName"],
            start=args["start"],
            end=args["end"],
            granularity=args["granularity"],
            variants=(args.get("variant"),),
            skip=args["skip"],
            limit=args["limit"],
            auto_max_buckets=settings["AUTO_MAX_BUCKETS"],
        )
        with db.connection() as conn:
            # The body comes rendered (orjson, not marshmallow: a 10,000-bucket
            # page in about a millisecond), or as kept while its days are unchanged.
            (line,) = read_series(conn, ask).lines
        return _conditional_json(line.answer)


def _conditional_json(answer: Answer) -> Response:
    """The answer as JSON with its strong ETag, or 304 when the client has that ETag.

    Cache-Control is `private` (answers depend on the caller's token) with a
    max-age of HTTP_MAX_AGE_LIVE for ranges reaching now, else HTTP_MAX_AGE_PAST.
    """
    settings = current_app.config["TSMETRICS"]
    response = Response(answer.body, mimetype="application/json")
    response.set_etag(answer.etag)
    response.cache_control.private = True
    response.cache_control.max_age = settings[
        "HTTP_MAX_AGE_LIVE" if answer.live else "HTTP_MAX_AGE_PAST"
    ]
    return response.make_conditional(request)
