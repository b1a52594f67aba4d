"""The charts of an A/B test page, computed by the same service as the JSON API.

Each line of a chart is one `fetch_resolved_page` call for one variant, the
call `GET /metrics?...&variant=<name>` makes, exactly what it answers, so the
dashboard and the API cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
from markupsafe import Markup

from tsmetrics import granularity as gran
from tsmetrics.lookups import require_metric
from tsmetrics.series import MetricPage, fetch_resolved_page
from tsmetrics.store import catalogue, series
from tsmetrics.web.chart_view import MAX_POINTS, ChartView


@dataclass(frozen=True)
class VariantLine:
    """One variant's line: its position in the test (its colour) and its buckets."""

    variant: str
    slot: int
    page: MetricPage


@dataclass(frozen=True)
class Chart:
    """One metric of one A/B test over the view's range."""

    metric: catalogue.Metric
    granularity: str
    lines: tuple[VariantLine, ...]
    too_many_points: int = 0

    @property
    def is_empty(self) -> bool:
        """True when the lines were read and none has a bucket in the range."""
        return not self.too_many_points and not any(
            line.page.page.datapoints for line in self.lines
        )

    def payload(self) -> dict[str, Any]:
        """What static/js/charts.js draws: the API's datapoints, one list per variant."""
        return {
            "metric": self.metric.name,
            "unit": self.metric.unit,
            "granularity": self.granularity,
            "bucketSeconds": gran.GRANULARITIES[self.granularity],
            "series": [
                {"variant": line.variant, "slot": line.slot, "points": line.page.page.datapoints}
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
    metric_name: str,
    view: ChartView,
    *,
    auto_max_buckets: int,
) -> Chart:
    """One chart: a line per chosen variant (UnknownName when the metric does not exist)."""
    resolved = gran.resolve(view.granularity, view.start, view.end, auto_max_buckets)
    buckets = gran.bucket_count(view.start, view.end, gran.GRANULARITIES[resolved])
    metric = require_metric(conn, metric_name, field="metricName")
    if buckets > MAX_POINTS or not view.variants:
        too_many = buckets if buckets > MAX_POINTS else 0
        return Chart(metric, resolved, (), too_many_points=too_many)
    lines = tuple(
        VariantLine(
            variant,
            abtest.variants.index(variant),
            # The API's own function, with the names looked up once per chart.
            fetch_resolved_page(
                conn,
                abtest=abtest,
                metric=metric,
                start=view.start,
                end=view.end,
                granularity=resolved,
                variant=variant,
                limit=MAX_POINTS,
            ),
        )
        for variant in view.variants
    )
    return Chart(metric, resolved, lines)


def build_charts(
    conn: psycopg.Connection, abtest: catalogue.ABTest, view: ChartView, *, auto_max_buckets: int
) -> list[Chart]:
    """A chart for every metric the A/B test has samples of, by metric name."""
    names = series.abtest_overview(conn, abtest.id).metric_names
    return [
        build_chart(conn, abtest, name, view, auto_max_buckets=auto_max_buckets) for name in names
    ]
