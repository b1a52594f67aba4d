"""A frozen sketch of values: bins and counts, merged exactly, read at a rank."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from tsmetrics.sketches.bins import ordinals, rank_of, representatives, sum_bins
from tsmetrics.sketches.codec import decode_many, encode_many


@dataclass(frozen=True, eq=False)
class Sketch:
    """A frozen sketch: bin ordinals (sorted, distinct) and their counts (> 0)."""

    bins: np.ndarray
    counts: np.ndarray

    def __post_init__(self) -> None:
        self.bins.flags.writeable = False
        self.counts.flags.writeable = False

    @classmethod
    def empty(cls) -> Sketch:
        """The sketch of no values."""
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))

    @classmethod
    def from_values(cls, values: Iterable[float]) -> Sketch:
        """The sketch of these values."""
        array = np.fromiter(values, dtype=np.float64) if not hasattr(values, "__len__") else values
        bins, counts = np.unique(ordinals(array), return_counts=True)
        return cls(bins.astype(np.int64), counts.astype(np.int64))

    @classmethod
    def from_bins(cls, bins, counts) -> Sketch:
        """The sketch with these (ordinal, count) pairs, in any order, repeats added up."""
        counts = np.asarray(counts, dtype=np.int64)
        if (counts < 0).any():
            raise ValueError("negative count")
        if len(counts) == 0:
            return cls.empty()
        _, unique, summed = sum_bins(np.zeros(len(counts), dtype=np.int64), bins, counts)
        keep = summed > 0
        return cls(unique[keep], summed[keep])

    @classmethod
    def merge_all(cls, sketches: Iterable[Sketch]) -> Sketch:
        """The merge of any number of sketches (exact: counts add up bin by bin)."""
        parts = list(sketches)
        if not parts:
            return cls.empty()
        return cls.from_bins(
            np.concatenate([s.bins for s in parts]), np.concatenate([s.counts for s in parts])
        )

    def merge(self, other: Sketch) -> Sketch:
        """The sketch of both sketches' values together."""
        return Sketch.merge_all((self, other))

    @property
    def count(self) -> int:
        """How many values the sketch holds."""
        return int(self.counts.sum())

    def value_at_rank(self, k: int) -> float:
        """The representative of the bin holding the k-th smallest value (0-based)."""
        if not 0 <= k < self.count:
            raise IndexError(f"rank {k} outside a sketch of {self.count} values")
        index = int(np.searchsorted(np.cumsum(self.counts), k, side="right"))
        return float(representatives(self.bins[index]))

    def quantile(self, q: float) -> float:
        """Within ALPHA of numpy.quantile(values, q, method="lower")."""
        if not 0 <= q <= 1:
            raise ValueError(f"quantile {q} outside [0, 1]")
        if self.count == 0:
            raise ValueError("an empty sketch has no quantiles")
        return self.value_at_rank(int(rank_of(self.count, q)))

    def encode(self) -> bytes:
        """The bytes the rollups store (see the module docstring)."""
        return encode_many(np.zeros(len(self.bins), dtype=np.int64), self.bins, self.counts, 1)[0]

    @classmethod
    def decode(cls, data: bytes) -> Sketch:
        """The sketch `encode` wrote (or the merge of several concatenated encodings)."""
        entries = decode_many([data])
        return cls.from_bins(entries.bins, entries.counts)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sketch):
            return NotImplemented
        return np.array_equal(self.bins, other.bins) and np.array_equal(self.counts, other.counts)

    __hash__ = None  # type: ignore[assignment]
