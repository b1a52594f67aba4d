"""The API against its own OpenAPI document (Schemathesis), authenticated with an admin token.

Every operation gets generated requests, valid and invalid: no answer may be a
5xx, and each must have a documented status code and match its documented
schema and content type (errors are documented, and served, as
application/problem+json). Kept to a few examples per operation so that it
runs in CI in well under a minute.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.helpers import at, store
from tsmetrics import create_app
from tsmetrics.security import tokens
from tsmetrics.store import catalogue

EXAMPLES = 50
# Operations with a known 5xx, skipped until fixed (then remove them from here,
# as tests/deploy/test_compose.py does with its pending settings). Found by this test.
# Operations known to answer a 5xx, with why; empty now, kept for the next regression.
KNOWN_5XX: dict[str, str] = {}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
SECURE = {
    "AUTH": "on",
    "ENV": "production",
    "SECRET_KEY": "fuzz-only-secret-key-0123456789abcdefghijklmnop",
    "TESTING": True,
    # Thousands of requests from one token: limits would only answer 429.
    **dict.fromkeys(
        ("RATE_LIMIT_READ", "RATE_LIMIT_INGEST", "RATE_LIMIT_ADMIN", "RATE_LIMIT_LOGIN"), ""
    ),
}


@pytest.fixture
def fuzzed_app(db, database_url):
    """An app with authentication on, over a little data, and an admin token for it."""
    test = catalogue.ensure_abtest(db, "feature_a", variants=["control", "treatment"])
    metric = catalogue.ensure_metric(db, "response_time", unit="ms")
    store(db, [(at("2025-11-09 12:00:00"), 1.0, test.id, metric.id, 0)])
    token, _ = tokens.issue(db, "fuzzer", ["read", "ingest", "admin"])
    app = create_app({**SECURE, "DATABASE_URL": database_url})
    app.config["FUZZ_TOKEN"] = token
    yield app
    app.extensions["tsmetrics.pool"].close()


def _fuzz(operation, token: str) -> None:
    @given(case=operation.as_strategy())
    # Derandomized: the same examples on every run, so CI fails for a change, not by chance.
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def run(case) -> None:
        case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

    run()


def test_every_operation_answers_as_documented(fuzzed_app):
    # Operations one by one (schemathesis' pytest plugin needs an app at import
    # time; this one needs the test database), failures collected, then reported.
    schema = schemathesis.openapi.from_wsgi("/openapi.json", fuzzed_app)
    failures, tried, names = [], 0, set()
    for result in schema.get_all_operations():
        operation = result.ok()
        name = f"{operation.method.upper()} {operation.path}"
        names.add(name)
        if name in KNOWN_5XX:
            continue
        tried += 1
        try:
            _fuzz(operation, fuzzed_app.config["FUZZ_TOKEN"])
        except (Exception, BaseExceptionGroup) as failure:  # all reported together below
            failures.append(f"{name}: {failure}")
    assert set(KNOWN_5XX) <= names, "a known failure names no operation: remove it"
    assert tried >= 15  # every API operation but the known ones
    assert not failures, "\n\n".join(failures)
