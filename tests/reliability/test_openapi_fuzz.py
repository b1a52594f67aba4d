"""The API against its own OpenAPI document (Schemathesis) and hand-written edge inputs.

Authenticated with an admin token, every operation gets generated requests,
valid and invalid: no answer may be a 5xx, and each must have a documented
status code and match its documented schema and content type (errors are
documented, and served, as application/problem+json). Then every kind of input
issue 14 found a 500 or a contract gap with (tests/reliability/fuzz_cases.py)
is sent by hand: each gets its right status, never a 5xx, and a refusal names
its fields as the documented {field: [message, ...]}.

Across both, no sample is lost or changed: around every request that can write
samples (POST /ingest) the samples table is read whole, and the rows before
must all be there after, plus exactly the `stored` new ones.

TSMETRICS_FUZZ_EXAMPLES (default 50) sets the generated examples per operation;
TSMETRICS_FUZZ_REPORT names a JSON file the figures are appended to
(bench/fuzz_api.py runs a bigger run that way).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import psycopg
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.reliability import fuzz_cases
from tests.reliability.fuzz_cases import Hand
from tests.security.helpers import log_in
from tests.support.helpers import at, store
from tsmetrics import create_app
from tsmetrics.security import tokens, users
from tsmetrics.store import catalogue

EXAMPLES = int(os.environ.get("TSMETRICS_FUZZ_EXAMPLES", "50"))
# Operations known to answer a 5xx, with why; empty now, kept for the next regression
# (skipped until fixed, then removed from here). Found by this test.
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
PASSWORD = "fuzz correct horse battery"


class SampleLedger:
    """The samples table read whole around each sample-writing request: nothing lost or changed."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.expected = self.read()
        self.checked = 0

    def read(self) -> Counter:
        """Every sample row, as a multiset."""
        rows = self.conn.execute(
            "SELECT time, value, abtest_id, metric_id, variant FROM samples"
        ).fetchall()
        return Counter(rows)

    def around(self, status: int, body: bytes, before: Counter) -> None:
        """Check one POST /ingest answered `status` with `body`, the table read `before` it."""
        after = self.read()
        lost = before - after
        assert not lost, f"samples lost or changed by a {status}: {list(lost)[:3]}"
        added = after - before
        stored = json.loads(body).get("stored", 0) if status in (200, 201) else 0
        assert sum(added.values()) == stored, (status, stored, sum(added.values()))
        self.expected += added
        self.checked += 1

    def finish(self) -> None:
        """Nothing but the stored batches changed the table over the whole run."""
        assert self.read() == self.expected, "samples changed outside POST /ingest"


@pytest.fixture
def fuzzed_app(db, database_url):
    """An app with authentication on, over a little data, an admin token and a dashboard user."""
    test = catalogue.ensure_abtest(
        db, fuzz_cases.TEST, variants=["control", "treatment"], status="running"
    )
    metric = catalogue.ensure_metric(db, fuzz_cases.METRIC, unit="ms")
    store(db, [(at("2025-11-09 12:00:00"), 1.0, test.id, metric.id, 0)])
    token, _ = tokens.issue(db, "fuzzer", ["read", "ingest", "admin"])
    users.create_user(db, "fuzzer", PASSWORD, "editor")
    app = create_app({**SECURE, "DATABASE_URL": database_url})
    app.config["FUZZ_TOKEN"] = token
    yield app
    app.extensions["tsmetrics.pool"].close()


def _report(**figures: object) -> None:
    path = os.environ.get("TSMETRICS_FUZZ_REPORT")
    if path:
        with Path(path).open("a") as report:
            report.write(json.dumps(figures) + "\n")
    print(figures)  # shown with -s, and in the log of a failed run


def _fuzz(operation, token: str, ledger: SampleLedger, tally: Counter) -> None:
    writes = operation.method.upper() == "POST" and operation.path == "/ingest"

    @given(case=operation.as_strategy())
    # Derandomized: the same examples on every run, so CI fails for a change, not by chance.
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case) -> None:
        before = ledger.read() if writes else None
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        tally["requests"] += 1
        tally["5xx"] += response.status_code >= 500
        case.validate_response(response, checks=CHECKS)
        if writes:
            ledger.around(response.status_code, response.content, before)

    run()


def test_every_operation_answers_as_documented(fuzzed_app, db):
    # Operations one by one (schemathesis' pytest plugin needs an app at import
    # time; this one needs the test database), failures collected, then reported.
    schema = schemathesis.openapi.from_wsgi("/openapi.json", fuzzed_app)
    ledger, tally = SampleLedger(db), Counter()
    failures, tried, names = [], 0, set()
    for result in schema.get_all_operations():
        operation = result.ok()
        name = f"{operation.method.upper()} {operation.path}"
        names.add(name)
        if name in KNOWN_5XX:
            continue
        tried += 1
        try:
            _fuzz(operation, fuzzed_app.config["FUZZ_TOKEN"], ledger, tally)
        except (Exception, BaseExceptionGroup) as failure:  # all reported together below
            failures.append(f"{name}: {failure}")
    ledger.finish()
    _report(
        test="generated",
        examples_per_operation=EXAMPLES,
        operations=tried,
        requests=tally["requests"],
        responses_5xx=tally["5xx"],
        ingest_requests_checked=ledger.checked,
    )
    assert set(KNOWN_5XX) <= names, "a known failure names no operation: remove it"
    assert tried >= 15  # every API operation but the known ones
    assert not failures, "\n\n".join(failures)
    assert tally["requests"] >= tried * min(EXAMPLES, 10) and tally["5xx"] == 0


def _send(client, hand: fuzz_cases.Hand, token: str):
    headers = {} if hand.page else {"Authorization": f"Bearer {token}"}
    if hand.content_type is not None:
        headers["Content-Type"] = hand.content_type
    if hand.page:
        headers["Accept"] = "text/html"
    return client.open(hand.path, method=hand.method, data=hand.body, headers=headers)


def _check_problem(hand: fuzz_cases.Hand, response) -> None:
    assert response.mimetype == "application/problem+json", (hand, response.mimetype)
    problem = response.get_json()
    assert problem["status"] == response.status_code and problem["detail"], problem
    for field, messages in problem.get("errors", {}).items():
        assert isinstance(messages, list), (hand.kind, field, messages)
        assert all(isinstance(message, str) for message in messages), (field, messages)


def _send_all(app, db, hands: list[fuzz_cases.Hand], test: str) -> None:
    client = app.test_client()
    assert log_in(client, "fuzzer", PASSWORD).status_code == 302
    token, ledger = app.config["FUZZ_TOKEN"], SampleLedger(db)
    sent, failures = Counter(), []
    for hand in hands:
        writes = hand.method == "POST" and hand.path == "/ingest"
        before = ledger.read() if writes else None
        response = _send(client, hand, token)
        sent[hand.kind] += 1
        status = response.status_code
        wrong = status >= 500 or (hand.allowed and status not in hand.allowed)
        try:
            assert not wrong, f"{status} {response.get_data(as_text=True)[:200]}"
            if status >= 400 and not hand.page:
                _check_problem(hand, response)
            if writes:
                ledger.around(status, response.get_data(), before)
        except AssertionError as failure:
            body = (hand.body or b"")[:80]
            reason = str(failure).splitlines()[0]
            failures.append(f"{hand.kind}: {hand.method} {hand.path[:100]} {body!r}: {reason}")
    ledger.finish()
    _report(
        test=test,
        requests=sum(sent.values()),
        by_kind=dict(sent),
        failures=len(failures),
        ingest_requests_checked=ledger.checked,
    )
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures[:40])
    assert min(sent.values()) >= 9


def test_every_hand_input_gets_its_status_and_never_a_5xx(fuzzed_app, db):
    hands = fuzz_cases.every_kind()
    assert len({hand.kind for hand in hands}) == 9
    _send_all(fuzzed_app, db, hands, "hand")


# Issue 14 item 1 came from another branch (wt-values, merged into main first): a
# value range per metric (catalogue.Metric.value_min/value_max) that refuses these
# at ingestion, and overflow-safe statistics. Without it, 1e308 and its like
# overflow the minute sums (a 500); with it this test must pass (checked on a
# merge of main and this branch), so the mark holds only where the range is absent.
@pytest.mark.xfail(
    "value_min" not in catalogue.Metric.__dataclass_fields__,
    strict=True,
    reason="issue 14 item 1 (value ranges) is not in this tree",
)
def test_poisoned_values_are_stored_or_refused_and_every_read_still_answers(fuzzed_app, db):
    reads = [
        Hand("poisoned reads", "GET", path)
        for path in (
            f"/metrics?abTestName={fuzz_cases.TEST}&metricName={fuzz_cases.METRIC}&granularity=1d",
            f"/abtest/{fuzz_cases.TEST}/compare",
            f"/abtest/{fuzz_cases.TEST}/compare/over-time",
            f"/abtest/{fuzz_cases.TEST}/plan",
            "/overview",
        )
    ]
    hands = []
    for poison in fuzz_cases.poisoned_values():
        hands += [poison, *reads]
    _send_all(fuzzed_app, db, hands, "poisoned")
