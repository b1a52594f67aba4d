"""The sample batch: one JSON format for the queue and HTTP, one validation path to SampleColumns.

A batch is `{"abTest": ..., "variant": ..., "samples": [{"metric", "value", "time"}, ...]}`;
schemas/sample-batch.schema.json describes it for producers in other languages.
Errors name the field path (`samples[3].value`) and say why, for both entry points.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import orjson

from tsmetrics.ingest.catalogue_cache import Catalogue, CatalogueCache
from tsmetrics.ingest.limits import Limits
from tsmetrics.ingest.sample_checks import SLUG, sample_columns, short_key
from tsmetrics.store.samples import SampleColumns

MAX_SAMPLES = 10_000
MAX_BATCH_ID_LENGTH = 200
FIELDS = ("abTest", "variant", "samples")
# Why a batch was refused; the consumer's dead-letter header starts with one.
NOT_JSON, INVALID, UNKNOWN_NAME, TOO_LARGE, MISSING_ID = (
    "not-json",
    "invalid",
    "unknown-name",
    "too-large",
    "missing-id",
)
_REASON_CHARS = 1000


class BatchRejected(ValueError):
    """The batch cannot be stored; `errors` maps field paths to reasons, `code` says what kind."""

    def __init__(
        self, code: str, errors: dict[str, list[str]], *, catalogue_bound: bool = False
    ) -> None:
        self.code = code
        self.errors = errors
        # Every problem is an unknown name or a value outside its metric's range:
        # a newer catalogue might accept the batch.
        self.catalogue_bound = catalogue_bound or code == UNKNOWN_NAME
        super().__init__(self.reason())

    def reason(self, limit: int = _REASON_CHARS) -> str:
        """One line for a log or a dead-letter header: the code, then each path and why."""
        text = f"{self.code}: " + "; ".join(
            f"{path}: {' '.join(messages)}" for path, messages in self.errors.items()
        )
        return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Batch:
    """A valid batch, ready for store.batches.store_batches."""

    abtest: str
    variant: str
    samples: SampleColumns

    def __len__(self) -> int:
        return len(self.samples)


def decode(body: bytes) -> Any:
    """The JSON document in `body`, or BatchRejected(NOT_JSON)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        try:
            # The standard parser also reads NaN, Infinity and 1e400, so that
            # validation can say "Must be finite." instead of "not JSON".
            return json.loads(body)
        except (ValueError, RecursionError):
            raise BatchRejected(NOT_JSON, {"body": [f"Not valid JSON: {error}."]}) from None


def parse_batch(
    body: bytes, catalogue: Catalogue, limits: Limits, *, now: float | None = None
) -> Batch:
    """Decode and validate one batch, or raise BatchRejected naming every problem."""
    if len(body) > limits.max_bytes:
        raise BatchRejected(
            TOO_LARGE, {"body": [f"At most {limits.max_bytes:,} bytes; this has {len(body):,}."]}
        )
    return validate_batch(decode(body), catalogue, limits, now=now)


def parse_with_refresh(
    body: bytes, cache: CatalogueCache, limits: Limits, *, received_at: float | None = None
) -> Batch:
    """parse_batch; a batch refused by the catalogue is checked again against the database.

    Refused by the catalogue: it names something unknown, or a value lies outside
    its metric's accepted range (which may have been widened since the cache loaded).

    `received_at` (time.monotonic()) is when the batch arrived: every name
    committed before then is known to the second check.
    """
    received_at = time.monotonic() if received_at is None else received_at
    known = cache.current()
    try:
        return parse_batch(body, known, limits)
    except BatchRejected as rejected:
        if not rejected.catalogue_bound:
            raise
        fresh = cache.as_of(received_at)
        if fresh is known:
            raise  # nothing newer: the names are unknown
    return parse_batch(body, fresh, limits)


def validate_batch(
    doc: Any, catalogue: Catalogue, limits: Limits, *, now: float | None = None
) -> Batch:
    """Validate a decoded batch against the catalogue and limits."""
    if type(doc) is not dict:
        raise BatchRejected(
            INVALID, {"body": ["Must be a JSON object with abTest, variant and samples."]}
        )
    errors: dict[str, list[str]] = {}
    unknown: set[str] = set()
    beyond: set[str] = set()
    for key in doc:
        if key not in FIELDS:
            errors[short_key(key)] = ["Unknown field."]
    abtest = _lookup_abtest(doc, catalogue, errors, unknown)
    variant = _lookup_variant(doc, abtest, errors, unknown)
    samples = doc.get("samples")
    columns = None
    if type(samples) is not list or not samples:
        errors["samples"] = [f"Must be a list of 1 to {MAX_SAMPLES:,} samples."]
    elif len(samples) > MAX_SAMPLES:
        raise BatchRejected(
            TOO_LARGE, {"samples": [f"At most {MAX_SAMPLES:,} samples; this has {len(samples):,}."]}
        )
    else:
        moment = time.time() if now is None else now
        window = (moment - limits.max_age_seconds, moment + limits.max_future_seconds)
        columns = sample_columns(
            samples,
            catalogue.metrics,
            window,
            limits,
            errors,
            unknown,
            ranges=catalogue.value_range,
            beyond=beyond,
        )
    if errors:
        code = UNKNOWN_NAME if set(errors) == unknown else INVALID
        raise BatchRejected(code, errors, catalogue_bound=set(errors) <= unknown | beyond)
    assert abtest is not None and variant is not None and columns is not None
    times, values, metric_ids = columns
    samples = SampleColumns.from_seconds(times, values, abtest[0], metric_ids, variant)
    return Batch(doc["abTest"], doc["variant"], samples)


def _lookup_abtest(doc, catalogue, errors, unknown) -> tuple[int, tuple[str, ...]] | None:
    name = doc.get("abTest")
    if name is None:
        errors["abTest"] = ["Missing data for required field."]
    elif type(name) is not str or not SLUG.fullmatch(name):
        errors["abTest"] = ["Must be an A/B test name: 1 to 50 of a-z, 0-9, _ and -."]
    elif name not in catalogue.abtests:
        errors["abTest"] = [f"Unknown A/B test {name!r}."]
        unknown.add("abTest")
    else:
        return catalogue.abtests[name]
    return None


def _lookup_variant(doc, abtest, errors, unknown) -> int | None:
    name = doc.get("variant")
    if name is None:
        errors["variant"] = ["Missing data for required field."]
    elif type(name) is not str or not 0 < len(name) <= 100:
        errors["variant"] = ["Must be a variant name of 1 to 100 characters."]
    elif abtest is not None:
        if name in abtest[1]:
            return abtest[1].index(name)
        errors["variant"] = [f"Unknown variant {name!r}; the test has {', '.join(abtest[1])}."]
        unknown.add("variant")
    return None
