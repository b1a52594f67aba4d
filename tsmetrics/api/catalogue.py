"""The metric catalogue: list and create metrics, read and change one, and their names.

Archiving is a change like any other: PATCH a metric with {"archived": true}.
"""

from __future__ import annotations

from dataclasses import asdict

import orjson
from flask import Response, url_for
from flask.views import MethodView

from tsmetrics import db, management
from tsmetrics.api.blueprint import ApiBlueprint
from tsmetrics.lookups import require_metric
from tsmetrics.schemas.manage import (
    ListQueryArgsSchema,
    ManagedMetricSchema,
    MetricCreateSchema,
    MetricUpdateSchema,
)
from tsmetrics.schemas.metrics import NAMES_RESPONSE, MetricSchema
from tsmetrics.store import catalogue

blp = ApiBlueprint(
    "catalogue",
    __name__,
    url_prefix="/metrics",
    description="The metric catalogue: list, create and change metrics (archiving keeps all data).",
)


@blp.route("/capabilities")
class Capabilities(MethodView):
    """The metric names."""

    @blp.arguments(ListQueryArgsSchema, location="query", as_kwargs=True)
    @blp.doc(responses=NAMES_RESPONSE)
    def get(self, includeArchived):
        """Names of every metric that /metrics can aggregate, sorted (archived: on request)"""
        with db.connection() as conn:
            metrics = catalogue.list_metrics(conn, include_archived=includeArchived)
            names = [metric.name for metric in metrics]
        return Response(orjson.dumps(names), mimetype="application/json")


@blp.route("/catalogue")
class Catalogue(MethodView):
    """The metric catalogue."""

    @blp.arguments(ListQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, MetricSchema(many=True))
    def get(self, includeArchived):
        """Every metric with its unit, kind and direction (archived: on request)"""
        with db.connection() as conn:
            metrics = catalogue.list_metrics(conn, include_archived=includeArchived)
            return [asdict(metric) for metric in metrics]

    @blp.arguments(MetricCreateSchema)
    @blp.response(201, ManagedMetricSchema)
    @blp.alt_response(409, description="A metric of this name exists.")
    def post(self, fields):
        """Create a metric in the catalogue"""
        with db.write_connection() as conn:
            metric = management.create_metric(conn, fields)
        return metric, 201, {"Location": url_for("catalogue.CatalogueEntry", name=metric.name)}


@blp.route("/catalogue/<name>")
class CatalogueEntry(MethodView):
    """One metric of the catalogue."""

    @blp.response(200, MetricSchema)
    @blp.alt_response(404, description="No such metric.")
    def get(self, name):
        """One metric with its unit, kind and direction"""
        with db.connection() as conn:
            return asdict(require_metric(conn, name))

    @blp.arguments(MetricUpdateSchema)
    @blp.response(200, ManagedMetricSchema)
    @blp.alt_response(404, description="No such metric.")
    def patch(self, changes, name):
        """Change a metric's fields; archived true archives it, false restores it"""
        with db.write_connection() as conn:
            return management.update_metric(conn, name, changes)
