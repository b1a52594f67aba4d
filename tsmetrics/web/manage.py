"""The dashboard's forms for A/B tests: create, edit, move through the lifecycle, archive.

Each form posts to a route that answers a plain browser with a page (a redirect
after a success) and htmx with the form's fragment: 422 with a message next to
each invalid field, 409 for a duplicate or an illegal move, both swapped in
place by static/js/dashboard.js. A field check (header X-Validate-Only) meets the
same schema and tsmetrics.management rules as a submission, in a transaction
rolled back. A success triggers `abtests-changed`, which reloads the overview's list.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

import psycopg
from flask import Blueprint, redirect, request, url_for
from werkzeug.wrappers import Response

from tsmetrics import db, management
from tsmetrics.lookups import require_abtest
from tsmetrics.schemas.manage import ABTestCreateSchema, ABTestUpdateSchema
from tsmetrics.store import catalogue, catalogue_updates, plans
from tsmetrics.web import forms
from tsmetrics.web.htmx import htmx_request

bp = Blueprint("dashboard_manage", __name__, url_prefix="/dashboard/manage")

NEW = ("dashboard/manage/abtest_new.html", "dashboard/manage/_abtest_new.html")
EDIT = ("dashboard/manage/abtest.html", "dashboard/manage/_abtest.html")
CHANGED = "abtests-changed"
_MOVES = {"running": "Start", "paused": "Pause", "completed": "Complete", "archived": "Archive"}


def _new_values() -> dict[str, str]:
    return {"variants": "control\ntreatment", "status": "draft", "inference": "sequential"}


def _plan_values(test: catalogue.ABTest, planned: list[plans.MetricPlan]) -> dict[str, str]:
    """The plan fields as the form shows them: UTC times, MDEs in percent."""
    values = {
        "inference": test.inference,
        "plannedEnd": f"{test.planned_end.astimezone(UTC):%Y-%m-%dT%H:%M}"
        if test.planned_end
        else "",
        "plannedSamples": str(test.planned_samples or ""),
        "sequentialNStar": str(test.sequential_n_star or ""),
    }
    for plan in planned:
        if plan.mde_relative is not None:
            values[forms.MDE_PREFIX + plan.metric] = f"{plan.mde_relative * 100:g}"
        if plan.guardrail:
            values[forms.GUARDRAIL_PREFIX + plan.metric] = "on"
    return values


def _values(test: catalogue.ABTest, planned: list[plans.MetricPlan]) -> dict[str, str]:
    split = test.expected_split
    return {
        "title": test.title,
        "description": test.description,
        "hypothesis": test.hypothesis,
        "variants": "\n".join(test.variants),
        "expectedSplit": ", ".join(f"{weight:g}" for weight in split) if split else "",
    } | _plan_values(test, planned)


def _edit(conn: psycopg.Connection, test: catalogue.ABTest, **context: Any) -> dict[str, Any]:
    """The edit fragment's context: the stored values unless the user's are given."""
    moves = [
        (status, "Resume" if test.status == "paused" and status == "running" else _MOVES[status])
        for status in management.TRANSITIONS[test.status]
    ]
    return {
        "test": test,
        "values": _values(test, plans.metric_plans(conn, test.id)),
        "moves": moves,
        "has_samples": catalogue_updates.abtest_has_samples(conn, test.id),
        "plan_metrics": catalogue.list_metrics(conn, include_archived=False),
    } | context


@bp.route("/abtests", methods=["GET", "POST"])
def new_abtest() -> Response:
    """GET: the form that creates an A/B test; POST: create it, or check its fields."""
    if request.method == "GET":
        with db.connection() as conn:
            metrics = catalogue.list_metrics(conn, include_archived=False)
        return forms.respond(*NEW, {"values": _new_values(), "plan_metrics": metrics})
    body = forms.abtest_body(request.form, creating=True)
    dry_run = forms.validating()
    with db.write_connection() as conn:
        checked, created = forms.create(
            conn, ABTestCreateSchema(), management.create_abtest, body, dry_run=dry_run
        )
        metrics = catalogue.list_metrics(conn, include_archived=False)
    if dry_run or not checked.ok:
        context = {"values": request.form.to_dict(), "errors": checked.errors}
        context["plan_metrics"] = metrics
        return forms.respond(*NEW, context, 200 if dry_run else checked.status)
    if not htmx_request().request:
        return redirect(url_for("dashboard.abtest", name=created.name), 303)
    context = {"values": _new_values(), "created": created, "plan_metrics": metrics}
    return forms.respond(*NEW, context, 201, changed=CHANGED)


@bp.get("/abtests/<name>")
def abtest(name: str) -> Response:
    """The form that edits an A/B test, with the status moves it allows."""
    with db.write_connection() as conn:
        return forms.respond(*EDIT, _edit(conn, require_abtest(conn, name)))


@bp.post("/abtests/<name>")
def update_abtest(name: str) -> Response:
    """Save an A/B test's fields, or check them."""
    checked = forms.load(ABTestUpdateSchema(), forms.abtest_body(request.form, creating=False))
    dry_run = forms.validating()
    with db.write_connection() as conn:
        test = require_abtest(conn, name)
        if checked.ok:
            updated = forms.apply(
                checked, conn, management.update_abtest, name, checked.data, dry_run=dry_run
            )
        if dry_run or not checked.ok:
            context = _edit(conn, test, values=request.form.to_dict(), errors=checked.errors)
            return forms.respond(*EDIT, context, 200 if dry_run else checked.status)
        context = _edit(conn, updated, saved="Saved.")
    if not htmx_request().request:
        return redirect(url_for(".abtest", name=name), 303)
    return forms.respond(*EDIT, context, changed=CHANGED)


@bp.post("/abtests/<name>/status")
def move_abtest(name: str) -> Response:
    """Move an A/B test to another status of its lifecycle, archiving included."""
    checked = forms.load(ABTestUpdateSchema(), {"status": request.form.get("status", "")})
    with db.write_connection() as conn:
        test = require_abtest(conn, name)
        if checked.ok:
            moved = forms.apply(checked, conn, management.update_abtest, name, checked.data)
        if not checked.ok:
            # The stored state, which may have moved on since the page was drawn.
            context = _edit(conn, require_abtest(conn, name), errors=checked.errors)
            return forms.respond(*EDIT, context, checked.status)
        context = _edit(conn, moved, saved=f"{test.name} is now {moved.status}.")
    if not htmx_request().request:
        return redirect(url_for(".abtest", name=name), 303)
    return forms.respond(*EDIT, context, changed=CHANGED)
