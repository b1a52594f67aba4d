"""The dashboard's forms for the metric catalogue: list, create, edit, archive and restore.

They work as the A/B test forms do (tsmetrics.web.manage): the API's schemas
and tsmetrics.management decide, field checks run in a transaction rolled back,
and a success triggers `metrics-changed`, which reloads the catalogue's list.
"""

from __future__ import annotations

from typing import Any

import psycopg
from flask import Blueprint, redirect, request, url_for
from werkzeug.wrappers import Response

from tsmetrics import db, management
from tsmetrics.lookups import require_metric
from tsmetrics.schemas.manage import MetricCreateSchema, MetricUpdateSchema
from tsmetrics.store import catalogue
from tsmetrics.web import forms
from tsmetrics.web.htmx import htmx_request

bp = Blueprint("dashboard_catalogue", __name__, url_prefix="/dashboard/manage/metrics")

CATALOGUE = ("dashboard/manage/metrics.html", "dashboard/manage/_metrics.html")
NEW = ("dashboard/manage/metrics.html", "dashboard/manage/_metric_new.html")
EDIT = ("dashboard/manage/metric.html", "dashboard/manage/_metric.html")
CHANGED = "metrics-changed"


def _new_values() -> dict[str, str]:
    return {
        "kind": "mean",
        "higherIsBetter": "false",
        "displayDecimals": "2",
        "analysisUnit": "sample",
        "valueMin": _number_text(catalogue.DEFAULT_VALUE_RANGE[0]),
        "valueMax": _number_text(catalogue.DEFAULT_VALUE_RANGE[1]),
        "distribution": "false",
    }


def _number_text(value: float) -> str:
    # The shortest text that reads back as the same float, without a trailing ".0".
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def _values(metric: catalogue.Metric) -> dict[str, str]:
    return {
        "unit": metric.unit,
        "description": metric.description,
        "kind": metric.kind,
        "higherIsBetter": "true" if metric.higher_is_better else "false",
        "displayDecimals": str(metric.display_decimals),
        "analysisUnit": metric.analysis_unit,
        "valueMin": _number_text(metric.value_min),
        "valueMax": _number_text(metric.value_max),
        "distribution": "true" if metric.distribution else "false",
    }


def _catalogue(conn: psycopg.Connection, **context: Any) -> dict[str, Any]:
    return {"metrics": catalogue.list_metrics(conn), "values": _new_values()} | context


@bp.route("/", methods=["GET", "POST"])
def metrics() -> Response:
    """GET: the catalogue with the form that adds a metric; POST: add it, or check its fields."""
    if request.method == "GET":
        with db.connection() as conn:
            return forms.respond(*CATALOGUE, _catalogue(conn))
    body = forms.metric_body(request.form, creating=True)
    dry_run = forms.validating()
    with db.write_connection() as conn:
        checked, created = forms.create(
            conn, MetricCreateSchema(), management.create_metric, body, dry_run=dry_run
        )
        if dry_run or not checked.ok:
            context = _catalogue(conn, values=request.form.to_dict(), errors=checked.errors)
            return forms.respond(*NEW, context, 200 if dry_run else checked.status)
        context = _catalogue(conn, created=created)
    if not htmx_request().request:
        return redirect(url_for(".metric", name=created.name), 303)
    return forms.respond(*NEW, context, 201, changed=CHANGED)


@bp.get("/<name>")
def metric(name: str) -> Response:
    """The form that edits a metric, and archives or restores it."""
    with db.write_connection() as conn:
        found = require_metric(conn, name)
    return forms.respond(*EDIT, {"metric": found, "values": _values(found)})


def _change(name: str, body: dict[str, Any], saved: str) -> Response:
    """Apply a PATCH body to a metric (or check it) and answer with the edit form."""
    checked = forms.load(MetricUpdateSchema(), body)
    dry_run = forms.validating()
    with db.write_connection() as conn:
        found = require_metric(conn, name)
        if checked.ok:
            changed = forms.apply(
                checked, conn, management.update_metric, name, checked.data, dry_run=dry_run
            )
    if dry_run or not checked.ok:
        values = request.form.to_dict() if "archived" not in body else _values(found)
        context = {"metric": found, "values": values, "errors": checked.errors}
        return forms.respond(*EDIT, context, 200 if dry_run else checked.status)
    if not htmx_request().request:
        return redirect(url_for(".metric", name=name), 303)
    context = {"metric": changed, "values": _values(changed), "saved": saved}
    return forms.respond(*EDIT, context, changed=CHANGED)


@bp.post("/<name>")
def update_metric(name: str) -> Response:
    """Save a metric's fields, or check them."""
    return _change(name, forms.metric_body(request.form, creating=False), "Saved.")


@bp.post("/<name>/archive")
def archive_metric(name: str) -> Response:
    """Archive a metric (hidden from lists, data kept), or restore it."""
    archived = request.form.get("archived", "")
    saved = f"{name} is archived." if archived == "true" else f"{name} is restored."
    # The API takes a JSON boolean only; what is neither goes on as typed, to be refused.
    value = forms.BOOLEANS.get(archived, archived)
    return _change(name, {"archived": value}, saved)
