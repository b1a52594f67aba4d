"""The A/B tests: list and create, read and change one, and the overview of them all.

Archiving is a change like any other: PATCH an A/B test with {"status": "archived"}.
"""

from __future__ import annotations

import orjson
from flask import Response, url_for
from flask.views import MethodView

from tsmetrics import db, management
from tsmetrics.api.blueprint import ApiBlueprint
from tsmetrics.api.csv_responses import csv_doc, csv_response, encode_rows, wants_csv
from tsmetrics.lookups import require_abtest
from tsmetrics.schemas.csv_tables import OVERVIEW_HEADER, overview_rows
from tsmetrics.schemas.inference import ABTestDetailSchema, managed
from tsmetrics.schemas.manage import (
    ABTestCreateSchema,
    ABTestUpdateSchema,
    ListQueryArgsSchema,
    ManagedABTestSchema,
)
from tsmetrics.schemas.metrics import NAMES_RESPONSE
from tsmetrics.schemas.overview import OVERVIEW_EXAMPLE, OverviewQueryArgsSchema, OverviewSchema
from tsmetrics.store import catalogue, guardrails, overview, plans, series

blp = ApiBlueprint(
    "abtests",
    __name__,
    description="The A/B tests: list, create and change them (archiving keeps all data).",
)
_OVERVIEW_CSV = (
    "name,title,status,variants,metrics,recentSamples,since,latestSampleAt,guardrailAlerts\r\n"
    "feature_a,One-page checkout,running,control treatment,add_to_cart response_time,172800,"
    "2025-11-10T11:00:00+00:00,2025-11-11T11:59:58+00:00,0\r\n"
)


@blp.route("/abtest")
class ABTests(MethodView):
    """The A/B tests."""

    @blp.arguments(ListQueryArgsSchema, location="query", as_kwargs=True)
    @blp.doc(responses=NAMES_RESPONSE)
    def get(self, includeArchived):
        """Names of every A/B test, sorted (archived ones only with includeArchived=true)"""
        with db.connection() as conn:
            tests = catalogue.list_abtests(conn, include_archived=includeArchived)
            names = [test.name for test in tests]
        return Response(orjson.dumps(names), mimetype="application/json")

    @blp.arguments(ABTestCreateSchema)
    @blp.response(201, ManagedABTestSchema)
    @blp.alt_response(409, description="An A/B test of this name exists.")
    def post(self, fields):
        """Create an A/B test (draft unless status is running; inference sequential by default)"""
        with db.write_connection() as conn:
            test = management.create_abtest(conn, fields)
            body = managed(test, plans.metric_plans(conn, test.id))
        return body, 201, {"Location": url_for("abtests.ABTestByName", name=test.name)}


@blp.route("/abtest/<name>")
class ABTestByName(MethodView):
    """One A/B test."""

    @blp.response(200, ABTestDetailSchema)
    @blp.alt_response(404, description="No such A/B test.")
    def get(self, name):
        """One A/B test: status, variants, metrics with samples, inference, plans, raised alerts"""
        with db.connection() as conn:
            test = require_abtest(conn, name)
            found = series.abtest_overview(conn, test.id)
            planned = plans.metric_plans(conn, test.id)
            alerts = guardrails.raised_alerts(conn, [test.name])
        return managed(test, planned) | {
            "metrics": found.metric_names,
            "latest_sample_at": found.latest_sample_at,
            "guardrail_alerts": alerts,
        }

    @blp.arguments(ABTestUpdateSchema)
    @blp.response(200, ManagedABTestSchema)
    @blp.alt_response(404, description="No such A/B test.")
    @blp.alt_response(409, description="Illegal status change, or variants of a test with data.")
    def patch(self, changes, name):
        """Change fields and/or the status of an A/B test; status archived archives it

        Only the fields given change. Status moves: draft -> running | archived;
        running -> paused | completed; paused -> running | completed;
        completed -> archived. An archived test is read-only and hidden from
        GET /abtest (its data stay). `metricPlans` changes only the metrics it names.
        """
        with db.write_connection() as conn:
            test = management.update_abtest(conn, name, changes)
            return managed(test, plans.metric_plans(conn, test.id))


@blp.route("/overview")
class Overview(MethodView):
    """The dashboard overview's data."""

    @blp.arguments(OverviewQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, OverviewSchema, example=OVERVIEW_EXAMPLE)
    @blp.doc(**csv_doc(_OVERVIEW_CSV))
    def get(self, q, status=None, format=None):
        """Every A/B test with status, variants, metrics and samples of the last 24 h

        The JSON twin of the dashboard's overview page (/dashboard/), computed by
        the same function with the same filters. Archived tests are left out
        unless status=archived. `recentSamples` counts every metric's samples in
        the hourly buckets since `since` (the last 24 whole hours and the current one).
        With `format=csv` (or `Accept: text/csv`): a row per A/B test, names joined
        by spaces, `guardrailAlerts` the number raised.
        """
        with db.connection() as conn:
            found = overview.read_overview(conn, status=status, search=q)
        if wants_csv(format):
            rows = overview_rows(OverviewSchema().dump(found))
            return csv_response(encode_rows(OVERVIEW_HEADER, rows), "overview.csv")
        return found, 200, {"Vary": "Accept"}
