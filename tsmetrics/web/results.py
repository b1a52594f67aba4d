"""The A/B test page's results panel: each treatment against control, and its lift over time.

Both views call what the JSON API calls (`compare.compare`, `timeline.timeline`)
with the window of the page's range and the inference asked for (else the
test's own), and link their JSON twins, so the panel and
`/abtest/<name>/compare` (and `/plan`) cannot disagree. The A/B test page includes the
panel lazily (`hx-trigger="load"`), and each lift chart loads when scrolled
into view, so the page itself pays nothing for the statistics.
"""

from __future__ import annotations

from flask import Blueprint, abort, request
from werkzeug.wrappers import Response

from tsmetrics import db, sketches
from tsmetrics.analysis import compare, design, quantile_compare, stats, timeline
from tsmetrics.management import expected_shares
from tsmetrics.schemas.analysis_bodies import timeline_json
from tsmetrics.store.catalogue import INFERENCES
from tsmetrics.web import chart_view
from tsmetrics.web.dashboard import DATABASE_DOWN, test_and_view, unavailable
from tsmetrics.web.htmx import htmx_request, respond

bp = Blueprint("dashboard_analysis", __name__, url_prefix="/dashboard/abtests")

# A comparison depends on the range only; granularity and variants are the charts'.
RANGE_KEYS = ("range", "start", "end")

bp.add_app_template_global(chart_view.DEFAULT_RANGE, "default_range")
bp.add_app_template_global(stats.SRM_THRESHOLD, "srm_threshold")
bp.add_app_template_global(quantile_compare.label, "quantile_label")
bp.add_app_template_global(sketches.WITHIN_BIN_ERROR, "sketch_error")
# The percentiles the panel shows for distribution metrics (and its JSON twin asks for).
PANEL_QUANTILES = ("p50", "p95", "p99")


@bp.app_template_global("range_params")
def range_params(view: chart_view.ChartView) -> dict[str, str]:
    """The view's canonical query restricted to its range."""
    return {key: value for key, value in view.params().items() if key in RANGE_KEYS}


@bp.app_template_global("range_key")
def range_key(view: chart_view.ChartView) -> str:
    """The range as static/js/dashboard.js compares it with a new page URL's."""
    if view.is_custom:
        return "|".join((view.range, chart_view.iso_utc(view.start), chart_view.iso_utc(view.end)))
    return view.range


@bp.app_template_filter("decimals")
def _decimals(value: float, places: int, signed: bool = False) -> str:
    return f"{value:{'+' if signed else ''},.{places}f}"


@bp.app_template_filter("lift_percent")
def _lift_percent(fraction: float) -> str:
    return f"{fraction * 100:+,.2f}%"


@bp.app_template_filter("p_value")
def _p_value(p: float) -> str:
    return "< 0.0001" if p < 0.0001 else f"{p:.4f}"


def _correction() -> str:
    correction = request.args.get("correction") or "none"
    if correction not in stats.CORRECTIONS:
        abort(400, description=f"correction: one of {', '.join(stats.CORRECTIONS)}.")
    return correction


def _inference() -> str | None:
    """The inference asked for, or None for the test's own."""
    inference = request.args.get("inference") or None
    if inference is not None and inference not in INFERENCES:
        abort(400, description=f"inference: one of {', '.join(INFERENCES)}.")
    return inference


@bp.app_template_global("unit_label")
def _unit_label(metric_comparison: compare.MetricComparison) -> str:
    methods = [c.method for c in metric_comparison.comparisons]
    seconds = methods[0].unit_seconds if methods else None
    return design.unit_label(metric_comparison.metric.analysis_unit, seconds)


@bp.app_template_global("unit_short")
def _unit_short(metric_comparison: compare.MetricComparison) -> str:
    """The analysis unit in a few words, for the scorecard."""
    methods = [c.method for c in metric_comparison.comparisons]
    seconds = methods[0].unit_seconds if methods else None
    if metric_comparison.metric.analysis_unit == "time" and seconds:
        return f"paired {design.width_label(seconds)} means"
    return "per sample"


@bp.get("/<name>/comparison")
def comparison(name: str) -> Response:
    """Each treatment against control over the page's range: the panel, or a page of its own."""
    correction, inference = _correction(), _inference()
    try:
        with db.connection() as conn:
            test, view = test_and_view(conn, name)
            report = compare.compare(
                conn,
                abtest_name=test.name,
                metric_names=[],
                start=view.start,
                end=view.end,
                correction=correction,
                inference=inference,
                with_plans=True,
                quantiles=[sketches.QUANTILES[name] for name in PANEL_QUANTILES],
            )
    except DATABASE_DOWN:
        if not htmx_request().wants_fragment:
            raise
        return unavailable("dashboard/_comparison.html")
    context = {
        "test": test,
        "view": view,
        "report": report,
        "correction": correction,
        "inference": inference,
        "shares": expected_shares(test),
        "panel_quantiles": ",".join(PANEL_QUANTILES),
    }
    return respond("dashboard/comparison.html", "dashboard/_comparison.html", context)


@bp.get("/<name>/lift/<metric>")
def lift(name: str, metric: str) -> Response:
    """The cumulative lift of one metric over the page's range: the chart, or a page of its own."""
    inference = _inference()
    try:
        with db.connection() as conn:
            test, view = test_and_view(conn, name)
            result = timeline.timeline(
                conn,
                abtest_name=test.name,
                metric_names=[metric],
                start=view.start,
                end=view.end,
                inference=inference,
            )
        drawn = {"result": result, "payload": timeline_json(result)}
    except timeline.TooManyPoints as error:
        drawn = {"too_many": str(error)}
    except DATABASE_DOWN:
        if not htmx_request().wants_fragment:
            raise
        return unavailable("dashboard/_lift.html", metric_name=metric)
    context = {"metric_name": metric, "test": test, "view": view, "inference": inference, **drawn}
    return respond("dashboard/lift.html", "dashboard/_lift.html", context)
