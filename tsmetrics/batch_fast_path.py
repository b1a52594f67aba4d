"""Validating a batch's samples a column at a time, for the common case where all are valid.

tsmetrics.batches checks each sample in a Python loop so that it can say what is
wrong with which one. When nothing is wrong, the same checks run much faster on
whole columns: a few C-level passes (list comprehensions, `map`, numpy) instead
of a dozen Python operations per sample. This path only accepts; whenever a
check fails or anything is unusual it returns None, and the per-sample loop
decides, with its messages. It never accepts a sample the loop would refuse, and
gives the same columns for what it accepts (tests/test_batches.py checks both).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

_NUMBERS = frozenset((float, int))
_TIMES = frozenset((float, int, str))

Columns = tuple[np.ndarray, np.ndarray, np.ndarray]  # epoch seconds, values, metric ids


def valid_columns(
    raw: list,
    metric_ids: dict[str, int],
    window: tuple[float, float],
    largest: float,
    parse_time: Callable[[str], float | None],
) -> Columns | None:
    """Times, values and metric ids when every sample is valid; None to let the loop decide.

    `largest` bounds numbers (beyond it an integer cannot be a double);
    `parse_time` turns an RFC 3339 string into epoch seconds, or None.
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
    seconds = _seconds(times, largest, parse_time)
    if seconds is None:
        return None
    try:
        value = np.array(values, dtype=np.float64)
    except OverflowError:
        return None
    lo, hi = window
    if not (
        np.isfinite(value).all()
        and (np.abs(value) < largest).all()
        and (seconds >= lo).all()
        and (seconds <= hi).all()
    ):
        return None
    return seconds, value, np.array(ids, dtype=np.int16)


def _seconds(times: list, largest: float, parse_time) -> np.ndarray | None:
    kinds = set(map(type, times))
    if not kinds <= _TIMES:
        return None
    try:
        if str in kinds:
            # Samples of one batch share few distinct times: parse each string once.
            known = {
                moment: parse_time(moment) if type(moment) is str else float(moment)
                for moment in set(times)
            }
            if None in known.values():
                return None
            times = list(map(known.__getitem__, times))
        seconds = np.array(times, dtype=np.float64)
    except OverflowError:  # an integer beyond any double
        return None
    return seconds if (np.abs(seconds) < largest).all() else None
