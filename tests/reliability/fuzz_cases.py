"""Hand-written inputs for the API fuzz test: each kind of input issue 14 found a 500 or gap with.

Schemathesis draws requests from the OpenAPI document; these are the inputs a
generator rarely draws (a date at the edge of the calendar, JSON 1,500 levels
deep, a lone surrogate, a float at the edge of the double range). Each case
says which statuses are right for it; every one must be below 500.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

TEST, METRIC = "feature_a", "response_time"
NOW = int(time.time()) // 60 * 60 - 120
REFUSED = frozenset({400})
TOO_LARGE = frozenset({400, 413})  # a deep body may pass TSMETRICS_MAX_REQUEST_BYTES


@dataclass(frozen=True)
class Hand:
    """One request; `allowed` are the right statuses for it (any status below 500 if empty)."""

    kind: str
    method: str
    path: str
    body: bytes | None = None
    content_type: str | None = "application/json"
    allowed: frozenset[int] = field(default_factory=frozenset)
    page: bool = False  # a dashboard page: sent with the logged-in session, not the token


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _raw_json(text: str) -> bytes:
    # Built as text: json.dumps would escape or refuse what these cases need to send.
    return text.encode("utf-8", "surrogatepass")


EDGE_MOMENTS = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00%2B14:00",
    "0001-01-01T00:00:00-14:00",
    "1969-12-31T23:59:59Z",
    "1970-01-01T00:00:00Z",
    "9998-12-31T23:00:00Z",
    "9999-01-01T00:00:00Z",
    "9999-01-01T00:00:01Z",
    "9999-12-31T23:00:00Z",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-14:00",
]
_IN_RANGE = {"1970-01-01T00:00:00Z", "9998-12-31T23:00:00Z", "9999-01-01T00:00:00Z"}
_READS = [
    f"/metrics?abTestName={TEST}&metricName={METRIC}&granularity=1d&",
    f"/metrics?abTestName={TEST}&metricName={METRIC}&granularity=auto&",
    f"/abtest/{TEST}/compare?",
    f"/abtest/{TEST}/compare/over-time?",
    f"/abtest/{TEST}/plan?",
]


def edge_dates() -> list[Hand]:
    """Every read with each edge moment as start, as end, and the issue's pairs; the dashboard."""
    cases = []
    for read in _READS:
        for moment in EDGE_MOMENTS:
            for name in ("start", "end"):
                allowed = frozenset() if moment in _IN_RANGE else REFUSED
                cases.append(Hand("edge dates", "GET", f"{read}{name}={moment}", allowed=allowed))
        cases.append(
            Hand("edge dates", "GET", f"{read}start=9999-12-31T23:00:00Z&end=9999-12-31T23:59:59Z")
        )
        cases.append(
            Hand("edge dates", "GET", f"{read}start=1970-01-01T00:00:00Z&end=9999-01-01T00:00:00Z")
        )
    for page in (f"/dashboard/abtests/{TEST}", f"/dashboard/abtests/{TEST}/charts/{METRIC}"):
        for start, end in [
            ("9999-12-31T23:00", "9999-12-31T23:59"),
            ("0001-01-01T00:00", "0001-01-02T00:00"),
            ("0001-01-01T00:00%2B14:00", "1970-01-02T00:00"),
            ("1970-01-01T00:00", "1970-01-02T00:00"),
            ("9998-12-31T00:00", "9999-01-01T00:00"),
        ]:
            path = f"{page}?range=custom&start={start}&end={end}"
            cases.append(Hand("edge dates", "GET", path, page=True))
    for moment in (
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59Z",
        "9999-12-31T23:59:59-14:00",
    ):
        cases.append(
            Hand(
                "edge dates",
                "PATCH",
                f"/abtest/{TEST}",
                _json({"plannedEnd": moment}),
                allowed=REFUSED,
            )
        )
        token = {"name": "edge", "scopes": ["read"], "expiresAt": moment}
        cases.append(Hand("edge dates", "POST", "/tokens", _json(token), allowed=REFUSED))
    return cases


def deep_json() -> list[Hand]:
    """Nested arrays and objects from 31 to 100,000 levels, in a field of each body and whole."""
    cases = []
    targets = [
        ("POST", "/abtest", '{"name": "deep", "title": %s}'),
        ("PATCH", f"/abtest/{TEST}", '{"description": %s}'),
        ("POST", "/metrics/catalogue", '{"name": "deep", "unit": %s}'),
        ("POST", "/tokens", '{"name": "deep", "scopes": %s}'),
        ("POST", "/ingest", '{"abTest": "feature_a", "variant": "control", "samples": %s}'),
    ]
    for depth in (31, 33, 1_000, 1_500, 100_000):
        for nested in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
            for method, path, template in targets:
                body = _raw_json(template % nested)
                cases.append(Hand("deep JSON", method, path, body, allowed=TOO_LARGE))
            cases.append(Hand("deep JSON", "POST", "/abtest", _raw_json(nested), allowed=TOO_LARGE))
    return cases


def lone_surrogates() -> list[Hand]:
    """Lone high and low surrogates in every text field, as keys, and in /ingest's names."""
    cases = []
    for text in ("\\ud800", "\\udfff", "a\\ud800b", "\\udc00\\ud800"):
        bodies = [
            ("POST", "/abtest", '{"name": "lone", "title": "%s"}'),
            ("POST", "/abtest", '{"name": "lone", "variants": ["control", "%s"]}'),
            ("POST", "/abtest", '{"name": "lone", "metricPlans": {"%s": null}}'),
            ("POST", "/abtest", '{"name": "lone", "%s": 1}'),
            ("POST", "/abtest", '{"name": "%s"}'),
            ("PATCH", f"/abtest/{TEST}", '{"hypothesis": "%s"}'),
            ("PATCH", f"/abtest/{TEST}", '{"description": "%s"}'),
            ("POST", "/metrics/catalogue", '{"name": "lone", "unit": "%s"}'),
            ("PATCH", f"/metrics/catalogue/{METRIC}", '{"description": "%s"}'),
            ("POST", "/tokens", '{"name": "%s", "scopes": ["read"]}'),
            ("POST", "/tokens", '{"name": "lone", "scopes": ["read"], "rateLimit": "%s"}'),
            ("POST", "/ingest", '{"abTest": "%s", "variant": "control", "samples": []}'),
            ("POST", "/ingest", _ingest_text(variant="%s")),
            ("POST", "/ingest", _ingest_text(metric="%s")),
        ]
        for method, path, template in bodies:
            body = _raw_json(template.replace("%s", text))
            cases.append(Hand("lone surrogates", method, path, body, allowed=REFUSED))
    # A surrogate pair is one character (U+1F600): taken, not refused.
    pair = _raw_json('{"title": "ok \\ud83d\\ude00"}')
    cases.append(Hand("lone surrogates", "PATCH", f"/abtest/{TEST}", pair, allowed={200}))
    return cases


def _ingest_text(*, variant: str = "control", metric: str = METRIC, value: str = "1.5") -> str:
    sample = f'{{"metric": "{metric}", "value": {value}, "time": {NOW}}}'
    return f'{{"abTest": "{TEST}", "variant": "{variant}", "samples": [{sample}]}}'


def expected_split() -> list[Hand]:
    """Weights at and past the documented 0.001 to 1,000, and of the wrong length."""
    cases = []
    refused = [
        "[5e-324, 1]",
        "[1e308, 1e308]",
        "[1e400, 1]",
        "[NaN, 1]",
        "[0, 1]",
        "[-1, 1]",
        "[0.0009, 1]",
        "[1, 1000.001]",
        "[1]",
        "[1, 1, 1]",
        '["1", "1"]',
        "[true, 1]",
    ]
    for split in refused:
        for method, path, head in [
            ("POST", "/abtest", '{"name": "split", "expectedSplit": '),
            ("PATCH", f"/abtest/{TEST}", '{"expectedSplit": '),
        ]:
            body = _raw_json(head + split + "}")
            cases.append(Hand("expected split", method, path, body, allowed=REFUSED))
    for split in ("[0.001, 1000]", "[1000, 0.001]", "[1, 3]", "null"):
        body = _raw_json('{"expectedSplit": ' + split + "}")
        cases.append(Hand("expected split", "PATCH", f"/abtest/{TEST}", body, allowed={200}))
    return cases


def empty_patch() -> list[Hand]:
    """PATCH without a change: no body, empty, {}, and bodies that are not objects."""
    cases = []
    for path in (f"/abtest/{TEST}", f"/metrics/catalogue/{METRIC}"):
        cases.append(Hand("empty PATCH", "PATCH", path, None, content_type=None, allowed=REFUSED))
        for body in (b"", b"{}", b"null", b"[]", b"0", b'""', b"   "):
            cases.append(Hand("empty PATCH", "PATCH", path, body, allowed=REFUSED))
    return cases


def strict_types() -> list[Hand]:
    """JSON values of the wrong type for booleans and integers: refused, never coerced."""
    cases = []
    wrong = {
        "higherIsBetter": ['"yes"', '"true"', "1", "0", '"1"', "null", "[]"],
        "displayDecimals": ["2.5", '"2"', "true", "1e300", "-1", "7", "null"],
    }
    for name, values in wrong.items():
        for value in values:
            create = _raw_json(f'{{"name": "strict", "{name}": {value}}}')
            cases.append(
                Hand("strict types", "POST", "/metrics/catalogue", create, allowed=REFUSED)
            )
            change = _raw_json(f'{{"{name}": {value}}}')
            path = f"/metrics/catalogue/{METRIC}"
            cases.append(Hand("strict types", "PATCH", path, change, allowed=REFUSED))
    for name, value in [
        ("archived", '"yes"'),
        ("archived", "1"),
        ("plannedSamples", "1.5"),
        ("plannedSamples", '"3"'),
        ("plannedSamples", "true"),
        ("sequentialNStar", "2.5"),
    ]:
        path = f"/metrics/catalogue/{METRIC}" if name == "archived" else f"/abtest/{TEST}"
        body = _raw_json(f'{{"{name}": {value}}}')
        cases.append(Hand("strict types", "PATCH", path, body, allowed=REFUSED))
    guardrail = '{"metricPlans": {"response_time": {"mdeRelative": 0.1, "guardrail": "yes"}}}'
    cases.append(
        Hand("strict types", "PATCH", f"/abtest/{TEST}", _raw_json(guardrail), allowed=REFUSED)
    )
    for value in ("true", "false"):
        body = _raw_json(f'{{"higherIsBetter": {value}, "displayDecimals": 3.0}}')
        path = f"/metrics/catalogue/{METRIC}"
        cases.append(Hand("strict types", "PATCH", path, body, allowed={200}))
    return cases


def token_rates() -> list[Hand]:
    """Token rates that allow nothing or do not parse are refused; one a period is taken."""
    cases = []
    refused = ["0/minute", "0 per second", "10/second;0/hour", "-1/minute", "x", "/minute", ""]
    for number, rate in enumerate(refused):
        body = {"name": f"rate-{number}", "scopes": ["read"], "rateLimit": rate}
        allowed = {201} if rate == "" else REFUSED  # empty: no limit of its own
        cases.append(Hand("token rate", "POST", "/tokens", _json(body), allowed=frozenset(allowed)))
    for number, rate in enumerate(["1/minute", "1 per day", "10/second;600/hour"]):
        body = {"name": f"rate-ok-{number}", "scopes": ["read"], "rateLimit": rate}
        cases.append(Hand("token rate", "POST", "/tokens", _json(body), allowed={201}))
    return cases


def content_types() -> list[Hand]:
    """/ingest with every kind of Content-Type but JSON: 415, and JSON with a charset taken."""
    cases = []
    body = _raw_json(_ingest_text())
    for content_type in (
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "application/jsonx",
        "application/problem+json",
    ):
        cases.append(Hand("content type", "POST", "/ingest", body, content_type, allowed={415}))
    for content_type in ("application/json; charset=utf-8", "Application/JSON"):
        cases.append(Hand("content type", "POST", "/ingest", body, content_type, allowed={201}))
    return cases


def list_items() -> list[Hand]:
    """Bad items of every list in a body: errors as the documented array of strings."""
    bodies = [
        ("POST", "/abtest", {"name": "items", "variants": ["control", "Bad!"]}),
        ("POST", "/abtest", {"name": "items", "variants": ["control", 7, None]}),
        ("POST", "/abtest", {"name": "items", "expectedSplit": [1, "x"]}),
        ("PATCH", f"/abtest/{TEST}", {"variants": ["a", "a"]}),
        ("POST", "/tokens", {"name": "items", "scopes": ["read", "root"]}),
        ("POST", "/tokens", {"name": "items", "scopes": [None]}),
        ("POST", "/ingest", {"abTest": TEST, "variant": "control", "samples": [1, {"x": 1}]}),
    ]
    cases = [
        Hand("list items", method, path, _json(body), allowed=REFUSED)
        for method, path, body in bodies
    ]
    for query in ("metric=Bad!&metric=response_time", "metric=&metric=x" * 3):
        path = f"/abtest/{TEST}/compare?{query}"
        cases.append(Hand("list items", "GET", path, allowed=frozenset({400, 404})))
    return cases


POISONED_VALUES = [
    "2e305",
    "1.8e305",
    "1e200",
    "-1e200",
    "1e308",
    "1.7976931348623157e308",
    "-1.7976931348623157e308",
    "5e-324",
    "1e400",
    "-1e400",
    "NaN",
    "Infinity",
    "1e15",
    "123456789012345678901234567890",
]


def poisoned_values() -> list[Hand]:
    """Values at and past the edge of a double in /ingest: stored (201) or refused (400)."""
    return [
        Hand("poisoned values", "POST", "/ingest", _raw_json(_ingest_text(value=value)),
             allowed=frozenset({201, 400}))
        for value in POISONED_VALUES
    ]  # fmt: skip


def every_kind() -> list[Hand]:
    """The hand inputs of every kind but the poisoned values (issue 14 item 1), kind by kind."""
    return [
        *edge_dates(),
        *deep_json(),
        *lone_surrogates(),
        *expected_split(),
        *empty_patch(),
        *strict_types(),
        *token_rates(),
        *content_types(),
        *list_items(),
    ]
