"""The A/B tests: names (as in the sketch) and each test with its variants and metrics."""

from __future__ import annotations

from dataclasses import asdict

import orjson
from flask import Response
from flask.views import MethodView
from flask_smorest import abort

from tsmetrics import db
from tsmetrics.api.blueprint import ApiBlueprint
from tsmetrics.schemas.manage import ListQueryArgsSchema
from tsmetrics.schemas.metrics import NAMES_RESPONSE, ABTestSchema
from tsmetrics.store import catalogue, series

blp = ApiBlueprint("abtests", __name__, url_prefix="/abtest", description="The A/B tests.")


@blp.route("")
class ABTests(MethodView):
    """A/B test names."""

    @blp.arguments(ListQueryArgsSchema, location="query", as_kwargs=True)
    @blp.doc(responses=NAMES_RESPONSE)
    def get(self, includeArchived):
        """Names of every A/B test, sorted (archived ones only with includeArchived=true)"""
        with db.connection() as conn:
            tests = catalogue.list_abtests(conn, include_archived=includeArchived)
            names = [test.name for test in tests]
        return Response(orjson.dumps(names), mimetype="application/json")


@blp.route("/<name>")
class ABTestDetail(MethodView):
    """One A/B test."""

    @blp.response(200, ABTestSchema)
    @blp.alt_response(404, description="No such A/B test.")
    def get(self, name):
        """One A/B test: status, variants (control first), metrics with samples"""
        with db.connection() as conn:
            test = catalogue.get_abtest(conn, name)
            if test is None:
                abort(404, message=f"A/B test {name!r} does not exist.")
            overview = series.abtest_overview(conn, test.id)
        return asdict(test) | {
            "metrics": overview.metric_names,
            "latest_sample_at": overview.latest_sample_at,
        }
