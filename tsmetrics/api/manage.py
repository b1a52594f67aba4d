"""Managing A/B tests and metrics: create, change, move through the lifecycle, archive.

The routes live under the resources they change (/abtest, /metrics/catalogue);
the GET routes there stay in tsmetrics.api.abtests and tsmetrics.api.metrics.
Archiving is a change like any other: PATCH an A/B test with
{"status": "archived"}, a metric with {"archived": true}.
"""

from __future__ import annotations

from flask import url_for
from flask.views import MethodView

from tsmetrics import db, management
from tsmetrics.api.blueprint import ApiBlueprint
from tsmetrics.schemas.manage import (
    ABTestCreateSchema,
    ABTestUpdateSchema,
    ManagedABTestSchema,
    ManagedMetricSchema,
    MetricCreateSchema,
    MetricUpdateSchema,
)

blp = ApiBlueprint(
    "manage",
    __name__,
    description="Creating and changing A/B tests and metrics (archiving keeps all data).",
)


@blp.route("/abtest")
class ABTestCreate(MethodView):
    """Creating A/B tests."""

    @blp.arguments(ABTestCreateSchema)
    @blp.response(201, ManagedABTestSchema)
    @blp.alt_response(409, description="An A/B test of this name exists.")
    def post(self, fields):
        """Create an A/B test (draft unless status is running)"""
        with db.write_connection() as conn:
            test = management.create_abtest(conn, fields)
        return test, 201, {"Location": url_for("abtests.ABTestDetail", name=test.name)}


@blp.route("/abtest/<name>")
class ABTestChange(MethodView):
    """Changing one A/B test."""

    @blp.arguments(ABTestUpdateSchema)
    @blp.response(200, ManagedABTestSchema)
    @blp.alt_response(404, description="No such A/B test.")
    @blp.alt_response(409, description="Illegal status change, or variants of a test with data.")
    def patch(self, changes, name):
        """Change fields and/or the status of an A/B test; status archived archives it

        Only the fields given change. Status moves: draft -> running | archived;
        running -> paused | completed; paused -> running | completed;
        completed -> archived. An archived test is read-only and hidden from
        GET /abtest (its data stay).
        """
        with db.write_connection() as conn:
            return management.update_abtest(conn, name, changes)


@blp.route("/metrics/catalogue")
class MetricCreate(MethodView):
    """Creating catalogue entries."""

    @blp.arguments(MetricCreateSchema)
    @blp.response(201, ManagedMetricSchema)
    @blp.alt_response(409, description="A metric of this name exists.")
    def post(self, fields):
        """Create a metric in the catalogue"""
        with db.write_connection() as conn:
            metric = management.create_metric(conn, fields)
        return metric, 201, {"Location": url_for("metrics.MetricEntry", name=metric.name)}


@blp.route("/metrics/catalogue/<name>")
class MetricChange(MethodView):
    """Changing one catalogue entry."""

    @blp.arguments(MetricUpdateSchema)
    @blp.response(200, ManagedMetricSchema)
    @blp.alt_response(404, description="No such metric.")
    def patch(self, changes, name):
        """Change a metric's fields; archived true archives it, false restores it"""
        with db.write_connection() as conn:
            return management.update_metric(conn, name, changes)
