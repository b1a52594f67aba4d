"""The charts of an A/B test page, computed by the same service as the JSON API.

A chart is one `read_series` call with a line per chosen variant: each line is
the body `GET /metrics?...&variant=<name>` answers, its datapoints embedded as
they are, so the dashboard and the API cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import psycopg
from markupsafe import Markup

from tsmetrics import granularity as gran
from tsmetrics.series import SeriesAsk, SeriesLine, read_series
from tsmetrics.store import catalogue, horizons, series
from tsmetrics.store.horizons import Horizon
from tsmetrics.web.chart_view import MAX_POINTS, PLAIN, ChartView, Shape


@dataclass(frozen=True)
class Chart:
    """One metric of one A/B test over the view's range."""

    metric: catalogue.Metric
    granularity: str
    lines: tuple[SeriesLine, ...]
    too_many_points: int = 0
    # The range asked for: the x axis spans exactly it, whatever the data covers.
    start: datetime | None = None
    end: datetime | None = None
    # The line and band drawn; the percentiles they need are the lines' `quantiles`.
    shape: Shape = PLAIN

    @property
    def quantiles_arg(self) -> str | None:
        """The `quantiles` of the lines' /metrics URLs (None: the chart reads none)."""
        return ",".join(self.shape.quantiles) or None

    @property
    def is_empty(self) -> bool:
        """True when the lines were read and none has a bucket in the range."""
        return not self.too_many_points and not any(line.answer.count for line in self.lines)

    def payload(self) -> dict[str, Any]:
        """What static/js/charts.js draws: the API's datapoints, one list per variant.

        `line` and `band` name the datapoint fields drawn (`a`, `l`, `h` or
        `q.<percentile>`), `lineName` and `bandName` say them in words.
        """
        return {
            "metric": self.metric.name,
            "unit": self.metric.unit,
            "granularity": self.granularity,
            "bucketSeconds": gran.GRANULARITIES[self.granularity],
            "decimals": self.metric.display_decimals,
            "startMs": int(self.start.timestamp() * 1000) if self.start else None,
            "endMs": int(self.end.timestamp() * 1000) if self.end else None,
            "line": self.shape.line_field,
            "band": list(self.shape.band_fields),
            "lineName": self.shape.line,
            "bandName": self.shape.band_label,
            "quantiles": list(self.shape.quantiles),
            "series": [
                {
                    "variant": line.query.variant,
                    "slot": line.query.variant_index,
                    "points": orjson.Fragment(line.answer.datapoints_json),
                }
                for line in self.lines
            ],
        }


def script_json(value: Any) -> Markup:
    """JSON that is safe inside <script type="application/json"> (no `</script>`, no `<!--`)."""
    text = orjson.dumps(value).decode()
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027")):
        text = text.replace(char, escape)
    return Markup(text)  # noqa: S704 - every HTML-significant character is escaped above


def build_chart(
    conn: psycopg.Connection,
    abtest: catalogue.ABTest,
    metric: catalogue.Metric,
    view: ChartView,
    *,
    auto_max_buckets: int,
    horizons: Mapping[str, Horizon] | None = None,
) -> Chart:
    """One chart: a line per chosen variant, each the body GET /metrics gives for it."""
    shape = view.shape(metric.distribution)
    ask = SeriesAsk(
        abtest=abtest,
        metric=metric,
        start=view.start,
        end=view.end,
        granularity=view.granularity,
        variants=view.variants,
        limit=MAX_POINTS,
        auto_max_buckets=auto_max_buckets,
        max_buckets=MAX_POINTS,
        quantiles=shape.quantiles,
        horizons=horizons,
    )
    read = read_series(conn, ask)
    too_many = read.bucket_count if read.bucket_count > MAX_POINTS else 0
    return Chart(
        read.metric,
        read.granularity,
        read.lines,
        too_many_points=too_many,
        start=view.start,
        end=view.end,
        shape=shape,
    )


def build_charts(
    conn: psycopg.Connection, abtest: catalogue.ABTest, view: ChartView, *, auto_max_buckets: int
) -> list[Chart]:
    """A chart for every metric the A/B test has samples of, by metric name."""
    names = series.abtest_overview(conn, abtest.id).metric_names
    # The catalogue in one statement, rather than a look-up per chart.
    metrics = {metric.name: metric for metric in catalogue.list_metrics(conn)}
    kept = horizons.read_horizons(conn) if names else {}
    return [
        build_chart(
            conn, abtest, metrics[name], view, auto_max_buckets=auto_max_buckets, horizons=kept
        )
        for name in names
    ]
