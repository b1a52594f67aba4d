"""The validator's column path accepts only what the per-sample loop accepts, with equal columns."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.batch_data import CATALOGUE, LIMITS, NOW
from tests.support.batch_data import sample as _sample
from tsmetrics.ingest import sample_checks

# Forms a sample's fields take, valid and not: the column path must accept only
# what the per-sample loop accepts, and give the same columns.
_METRICS = ["response_time", "add_to_cart", "unknown_metric", 3, None, ["response_time"], True]
_VALUES = [93.5, 2, 0, -1.25, 1e305, 2**60, True, False, "93.5", None, [1], 10**400, 2**1000 - 1]
_TIMES = [
    NOW - 10.25,
    int(NOW),
    "2025-11-09T11:59:00Z",
    "2025-11-09T12:59:30.5+01:00",
    "2025-11-09 11:59:00Z",
    "2025-11-09T11:59:00",
    NOW - 7200,
    NOW + 3600,
    True,
    None,
    [NOW],
    10**400,
    float("nan"),
    float("inf"),
]


def _random_sample(rng: np.random.Generator) -> object:
    roll = rng.random()
    if roll < 0.02:
        return rng.choice(["a sample", 7, None], 1).tolist()[0]
    sample = {
        "metric": _METRICS[rng.integers(len(_METRICS))] if roll < 0.3 else "response_time",
        "value": _VALUES[rng.integers(len(_VALUES))] if roll < 0.6 else 93.5,
        "time": _TIMES[rng.integers(len(_TIMES))] if roll < 0.9 else NOW - 1,
    }
    if rng.random() < 0.05:
        del sample[["metric", "value", "time"][rng.integers(3)]]
    if rng.random() < 0.05:
        sample["extra"] = 1
    return sample


def _ranges(metric_id: int) -> tuple[float, float]:
    # add_to_cart accepts 0 to 100 only; response_time the default range (±1e15).
    return (0.0, 100.0) if metric_id == 4 else sample_checks.default_ranges(metric_id)


def _columns_by_loop(raw, monkeypatch):
    errors: dict = {}
    with monkeypatch.context() as patch:
        patch.setattr(sample_checks, "valid_columns", lambda *args: None)
        window = (NOW - LIMITS.max_age_seconds, NOW + LIMITS.max_future_seconds)
        columns = sample_checks.sample_columns(
            raw, CATALOGUE.metrics, window, LIMITS, errors, set(), ranges=_ranges
        )
    return columns, errors


# A fuzz loop: one seed in the quick lane, the other 39 in the slow one.
@pytest.mark.parametrize(
    "seed", [0, *(pytest.param(seed, marks=pytest.mark.slow) for seed in range(1, 40))]
)
def test_column_path_accepts_only_what_the_loop_accepts(seed, monkeypatch):
    rng = np.random.default_rng(seed)
    window = (NOW - LIMITS.max_age_seconds, NOW + LIMITS.max_future_seconds)
    for size in (1, 2, 5, 30):
        # Mostly valid lists with rare faults, so both outcomes occur often.
        raw = [
            _random_sample(rng) if rng.random() < 0.15 else {**_sample(), "time": NOW - size}
            for _ in range(size)
        ]
        fast = sample_checks.valid_columns(raw, CATALOGUE.metrics, window, _ranges)
        (times, values, metric_ids), errors = _columns_by_loop(raw, monkeypatch)
        if fast is None:
            continue
        assert not errors, f"column path accepted what the loop refuses: {raw!r}"
        assert np.array_equal(fast[0], np.asarray(times, dtype=np.float64))
        assert np.array_equal(fast[1], np.asarray(values, dtype=np.float64))
        assert np.array_equal(fast[2], np.asarray(metric_ids, dtype=np.int16))


def test_column_path_takes_valid_batches_of_every_time_form():
    window = (NOW - LIMITS.max_age_seconds, NOW + LIMITS.max_future_seconds)
    raw = [
        _sample(time=NOW - 1.5),
        _sample(metric="add_to_cart", value=3, time=int(NOW) - 2),
        _sample(time="2025-11-09T12:59:30.5+01:00"),
        _sample(value=-0.0, time="2025-11-09T11:59:00Z"),
    ]
    columns = sample_checks.valid_columns(raw, CATALOGUE.metrics, window)
    assert columns is not None
    assert columns[0].tolist() == [NOW - 1.5, NOW - 2, NOW - 29.5, NOW - 60]
    assert columns[1].tolist() == [93.5, 3.0, 93.5, -0.0]
    assert columns[2].tolist() == [3, 4, 3, 3]
