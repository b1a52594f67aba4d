"""GET /healthz (the process is alive) and GET /readyz (its dependencies answer).

Both are public and not rate-limited (tsmetrics/security/policy.py). /readyz
answers within TSMETRICS_HEALTH_TIMEOUT (plus a little) even when a dependency
hangs: each check runs in a thread of its own (tsmetrics/telemetry/checks.py).
"""

from __future__ import annotations

import orjson
from flask import Flask, Response, current_app
from flask.views import MethodView

from tsmetrics import db, problems
from tsmetrics.api.blueprint import ApiBlueprint
from tsmetrics.schemas.health import LivenessSchema, ReadinessSchema, UnreadySchema
from tsmetrics.telemetry import checks

blp = ApiBlueprint("health", __name__, description="Liveness and readiness, for probes.")
EXTENSION_KEY = "tsmetrics.health_checks"
PUBLIC = {"security": []}


def _checks(app: Flask) -> dict[str, checks.Check]:
    found = app.extensions.get(EXTENSION_KEY)
    if found is not None:
        return found
    settings = app.config["TSMETRICS"]
    wanted = {name.strip() for name in settings["READY_CHECKS"].split(",")}
    primary = db.get_pool(app, write=True)
    made = {"database": checks.Check("database", checks.database_probe(primary))}
    if settings["READ_DATABASE_URL"]:
        made["replica"] = checks.Check("replica", checks.database_probe(db.get_pool(app)))
    if "redis" in wanted and settings["REDIS_URL"]:
        made["redis"] = checks.Check("redis", checks.redis_probe(settings["REDIS_URL"]))
    if "broker" in wanted:
        made["broker"] = checks.Check("broker", checks.broker_probe(settings["BROKER_URL"]))
    return app.extensions.setdefault(EXTENSION_KEY, made)


@blp.route("/healthz")
class Liveness(MethodView):
    """Liveness."""

    @blp.doc(**PUBLIC)
    @blp.response(200, LivenessSchema)
    def get(self):
        """The process is alive (checks nothing else)"""
        return {"status": "alive"}


@blp.route("/readyz")
class Readiness(MethodView):
    """Readiness."""

    @blp.doc(**PUBLIC)
    @blp.response(200, ReadinessSchema)
    @blp.alt_response(503, schema=UnreadySchema, description="A dependency failed or hung.")
    def get(self):
        """The database answers, and Redis and the broker when configured (TSMETRICS_READY_CHECKS)

        Each dependency is checked in parallel with a deadline of
        TSMETRICS_HEALTH_TIMEOUT seconds, so the answer comes within about a
        second even when one hangs.
        """
        settings = current_app.config["TSMETRICS"]
        results = checks.run_checks(_checks(current_app), settings["HEALTH_TIMEOUT"])
        failed = sorted(name for name, result in results.items() if result["status"] != "ok")
        if not failed:
            return {"status": "ready", "checks": results}
        body = {
            "type": "about:blank",
            "title": "Service Unavailable",
            "status": 503,
            "detail": f"Not ready: {', '.join(failed)} did not answer.",
            "checks": results,
        }
        response = Response(orjson.dumps(body), 503, mimetype=problems.PROBLEM_JSON)
        response.headers["Retry-After"] = str(settings["RETRY_AFTER"])
        return response
