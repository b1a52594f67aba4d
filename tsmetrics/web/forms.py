"""The dashboard's management forms: their fields as the management API's bodies, and its errors.

A form posts the API's fields under the API's names (`expectedSplit`,
`higherIsBetter`, ...). These functions turn the strings into the bodies of
POST/PATCH /abtest and /metrics/catalogue, so the API's schemas and
tsmetrics.management check both, with the same messages: no rule is written twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import marshmallow as ma
import psycopg
from flask import request
from werkzeug.wrappers import Response

from tsmetrics import errors
from tsmetrics.security import identity
from tsmetrics.web import htmx

# Variants: one a line or comma-separated. Weights: "50, 50", "50/50", "1:3", "1 3".
_ITEMS = re.compile(r"[,\r\n]+")
_NUMBERS = re.compile(r"[\s,:/;]+")
_ABTEST_TEXT = ("title", "description", "hypothesis")
_METRIC_TEXT = ("unit", "description")
# Fields sent only when filled in (an empty one keeps the stored or default value).
_METRIC_CHOICES = (
    "kind",
    "higherIsBetter",
    "displayDecimals",
    "analysisUnit",
    "valueMin",
    "valueMax",
)
_COUNTS = ("plannedSamples", "sequentialNStar")
# A datetime-local input's value has no offset: the form says it is UTC.
_LOCAL_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?$")
# A form's strings for the API's JSON booleans.
BOOLEANS = {"true": True, "false": False}
MDE_PREFIX, GUARDRAIL_PREFIX = "mde-", "guardrail-"
# The header an htmx field check sends: validate everything, change nothing.
VALIDATE_HEADER = "X-Validate-Only"


@dataclass
class Checked:
    """A form's loaded body, and its errors by field: 422 for invalid input, 409 for a clash."""

    data: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    status: int = 200

    def refuse(self, error: errors.Conflict | errors.Invalid) -> None:
        """Record a management rule's refusal next to its field."""
        self.errors.setdefault(error.field, []).append(error.message)
        conflict = isinstance(error, errors.Conflict)
        self.status = max(self.status, 409 if conflict else 422)

    @property
    def ok(self) -> bool:
        """True when nothing was refused."""
        return not self.errors


def validating() -> bool:
    """True for an htmx field check, which must change nothing."""
    return request.headers.get(VALIDATE_HEADER) == "true"


def respond(
    page: str, fragment: str, context: dict[str, Any], status: int = 200, *, changed: str = ""
) -> Response:
    """The page, or for htmx its form's fragment; `changed` names the event a success triggers.

    Viewers see the forms disabled: the policy refuses their POSTs anyway.
    """
    context = {"can_edit": identity.current().has_role("editor"), "errors": {}} | context
    response = htmx.respond(page, fragment, context, status)
    if changed and status < 300:
        response.headers["HX-Trigger"] = changed
    return response


def _items(text: str, pattern: re.Pattern[str]) -> list[str]:
    return [item.strip() for item in pattern.split(text) if item.strip()]


def _number(text: str, parse: Callable[[str], Any]) -> Any:
    # What does not parse goes to the schema as typed, which names the field and why.
    try:
        return parse(text)
    except ValueError:
        return text


def _percent(text: str) -> Any:
    value = _number(text.strip().rstrip("%").strip(), float)
    return value / 100 if isinstance(value, float) else text


def _plan_fields(form: Mapping[str, str], creating: bool) -> dict[str, Any]:
    """The inference and plan fields; on an edit, an empty one clears what was set."""
    body: dict[str, Any] = {}
    if inference := form.get("inference", "").strip():
        body["inference"] = inference
    end = form.get("plannedEnd", "").strip()
    body["plannedEnd"] = end + "Z" if _LOCAL_TIME.match(end) else end or None
    for key in _COUNTS:
        text = form.get(key, "").strip()
        body[key] = _number(text, int) if text else None
    plans = {}
    for key in form:
        if key.startswith(MDE_PREFIX):
            metric = key[len(MDE_PREFIX) :]
            mde = form.get(key, "").strip()
            guardrail = form.get(GUARDRAIL_PREFIX + metric) == "on"
            if mde or guardrail or not creating:
                plans[metric] = {"mdeRelative": _percent(mde) if mde else None}
                plans[metric]["guardrail"] = guardrail
    if plans:
        body["metricPlans"] = plans
    return {k: v for k, v in body.items() if v is not None} if creating else body


def abtest_body(form: Mapping[str, str], *, creating: bool) -> dict[str, Any]:
    """The POST /abtest (creating) or PATCH /abtest/{name} body that a form stands for."""
    body: dict[str, Any] = {key: form.get(key, "").strip() for key in _ABTEST_TEXT}
    body |= _plan_fields(form, creating)
    variants = _items(form.get("variants", ""), _ITEMS)
    split = [_number(item, float) for item in _items(form.get("expectedSplit", ""), _NUMBERS)]
    if not creating:
        # An empty split is an equal one; empty variants are refused by the schema.
        return body | {"variants": variants, "expectedSplit": split or None}
    if name := form.get("name", "").strip():
        body["name"] = name
    body["status"] = form.get("status") or "draft"
    if variants:
        body["variants"] = variants
    if split:
        body["expectedSplit"] = split
    return body


def metric_body(form: Mapping[str, str], *, creating: bool) -> dict[str, Any]:
    """The POST /metrics/catalogue (creating) or PATCH body that a form stands for."""
    body: dict[str, Any] = {key: form.get(key, "").strip() for key in _METRIC_TEXT}
    if creating and (name := form.get("name", "").strip()):
        body["name"] = name
    for key in _METRIC_CHOICES:
        if value := form.get(key, "").strip():
            body[key] = value
    # The API takes JSON's own types only (true, 2); a form has only strings.
    if body.get("higherIsBetter") in BOOLEANS:
        body["higherIsBetter"] = BOOLEANS[body["higherIsBetter"]]
    if "displayDecimals" in body:
        body["displayDecimals"] = _number(body["displayDecimals"], int)
    # An unticked checkbox posts nothing: the form always has the box, so that is false.
    # Anything but "true" goes on as typed, for the schema to refuse.
    distribution = form.get("distribution", "false").strip()
    body["distribution"] = BOOLEANS.get(distribution, distribution)
    return body


def load(schema: ma.Schema, body: dict[str, Any]) -> Checked:
    """The body as the API's schema loads it, or its messages by field (422)."""
    try:
        return Checked(schema.load(body))
    except ma.ValidationError as error:
        messages = error.normalized_messages()
        errors = {
            key: [str(m) for m in (value if isinstance(value, list) else [value])]
            for key, value in messages.items()
        }
        return Checked(errors=errors, status=422)


def apply(
    checked: Checked,
    conn: psycopg.Connection,
    function: Callable[..., Any],
    *args: Any,
    dry_run: bool = False,
) -> Any:
    """Run management `function(conn, *args)`; a Conflict or Invalid becomes a field error.

    With `dry_run` its transaction is rolled back either way: a field check
    meets exactly the rules a submission would, duplicates included.
    """
    try:
        if not dry_run:
            return function(conn, *args)
        with conn.transaction(force_rollback=True):
            return function(conn, *args)
    except (errors.Conflict, errors.Invalid) as error:
        checked.refuse(error)
        return None


def create(
    conn: psycopg.Connection,
    schema: ma.Schema,
    function: Callable[..., Any],
    body: dict[str, Any],
    *,
    dry_run: bool,
) -> tuple[Checked, Any]:
    """The body loaded by `schema`, and what management `function` made of it (None if refused)."""
    checked = load(schema, body)
    if checked.ok:
        return checked, apply(checked, conn, function, checked.data, dry_run=dry_run)
    if "name" in body and "name" not in checked.errors:
        # A taken name is said at once, while other fields are still wrong.
        apply(checked, conn, function, schema.load({"name": body["name"]}), dry_run=True)
    return checked, None
