"""The staff dashboard: the A/B tests overview, a page per test, a page per chart.

Each route answers a plain request with its page and an htmx request with the
fragment the page includes, so the two cannot drift. When the database is down
a fragment says so inline (503, which htmx is configured to swap), so the rest
of the page keeps working and the next refresh recovers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
from flask import Blueprint, Flask, abort, current_app, make_response, redirect, request, url_for
from flask import render_template as render
from psycopg_pool import PoolTimeout
from werkzeug.wrappers import Response

from tsmetrics import db
from tsmetrics import granularity as gran
from tsmetrics.lookups import require_abtest, require_abtest_metric_and_horizons
from tsmetrics.schemas.overview import SEARCH_MAX
from tsmetrics.store import catalogue, guardrails, overview
from tsmetrics.web import chart_view
from tsmetrics.web.charts import build_chart, build_charts, script_json
from tsmetrics.web.htmx import htmx_request, respond, vary_on_htmx

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")

DATABASE_DOWN = (psycopg.OperationalError, PoolTimeout)
# The id of the A/B test page's form: only its requests move the browser history.
CONTROLS_ID = "controls"
# The line and band controls' options, in the order the form lists them.
LINE_CHOICES = (("mean", "mean"), ("p50", "p50 (median)"), ("p95", "p95"), ("p99", "p99"))
BAND_CHOICES = tuple(chart_view.BAND_LABELS.items())


@bp.record_once
def _add_site_routes(state: Any) -> None:
    app: Flask = state.app
    app.add_url_rule("/", "root", lambda: redirect(url_for("dashboard.index")))
    # Browsers ask for it on every page; "no content" keeps their consoles free of 404s.
    app.add_url_rule("/favicon.ico", "favicon", lambda: ("", 204))


@bp.app_template_filter("utc_label")
def _utc_label(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


bp.add_app_template_filter(chart_view.iso_utc, "iso_utc")
bp.add_app_template_filter(script_json, "script_json")
bp.add_app_template_global(chart_view.MAX_POINTS, "max_points")
bp.add_app_template_global(chart_view.YEAR_MIN, "year_min")
bp.add_app_template_global(chart_view.YEAR_MAX, "year_max")


def unavailable(fragment: str, **context: Any) -> Response:
    """The fragment saying the database is down: 503 with Retry-After, which htmx swaps."""
    context = {"unavailable": True, "refresh_url": request.full_path} | context
    response = make_response(render(fragment, **context), 503)
    response.headers["Retry-After"] = str(current_app.config["TSMETRICS"]["RETRY_AFTER"])
    return vary_on_htmx(response)


def test_and_view(
    conn: psycopg.Connection, name: str
) -> tuple[catalogue.ABTest, chart_view.ChartView]:
    """The A/B test called `name` (or a 404) and the view its page's query asks for (or a 400)."""
    test = require_abtest(conn, name)
    return test, view_or_400(test)


def view_or_400(test: catalogue.ABTest) -> chart_view.ChartView:
    """The view the query of one of the test's pages asks for, or a 400 page saying why not."""
    try:
        return chart_view.parse_view(request.args, test.variants)
    except chart_view.BadView as error:
        abort(400, description=str(error))


@bp.get("/")
def index() -> Response:
    """Every A/B test with status, variants, metrics and recent samples; filterable."""
    status = request.args.get("status") or None
    if status is not None and status not in catalogue.ABTEST_STATUSES:
        abort(400, description=f"status: one of {', '.join(catalogue.ABTEST_STATUSES)}.")
    search = (request.args.get("q") or "").strip()[:SEARCH_MAX]
    context: dict[str, Any] = {"status": status, "q": search, "statuses": catalogue.ABTEST_STATUSES}
    hx = htmx_request()
    try:
        with db.connection() as conn:
            # The same call as its JSON twin, GET /overview.
            found = overview.read_overview(conn, status=status, search=search)
        context |= {"abtests": found.abtests, "since": found.since}
    except DATABASE_DOWN:
        if not hx.wants_fragment:
            raise
        return unavailable("dashboard/_abtests.html", **context)
    response = respond("dashboard/index.html", "dashboard/_abtests.html", context)
    if hx.wants_fragment:
        response.headers["HX-Push-Url"] = url_for(
            "dashboard.index", status=status, q=search or None
        )
    return response


@bp.get("/abtests/<name>")
def abtest(name: str) -> Response:
    """One A/B test: a chart per metric, with range, granularity and variant controls."""
    hx = htmx_request()
    settings = current_app.config["TSMETRICS"]
    try:
        with db.connection() as conn:
            test, view = test_and_view(conn, name)
            charts = build_charts(conn, test, view, auto_max_buckets=settings["AUTO_MAX_BUCKETS"])
            alerts = guardrails.raised_alerts(conn, [test.name])
    except DATABASE_DOWN:
        if not hx.wants_fragment:
            raise
        return unavailable("dashboard/_charts.html")
    page_url = url_for("dashboard.abtest", name=test.name, **view.params())
    context = {
        "test": test,
        "view": view,
        "charts": charts,
        "guardrail_alerts": alerts,
        "refresh_url": page_url,
        "presets": chart_view.PRESETS,
        "granularities": (gran.AUTO, *gran.GRANULARITIES),
        "has_distributions": any(chart.metric.distribution for chart in charts),
        "line_choices": LINE_CHOICES,
        "band_choices": BAND_CHOICES,
    }
    response = respond("dashboard/abtest.html", "dashboard/_charts.html", context)
    if hx.wants_fragment and hx.trigger == CONTROLS_ID:
        response.headers["HX-Push-Url"] = page_url
    return response


@bp.get("/abtests/<name>/guardrails")
def guardrail_banner(name: str) -> Response:
    """The A/B test page's banner of raised guardrails; it reloads with the page's refresh."""
    try:
        with db.connection() as conn:
            test = require_abtest(conn, name)
            alerts = guardrails.raised_alerts(conn, [test.name])
    except DATABASE_DOWN:
        # No content: htmx keeps the banner as it was; the charts say the database is down.
        return vary_on_htmx(make_response("", 204))
    context = {"test": test, "guardrail_alerts": alerts}
    return respond("dashboard/_guardrail_banner.html", "dashboard/_guardrail_banner.html", context)


@bp.get("/abtests/<name>/charts/<metric>")
def chart(name: str, metric: str) -> Response:
    """One chart of an A/B test: the fragment for htmx, or a page of its own."""
    auto_max_buckets = current_app.config["TSMETRICS"]["AUTO_MAX_BUCKETS"]
    try:
        with db.connection() as conn:
            # Both names in one statement: the chart needs no other look-up.
            test, found, kept = require_abtest_metric_and_horizons(
                conn, name, metric, fields=("name", "metric")
            )
            view = view_or_400(test)
            one = build_chart(
                conn, test, found, view, auto_max_buckets=auto_max_buckets, horizons=kept
            )
    except DATABASE_DOWN:
        if not htmx_request().wants_fragment:
            raise
        return unavailable("dashboard/_chart.html", metric_name=metric)
    context = {"test": test, "view": view, "chart": one, "metric_name": metric, "standalone": True}
    return respond("dashboard/chart.html", "dashboard/_chart.html", context)
