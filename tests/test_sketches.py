"""The sketches' guarantee against numpy's exact quantiles, merging, and the stored encoding."""

from __future__ import annotations

import numpy as np
import pytest

from tsmetrics import sketches
from tsmetrics.sketches import ALPHA, Sketch

QS = (0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 0.999, 1.0)
_rng = np.random.default_rng(20261205)
DATASETS = {
    "normal": _rng.normal(100, 20, 2_001),
    "lognormal": _rng.lognormal(0, 2.5, 5_000),
    "pareto": _rng.pareto(1.1, 3_000) + 1,
    "signs and zeros": np.concatenate(
        (_rng.normal(0, 1, 500), np.zeros(37), -_rng.lognormal(3, 1, 200), [-0.0] * 3)
    ),
    "extremes": np.array([0.0, -1e-9, 1e-9, 1e12, -1e12, 2.3e-308, 1.7e308, -1.7e308, 7.0]),
    "one value": np.array([42.0]),
    "ties": np.repeat([1.0, 2.0, 3.0], [5, 1, 9]),
}


def _within(approx: float, exact: float, bound: float = ALPHA) -> bool:
    return abs(approx - exact) <= bound * abs(exact) * (1 + 1e-12)


@pytest.mark.parametrize("name", DATASETS)
def test_every_quantile_within_alpha_of_numpy_lower(name):
    """Each quantile is within ALPHA (half the product's 1%) of numpy's method="lower"."""
    values = DATASETS[name]
    sketch = Sketch.from_values(values)
    assert sketch.count == len(values)
    for q in QS:
        exact = float(np.quantile(values, q, method="lower"))
        assert _within(sketch.quantile(q), exact), (q, sketch.quantile(q), exact)
    ordered = np.sort(values)
    for rank in range(0, len(values), max(1, len(values) // 97)):
        assert _within(sketch.value_at_rank(rank), ordered[rank])


def test_zero_and_signs_are_exact():
    """Zero answers 0 exactly; negative values answer negative values, positive ones positive."""
    sketch = Sketch.from_values([-3.0, 0.0, 0.0, 5.0])
    assert [sketch.value_at_rank(k) for k in range(4)][1:3] == [0.0, 0.0]
    assert sketch.value_at_rank(0) < 0 < sketch.value_at_rank(3)


def test_the_rank_is_numpys_for_every_count_and_shown_quantile():
    """rank_of reproduces numpy's choice of order statistic, float rounding included."""
    qs = [p / 100 for p in range(1, 100)] + [0.999]
    for count in (*range(1, 300), 1_000, 1_001, 43_200):
        values = np.arange(count, dtype=np.float64)
        exact = np.quantile(values, qs, method="lower")
        assert (sketches.rank_of(count, np.array(qs)) == exact).all(), count


@pytest.mark.parametrize("name", ["lognormal", "signs and zeros", "extremes"])
def test_merge_is_the_sketch_of_the_union(name):
    """Merging (in any split) gives the very sketch of all the values: no approximation."""
    values = DATASETS[name]
    whole = Sketch.from_values(values)
    parts = np.array_split(_rng.permutation(values), 5)
    assert Sketch.merge_all(Sketch.from_values(p) for p in parts) == whole
    assert Sketch.from_values(parts[0]).merge(Sketch.from_values(np.concatenate(parts[1:]))) == (
        whole
    )


@pytest.mark.parametrize("name", DATASETS)
def test_encoding_round_trips_and_concatenations_merge(name):
    """decode(encode(s)) == s; concatenated encodings decode as their merge."""
    values = DATASETS[name]
    sketch = Sketch.from_values(values)
    assert Sketch.decode(sketch.encode()) == sketch
    half = len(values) // 2
    a, b = Sketch.from_values(values[:half]), Sketch.from_values(values[half:])
    assert Sketch.decode(a.encode() + b.encode() + Sketch.empty().encode()) == sketch


def test_many_payloads_at_once_match_one_by_one():
    """quantiles_many and decode_many agree with Sketch, for mixed widths and several parts."""
    groups = _rng.integers(0, 300, 40_000)
    values = np.concatenate((_rng.lognormal(4, 1.5, 20_000), _rng.normal(0, 1e6, 20_000)))
    values[::97] = 0.0
    payloads = sketches.encode_many(*sketches.group_bins(groups, values), 300)
    payloads[7] += payloads[8]  # a payload of two encodings
    payloads[9] = Sketch.empty().encode()
    qs = [0.01, 0.5, 0.95, 0.999]
    totals, got = sketches.quantiles_many(payloads, qs)
    entries = sketches.decode_many(payloads)
    for row, payload in enumerate(payloads):
        sketch = Sketch.decode(payload)
        assert totals[row] == sketch.count
        mine = entries.rows == row
        assert Sketch(entries.bins[mine], entries.counts[mine]) == sketch
        if sketch.count == 0:
            assert np.isnan(got[row]).all()
            continue
        assert got[row].tolist() == [sketch.quantile(q) for q in qs]
        if row not in (7, 9):
            exact = np.quantile(values[groups == row], qs, method="lower")
            assert all(map(_within, got[row], exact))


def test_a_bin_costs_about_two_bytes():
    """A 5-minute bucket of 150 latencies (under 256 bins, counts under 256): 2 bytes a bin."""
    sketch = Sketch.from_values(_rng.lognormal(4.6, 0.3, 150))
    assert len(sketch.encode()) == sketches.HEADER_BYTES + 2 * len(sketch.bins)


@pytest.mark.parametrize(
    "payload", [b"", b"\x00\x02\x00\x00\x00\x00\x05\x11\x01", bytes(7), b"\x00" * 7 + b"\x00"]
)
def test_corrupt_payloads_are_refused(payload):
    """Truncated or malformed payloads raise ValueError instead of answering garbage."""
    with pytest.raises(ValueError):
        sketches.quantiles_many([payload], [0.5])


def test_bad_arguments():
    """Empty sketches have no quantiles; q outside [0, 1] and infinite values are refused."""
    with pytest.raises(ValueError):
        Sketch.empty().quantile(0.5)
    with pytest.raises(ValueError):
        Sketch.from_values([1.0]).quantile(1.5)
    with pytest.raises(ValueError):
        Sketch.from_values([1.0, float("inf")])
    with pytest.raises(IndexError):
        Sketch.from_values([1.0]).value_at_rank(1)
