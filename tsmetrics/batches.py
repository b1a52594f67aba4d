"""The sample batch: one JSON format for the queue and HTTP, one validation path to SampleColumns.

A batch is `{"abTest": ..., "variant": ..., "samples": [{"metric", "value", "time"}, ...]}`;
schemas/sample-batch.schema.json describes it for producers in other languages.
Errors name the field path (`samples[3].value`) and say why, for both entry points.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import orjson

from tsmetrics.batch_fast_path import valid_columns
from tsmetrics.catalogue_cache import Catalogue, CatalogueCache
from tsmetrics.store.samples import SampleColumns

MAX_SAMPLES = 10_000
MAX_BATCH_ID_LENGTH = 200
FIELDS = ("abTest", "variant", "samples")
SAMPLE_FIELDS = ("metric", "value", "time")
# Why a batch was refused; the consumer's dead-letter header starts with one.
NOT_JSON, INVALID, UNKNOWN_NAME, TOO_LARGE, MISSING_ID = (
    "not-json",
    "invalid",
    "unknown-name",
    "too-large",
    "missing-id",
)
# RFC 3339 (ISO 8601 with an offset), the same pattern as the JSON Schema file.
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})"
)
_SLUG = re.compile(r"[a-z0-9_-]{1,50}")
# Larger integers cannot be a float; JSON parsers in other languages disagree on them too.
_BIG = 2.0**1000
_TIME_HELP = "use RFC 3339 such as 2025-11-09T12:00:00Z, or epoch seconds"
_REASON_CHARS = 1000


class BatchRejected(ValueError):
    """The batch cannot be stored; `errors` maps field paths to reasons, `code` says what kind."""

    def __init__(self, code: str, errors: dict[str, list[str]]) -> None:
        self.code = code
        self.errors = errors
        super().__init__(self.reason())

    def reason(self, limit: int = _REASON_CHARS) -> str:
        """One line for a log or a dead-letter header: the code, then each path and why."""
        text = f"{self.code}: " + "; ".join(
            f"{path}: {' '.join(messages)}" for path, messages in self.errors.items()
        )
        return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Limits:
    """What a batch may hold besides its format: size, and how old or new its samples may be."""

    max_bytes: int = 2_000_000
    max_age_seconds: float = 7 * 86_400
    max_future_seconds: float = 300

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> Limits:
        """The limits configured by TSMETRICS_MAX_*."""
        return cls(
            max_bytes=settings["MAX_MESSAGE_BYTES"],
            max_age_seconds=settings["MAX_SAMPLE_AGE"],
            max_future_seconds=settings["MAX_SAMPLE_FUTURE"],
        )


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


def parse_with_refresh(body: bytes, cache: CatalogueCache, limits: Limits) -> Batch:
    """parse_batch, reloading the catalogue once when the batch names something unknown."""
    try:
        return parse_batch(body, cache.current(), limits)
    except BatchRejected as rejected:
        if rejected.code != UNKNOWN_NAME or not cache.refresh():
            raise
    return parse_batch(body, cache.current(), limits)


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
    for key in doc:
        if key not in FIELDS:
            errors[_short(key)] = ["Unknown field."]
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
        columns = _samples(samples, catalogue.metrics, window, limits, errors, unknown)
    if errors:
        raise BatchRejected(UNKNOWN_NAME if set(errors) == unknown else INVALID, errors)
    assert abtest is not None and variant is not None and columns is not None
    times, values, metric_ids = columns
    count = len(values)
    return Batch(
        doc["abTest"],
        doc["variant"],
        SampleColumns(
            time_us=np.round(np.asarray(times, dtype=np.float64) * 1e6).astype(np.int64),
            value=np.asarray(values, dtype=np.float64),
            abtest_id=np.full(count, abtest[0], dtype=np.int32),
            metric_id=np.asarray(metric_ids, dtype=np.int16),
            variant=np.full(count, variant, dtype=np.int16),
        ),
    )


def _short(key: Any) -> str:
    # Keys become error paths and headers: keep them short and valid UTF-8.
    text = str(key).encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= 50 else text[:49] + "…"


def _lookup_abtest(doc, catalogue, errors, unknown) -> tuple[int, tuple[str, ...]] | None:
    name = doc.get("abTest")
    if name is None:
        errors["abTest"] = ["Missing data for required field."]
    elif type(name) is not str or not _SLUG.fullmatch(name):
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


def _iso_seconds(text: str) -> float | None:
    if not _RFC3339.fullmatch(text):
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def _seconds(moment: Any, iso_cache: dict[str, float | None]) -> float | None:
    kind = type(moment)
    if kind is str:
        if moment not in iso_cache:
            # Samples of one request share a time, so each string is parsed once.
            iso_cache[moment] = _iso_seconds(moment)
        return iso_cache[moment]
    if (kind is float or kind is int) and -_BIG < moment < _BIG:
        return float(moment)
    return None


def _samples(raw: list, metric_ids, window, limits, errors, unknown):
    valid = valid_columns(raw, metric_ids, window, _BIG, _iso_seconds)
    if valid is not None:
        return valid
    # Something is wrong (or unusual): find out what, sample by sample.
    times: list[float] = []
    values: list[float] = []
    metrics: list[int] = []
    lo, hi = window
    iso_cache: dict[str, float | None] = {}
    for index, sample in enumerate(raw):
        if type(sample) is dict and len(sample) == 3:
            name, value = sample.get("metric"), sample.get("value")
            metric_id = metric_ids.get(name) if type(name) is str else None
            seconds = _seconds(sample.get("time"), iso_cache)
            kind = type(value)
            if kind is int and -_BIG < value < _BIG:
                value, kind = float(value), float
            # value - value is 0.0 only for finite floats (inf - inf and NaN are NaN).
            if (
                metric_id is not None
                and kind is float
                and value - value == 0.0
                and seconds is not None
                and lo <= seconds <= hi
            ):
                times.append(seconds)
                values.append(value)
                metrics.append(metric_id)
                continue
        _explain(f"samples[{index}]", sample, metric_ids, window, limits, errors, unknown)
    return times, values, metrics


def _explain(path, sample, metric_ids, window, limits, errors, unknown) -> None:
    if type(sample) is not dict:
        errors[path] = ["Must be an object with metric, value and time."]
        return
    for key in sample:
        if key not in SAMPLE_FIELDS:
            errors[f"{path}.{_short(key)}"] = ["Unknown field."]
    for key in SAMPLE_FIELDS:
        if key not in sample:
            errors[f"{path}.{key}"] = ["Missing data for required field."]
    name = sample.get("metric", "")
    if type(name) is not str or not _SLUG.fullmatch(name):
        if "metric" in sample:
            errors[f"{path}.metric"] = ["Must be a metric name: 1 to 50 of a-z, 0-9, _ and -."]
    elif name not in metric_ids:
        errors[f"{path}.metric"] = [f"Unknown metric {name!r}."]
        unknown.add(f"{path}.metric")
    if "value" in sample:
        problem = _value_problem(sample["value"])
        if problem:
            errors[f"{path}.value"] = [problem]
    if "time" in sample:
        problem = _time_problem(sample["time"], window, limits)
        if problem:
            errors[f"{path}.time"] = [problem]


def _value_problem(value: Any) -> str | None:
    if type(value) not in (int, float):
        return "Must be a number."
    if not -_BIG < value < _BIG or value != value:
        return "Must be finite."
    return None


def _time_problem(moment: Any, window: tuple[float, float], limits: Limits) -> str | None:
    if type(moment) is str:
        seconds = _iso_seconds(moment)
        if seconds is None:
            return f"Not a valid date-time with an offset; {_TIME_HELP}."
    elif type(moment) in (int, float):
        if not -_BIG < moment < _BIG or moment != moment:
            return "Must be finite."
        seconds = float(moment)
    else:
        return f"Must be a date-time string or a number; {_TIME_HELP}."
    if seconds < window[0]:
        return f"Older than {limits.max_age_seconds:,.0f} s (TSMETRICS_MAX_SAMPLE_AGE)."
    if seconds > window[1]:
        return f"More than {limits.max_future_seconds:,.0f} s in the future."
    return None
