"""SQL injection in every string parameter is stored verbatim or refused, never executed.

The operations and their parameters come from the OpenAPI document at test
time, so operations added later are attacked too: each string in the path,
the query, a header or the JSON body gets each payload in turn, on top of an
otherwise valid request built from the schema's examples.
"""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import quote

import pytest

from tests.security.helpers import bearer, log_in
from tests.support.helpers import at, store

PAYLOADS = (
    "' OR 1=1 --",
    "feature_a'; DROP TABLE samples; --",
    '"; DELETE FROM abtests; --',
    "x') UNION SELECT token_hash::text FROM api_tokens --",
)
TABLES = ("samples", "rollups", "series", "abtests", "metrics", "api_tokens", "users")
LIMITS = {f"RATE_LIMIT_{name}": "" for name in ("READ", "INGEST", "ADMIN", "DASHBOARD", "LOGIN")}
_DEFAULTS = {"integer": 1, "number": 1.0, "boolean": False}


def _resolve(spec: dict, schema: dict) -> dict:
    if "$ref" in schema:
        return spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _sample(spec: dict, schema: dict, minimal: bool = False) -> Any:
    """A plausible value of `schema`: its example, first enum, or a default of its type.

    `minimal` keeps only an object's required properties and those with examples,
    which makes a valid request more likely; the full sample names every field.
    """
    schema = _resolve(spec, schema)
    if "example" in schema:
        return copy.deepcopy(schema["example"])
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        required = set(schema.get("required", ()))
        return {
            name: _sample(spec, sub)
            for name, sub in schema.get("properties", {}).items()
            if not minimal or name in required or "example" in _resolve(spec, sub)
        }
    if kind == "array":
        return [_sample(spec, schema.get("items", {}))]
    if schema.get("format") == "date-time" or "oneOf" in schema:
        return "2025-11-09T12:00:00Z"
    return _DEFAULTS.get(kind, "x")


def _string_paths(value: Any, path: tuple = ()) -> list[tuple]:
    """Paths (keys and indexes) to every string inside a JSON value."""
    if isinstance(value, str):
        return [path]
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in _string_paths(item, (*path, key))]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in _string_paths(item, (*path, index))]
    return []


def _replace(value: Any, path: tuple, payload: str) -> Any:
    changed = copy.deepcopy(value)
    target = changed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = payload
    return changed


def _requests(spec: dict):
    """(method, path template, parameters, (minimal body, full body)) of every operation."""
    for template, operations in spec["paths"].items():
        shared = operations.get("parameters", [])
        for method, operation in operations.items():
            if method == "parameters":
                continue
            params = shared + operation.get("parameters", [])
            content = operation.get("requestBody", {}).get("content", {}).get("application/json")
            bodies = (None, None)
            if content:
                example = content.get("example")
                bodies = (
                    example or _sample(spec, content["schema"], minimal=True),
                    example or _sample(spec, content["schema"]),
                )
            yield method.upper(), template, params, bodies


def _send(client, headers, method, template, params, body, inject):
    path = template
    query: dict[str, Any] = {}
    extra = dict(headers)
    for param in params:
        schema = param.get("schema", {})
        value = inject.get(param["name"])
        if value is None:
            if param["in"] == "path":
                value = "response_time" if template.startswith("/metrics") else "feature_a"
                value = 1 if schema.get("type") == "integer" else value
            elif "example" in schema or "example" in param:
                value = param.get("example", schema.get("example"))
            else:
                continue
        if param["in"] == "path":
            path = path.replace("{" + param["name"] + "}", quote(str(value), safe=""))
        elif param["in"] == "query":
            query[param["name"]] = value
        elif param["in"] == "header":
            extra[param["name"]] = value
    return client.open(path, method=method, query_string=query, json=body, headers=extra)


@pytest.fixture
def attacked(make_app, make_token, feature_a, db):
    """An app with one test, one metric and two samples; an all-scopes token; no rate limits."""
    test, metric = feature_a
    store(db, [(at("2025-11-09 12:00:00"), 1.0, test.id, metric.id, 0)] * 2)
    app = make_app(**LIMITS)
    return app.test_client(), bearer(make_token("read", "ingest", "admin"))


def _assert_intact(db) -> None:
    for table in TABLES:
        assert db.execute("SELECT to_regclass(%s)", [table]).fetchone()[0] is not None, table
    assert db.execute("SELECT count(*) FROM samples").fetchone()[0] == 2
    assert db.execute("SELECT count(*) FROM abtests WHERE name = 'feature_a'").fetchone()[0] == 1


def test_every_string_of_every_api_operation(attacked, db):
    client, headers = attacked
    spec = client.get("/openapi.json").get_json()
    tried = 0
    for method, template, params, (body, full) in _requests(spec):
        string_params = [
            p["name"]
            for p in params
            if p.get("schema", {}).get("type") in ("string", "array", None)
        ]
        body_paths = _string_paths(full) if full is not None else []
        for payload in PAYLOADS:
            for name in string_params:
                value = [payload] if params and _is_array(params, name) else payload
                response = _send(client, headers, method, template, params, body, {name: value})
                assert response.status_code < 500, f"{method} {template} {name}: {payload}"
                tried += 1
            for path in body_paths:
                changed = _replace({**body, path[0]: full[path[0]]}, path, payload)
                if path != ("name",) and "name" in changed:
                    changed["name"] = f"{changed['name']}_{tried}"  # no 409: let it be stored
                response = _send(client, headers, method, template, params, changed, {})
                assert response.status_code < 500, f"{method} {template} body {path}: {payload}"
                tried += 1
    assert tried > 50
    _assert_intact(db)


def _is_array(params: list[dict], name: str) -> bool:
    return any(p["name"] == name and p.get("schema", {}).get("type") == "array" for p in params)


def test_stored_payloads_are_stored_verbatim(attacked, db):
    client, headers = attacked
    for payload in PAYLOADS:
        response = client.post(
            "/tokens", json={"name": payload, "scopes": ["read"]}, headers=headers
        )
        assert response.status_code == 201
        assert response.get_json()["name"] == payload
    names = {row[0] for row in db.execute("SELECT name FROM api_tokens")}
    assert set(PAYLOADS) <= names
    _assert_intact(db)


def test_dashboard_parameters_and_the_login_form(attacked, make_user, db):
    client, _headers = attacked
    make_user("eve", "editor")
    for payload in PAYLOADS:
        assert "Wrong" in log_in(client, payload, payload).text
    log_in(client, "eve")
    html = {"Accept": "text/html"}
    for payload in PAYLOADS:
        quoted = quote(payload, safe="")
        for url in (
            f"/dashboard/?q={quoted}",
            f"/dashboard/?status={quoted}",
            f"/dashboard/abtests/{quoted}",
            f"/dashboard/abtests/feature_a?range={quoted}&variant={quoted}",
            f"/dashboard/abtests/feature_a/charts/{quoted}",
        ):
            assert client.get(url, headers=html).status_code < 500, url
    _assert_intact(db)
