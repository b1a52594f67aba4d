"""The JSON API: flask-smorest blueprints, OpenAPI at /openapi.json, Swagger UI at /swagger."""

from __future__ import annotations

import http
from typing import ClassVar

from flask import Flask
from flask_smorest import Api, Blueprint, abort
from flask_smorest.utils import prepare_response
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from tsmetrics import problems
from tsmetrics.api import json_body
from tsmetrics.api.contract import RulesPlugin
from tsmetrics.schemas.problem import ProblemSchema


class _Parser(FlaskParser):
    """webargs' Flask parser: 400 for bad input, unknown query parameters refused, safe JSON."""

    # The sketch answered 400 to bad input; webargs' default is 422.
    DEFAULT_VALIDATION_STATUS = 400
    # None: each schema's Meta.unknown decides, so a misspelt query parameter
    # is refused by name instead of silently ignored.
    DEFAULT_UNKNOWN_BY_LOCATION: ClassVar = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": None,
    }

    def _raw_load_json(self, req):
        """The body's JSON through json_body.load: too deep or a lone surrogate is a 400."""
        if not is_json_request(req):
            return core.missing
        try:
            return json_body.load(req.get_data(cache=True))
        except json_body.BodyRefused as refused:
            abort(
                400,
                message=f"The JSON body was refused: {refused.message}",
                errors={refused.field: [refused.message]},
            )


Blueprint.ARGUMENTS_PARSER = _Parser()


class TSMetricsApi(Api):
    """flask-smorest's Api with errors as problem+json, negotiated with the pages."""

    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error):
        """Delegate to the app's single error negotiation point."""
        return problems.handle_http_exception(error)

    def _register_responses(self):
        """Document error responses as application/problem+json, the type they are served as."""
        for status in http.HTTPStatus:
            response: dict = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
                prepare_response(response, self.spec, problems.PROBLEM_JSON)
            elif not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
                prepare_response(response, self.spec, self.DEFAULT_RESPONSE_CONTENT_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        default = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(default, self.spec, problems.PROBLEM_JSON)
        self.spec.components.response("DEFAULT_ERROR", default, lazy=True)


API_CONFIG = {
    "API_TITLE": "TSMetrics API",
    "API_VERSION": "1.0",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/",
    "OPENAPI_JSON_PATH": "openapi.json",
    "API_SPEC_OPTIONS": {
        "info": {
            "description": "A/B-test metrics as time series: exact aggregates over raw samples. "
            "Every error is `application/problem+json`."
        },
        # Every operation needs a bearer token (`tsmetrics token create`); Swagger
        # UI's Authorize button sends it.
        "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearerAuth": []}],
    },
}


def init_app(app: Flask) -> Api:
    """Register every API blueprint on the app."""
    from tsmetrics.api import abtests, analysis, catalogue, health, ingest, metrics, tokens

    for key, value in API_CONFIG.items():
        app.config.setdefault(key, value)
    api = TSMetricsApi(app, spec_kwargs={"extra_plugins": [RulesPlugin()]})
    for module in (metrics, abtests, catalogue, analysis, ingest, tokens, health):
        api.register_blueprint(module.blp)
    return api
