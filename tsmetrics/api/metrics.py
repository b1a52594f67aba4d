"""GET /metrics: aggregated buckets of one metric of one A/B test."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import orjson
from flask import Response, current_app, request
from flask.views import MethodView

from tsmetrics import db
from tsmetrics.api.blueprint import ApiBlueprint
from tsmetrics.api.csv_responses import (
    csv_doc,
    csv_response,
    header_line,
    vary_on_accept,
    wants_csv,
)
from tsmetrics.cache.bodies import Answer
from tsmetrics.schemas.csv_tables import bucket_header, bucket_lines
from tsmetrics.schemas.metrics import MetricsQueryArgsSchema, MetricsResponseSchema
from tsmetrics.series import SeriesAsk, SeriesRead, following_page, read_series

blp = ApiBlueprint(
    "metrics", __name__, url_prefix="/metrics", description="Aggregated metric time series."
)
PAGE = 10_000  # buckets per read, as a JSON page: a CSV export reads page after page
_CSV_EXAMPLE = (
    "t,time,mean,min,max\r\n"
    "1760356800,2025-10-13T12:00:00Z,182.402,41.7,711.2\r\n"
    "1760360400,2025-10-13T13:00:00Z,179.913,38.05,688.4\r\n"
)


@blp.route("")
class Metrics(MethodView):
    """Buckets of one A/B test's metric."""

    @blp.arguments(MetricsQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, MetricsResponseSchema)
    @blp.alt_response(304, description="Not Modified: the If-None-Match ETag is current.")
    @blp.alt_response(
        400, description="Bad arguments, or `quantiles` for a metric without distribution."
    )
    @blp.alt_response(404, description="Unknown A/B test, metric or variant.")
    @blp.alt_response(
        409,
        description="The granularity's buckets from `start` were dropped by retention "
        "(TSMETRICS_RETAIN_ROLLUPS); the problem names the finest granularity still kept.",
    )
    @blp.alt_response(503, description="Database unavailable; see Retry-After.")
    @blp.doc(**csv_doc(_CSV_EXAMPLE))
    def get(self, **args):
        """Aggregated buckets (mean, min, max) of one metric of one A/B test

        Each bucket's mean is the sum over the count of the raw samples in it, at
        every granularity. Buckets are aligned to the Unix epoch (UTC); every
        bucket overlapping [start, end) is returned whole, oldest first. With
        `quantiles`, each bucket also has its percentiles (`q`), each within 1%
        of the exact one, numpy.quantile(samples, q, method="lower").
        With `format=csv` (or `Accept: text/csv`): columns `t`, `time` (ISO 8601
        UTC), `mean`, `min`, `max` (the JSON's `t`, `a`, `l`, `h`), then a column
        per percentile asked for, every bucket of the range unless `limit` is
        given, streamed.
        """
        settings = current_app.config["TSMETRICS"]
        as_csv = wants_csv(args.get("format"))
        wanted = args.get("limit")
        ask = SeriesAsk(
            abtest=args["abTestName"],
            metric=args["metricName"],
            start=args["start"],
            end=args["end"],
            granularity=args["granularity"],
            variants=(args.get("variant"),),
            skip=args["skip"],
            limit=min(PAGE, wanted or PAGE),
            auto_max_buckets=settings["AUTO_MAX_BUCKETS"],
            quantiles=args.get("quantiles", ()),
        )
        with db.connection() as conn:
            # The body comes rendered (orjson, not marshmallow: a 10,000-bucket
            # page in about a millisecond), or as kept while its days are unchanged.
            # For CSV this is the first page: names, range and database are
            # checked before the stream starts, so their errors are problem+json.
            read = read_series(conn, ask)
        if as_csv:
            return _csv(ask, read, wanted)
        (line,) = read.lines
        return vary_on_accept(_conditional_json(line.answer))


def _csv(ask: SeriesAsk, read: SeriesRead, wanted: int | None) -> Response:
    """The buckets as a streamed CSV attachment, with the JSON's Cache-Control."""
    query = read.lines[0].query
    name = "_".join((read.abtest.name, read.metric.name, query.variant or "all", read.granularity))
    span = f"{_stamp(query.start)}_{_stamp(query.end)}"
    response = csv_response(_chunks(ask, read, wanted), f"{name}_{span}.csv")
    return _cache_control(response, read.lines[0].answer.live)


def _chunks(ask: SeriesAsk, read: SeriesRead | None, wanted: int | None) -> Iterator[bytes]:
    """The header, then every bucket asked for, a page at a time, each read as its JSON twin.

    Each page takes a pooled connection only while it is read, so a slow
    client holds none; a page is let go before the next is read, so one page
    of buckets at most is in memory, however long the range.
    """
    yield header_line(bucket_header(ask.quantiles))
    taken = 0
    while read is not None:
        points = orjson.loads(read.lines[0].answer.datapoints_json)
        taken += len(points)
        last_t = points[-1]["t"] if points else None
        following = following_page(ask, read, last_t, taken, wanted)
        text = bucket_lines(points, ask.quantiles)
        points = read = None  # let go of this page before the next is read
        yield text.encode()
        text = None
        if following is not None:
            ask = following
            with db.connection() as conn:
                read = read_series(conn, ask)


def _stamp(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y%m%dT%H%M%SZ")


def _cache_control(response: Response, live: bool) -> Response:
    """`private` (answers depend on the caller's token), max-age by whether it reaches now."""
    settings = current_app.config["TSMETRICS"]
    response.cache_control.private = True
    response.cache_control.max_age = settings["HTTP_MAX_AGE_LIVE" if live else "HTTP_MAX_AGE_PAST"]
    return response


def _conditional_json(answer: Answer) -> Response:
    """The answer as JSON with its strong ETag, or 304 when the client has that ETag.

    Cache-Control is `private` (answers depend on the caller's token) with a
    max-age of HTTP_MAX_AGE_LIVE for ranges reaching now, else HTTP_MAX_AGE_PAST.
    """
    response = Response(answer.body, mimetype="application/json")
    response.set_etag(answer.etag)
    return _cache_control(response, answer.live).make_conditional(request)
