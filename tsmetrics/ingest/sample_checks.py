"""A batch's samples into columns: by whole columns when all are valid, else one by one.

tsmetrics.ingest.batch_format checks the rest of the batch; this module the list of samples.
When every sample is valid, the checks run on whole columns (`valid_columns`);
otherwise a loop goes sample by sample, so that it can say what is wrong with
which one (`samples[3].value: Must be finite.`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np

from tsmetrics.ingest.limits import Limits
from tsmetrics.store.catalogue import DEFAULT_VALUE_RANGE

SAMPLE_FIELDS = ("metric", "value", "time")
# RFC 3339 (ISO 8601 with an offset), the same pattern as the JSON Schema file.
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})"
)
# A/B test and metric names.
SLUG = re.compile(r"[a-z0-9_-]{1,50}")
# Larger integers cannot be a float; JSON parsers in other languages disagree on them too.
_BIG = 2.0**1000
_TIME_HELP = "use RFC 3339 such as 2025-11-09T12:00:00Z, or epoch seconds"
_NUMBERS = frozenset((float, int))
_TIMES = frozenset((float, int, str))

Columns = tuple[np.ndarray, np.ndarray, np.ndarray]  # epoch seconds, values, metric ids
Ranges = Callable[[int], tuple[float, float]]  # a metric id's accepted [min, max]


def default_ranges(_metric_id: int) -> tuple[float, float]:
    """The accepted range of a metric whose catalogue entry does not say."""
    return DEFAULT_VALUE_RANGE


def valid_columns(
    raw: list,
    metric_ids: dict[str, int],
    window: tuple[float, float],
    ranges: Ranges = default_ranges,
) -> Columns | None:
    """Times, values and metric ids when every sample is valid; None to let the loop decide.

    The column path: a few C-level passes (comprehensions, `map`, numpy) instead
    of a dozen Python operations per sample. It only accepts; whenever a check
    fails or anything is unusual the per-sample loop decides, with its messages.
    It never accepts what the loop refuses and gives the same columns for what
    it accepts (tests/ingest/test_batch_columns.py).
    """
    try:
        names = [sample["metric"] for sample in raw]
        values = [sample["value"] for sample in raw]
        times = [sample["time"] for sample in raw]
    except (TypeError, KeyError):  # not an object, or a field missing
        return None
    # Each has the three fields, so three in all means nothing else.
    if sum(map(len, raw)) != 3 * len(raw):
        return None
    # Exact types: bool is an int subclass, and must be refused.
    if not set(map(type, values)) <= _NUMBERS:
        return None
    ids = list(map(metric_ids.get, names)) if set(map(type, names)) == {str} else [None]
    if None in ids:
        return None
    seconds = _column_seconds(times)
    if seconds is None:
        return None
    try:
        value = np.array(values, dtype=np.float64)
    except OverflowError:
        return None
    lo, hi = window
    if not (
        np.isfinite(value).all()
        and (np.abs(value) < _BIG).all()
        and (seconds >= lo).all()
        and (seconds <= hi).all()
    ):
        return None
    metric = np.array(ids, dtype=np.int16)
    for metric_id in set(ids):  # a batch holds few metrics
        low, high = ranges(metric_id)
        chosen = value[metric == metric_id] if len(ids) > 1 else value
        if not ((chosen >= low).all() and (chosen <= high).all()):
            return None
    return seconds, value, metric


def _column_seconds(times: list) -> np.ndarray | None:
    kinds = set(map(type, times))
    if not kinds <= _TIMES:
        return None
    try:
        if str in kinds:
            # Samples of one batch share few distinct times: parse each string once.
            known = {
                moment: iso_seconds(moment) if type(moment) is str else float(moment)
                for moment in set(times)
            }
            if None in known.values():
                return None
            times = list(map(known.__getitem__, times))
        seconds = np.array(times, dtype=np.float64)
    except OverflowError:  # an integer beyond any double
        return None
    return seconds if (np.abs(seconds) < _BIG).all() else None


def short_key(key: Any) -> str:
    """A key as it may appear in an error path or a header: short and valid UTF-8."""
    text = str(key).encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= 50 else text[:49] + "…"


def iso_seconds(text: str) -> float | None:
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
            iso_cache[moment] = iso_seconds(moment)
        return iso_cache[moment]
    if (kind is float or kind is int) and -_BIG < moment < _BIG:
        return float(moment)
    return None


def sample_columns(
    raw: list,
    metric_ids,
    window,
    limits: Limits,
    errors,
    unknown,
    *,
    ranges: Ranges = default_ranges,
    beyond: set[str] | None = None,
):
    """Times, values and metric ids of valid samples; every problem into `errors` by path.

    Paths of unknown metric names also go into `unknown`; those of values outside
    their metric's accepted range into `beyond` (a newer catalogue may widen it).
    """
    beyond = set() if beyond is None else beyond
    valid = valid_columns(raw, metric_ids, window, ranges)
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
                and _within(value, ranges(metric_id))
            ):
                times.append(seconds)
                values.append(value)
                metrics.append(metric_id)
                continue
        checks = (metric_ids, window, limits, ranges)
        _explain(f"samples[{index}]", sample, checks, errors, (unknown, beyond))
    return times, values, metrics


def _within(value: float, accepted: tuple[float, float]) -> bool:
    return accepted[0] <= value <= accepted[1]


def _explain(path, sample, checks, errors, found) -> None:
    metric_ids, window, limits, ranges = checks
    unknown, beyond = found
    if type(sample) is not dict:
        errors[path] = ["Must be an object with metric, value and time."]
        return
    for key in sample:
        if key not in SAMPLE_FIELDS:
            errors[f"{path}.{short_key(key)}"] = ["Unknown field."]
    for key in SAMPLE_FIELDS:
        if key not in sample:
            errors[f"{path}.{key}"] = ["Missing data for required field."]
    name = sample.get("metric", "")
    if type(name) is not str or not SLUG.fullmatch(name):
        if "metric" in sample:
            errors[f"{path}.metric"] = ["Must be a metric name: 1 to 50 of a-z, 0-9, _ and -."]
    elif name not in metric_ids:
        errors[f"{path}.metric"] = [f"Unknown metric {name!r}."]
        unknown.add(f"{path}.metric")
    if "value" in sample:
        problem = _value_problem(sample["value"])
        metric_id = metric_ids.get(name) if type(name) is str else None
        if problem:
            errors[f"{path}.value"] = [problem]
        elif metric_id is not None and not _within(sample["value"], ranges(metric_id)):
            low, high = ranges(metric_id)
            errors[f"{path}.value"] = [
                f"Must be between {low:g} and {high:g}: the accepted range of metric {name!r}"
                " (its valueMin and valueMax in the catalogue)."
            ]
            beyond.add(f"{path}.value")
    if "time" in sample:
        problem = _time_problem(sample["time"], window, limits)
        if problem:
            errors[f"{path}.time"] = [problem]


def _value_problem(value: Any) -> str | None:
    kind = type(value)
    if kind not in (int, float):
        return "Must be a number."
    if (kind is int and not -_BIG < value < _BIG) or value - value != 0:
        return "Must be finite."
    return None  # a finite float, however large: the range check says what is accepted


def _time_problem(moment: Any, window: tuple[float, float], limits: Limits) -> str | None:
    if type(moment) is str:
        seconds = iso_seconds(moment)
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
