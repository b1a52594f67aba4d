"""Mergeable distribution sketches with a guaranteed relative error (a DDSketch-style mapping).

The mapping. A value v != 0 falls in bin k = ceil(log_gamma |v|), the interval
(gamma**(k-1), gamma**k] of magnitudes, with gamma = (1 + ALPHA) / (1 - ALPHA);
its sign picks one of two mirrored stores, and 0 (or -0.0) has a bin of its own
that answers 0 exactly. A bin answers its representative 2 * gamma**k / (gamma + 1)
(with its sign), which is within ALPHA relative error of every magnitude in the
bin: at the top edge it is gamma**k * (1 - ALPHA), at the bottom gamma**(k-1) *
(1 + ALPHA). A sketch keeps only a count per non-empty bin.

The guarantee. Bins are disjoint intervals ordered like the values in them
(negatives by decreasing magnitude, then zero, then positives by increasing
magnitude), so walking the bins in that order and summing counts finds the bin
holding the k-th smallest sample x_k; `value_at_rank(k)` answers that bin's
representative r with |r - x_k| <= ALPHA * |x_k|. `quantile(q)` takes rank
floor((count - 1) * q) computed in float64 exactly as numpy does for
`numpy.quantile(values, q, method="lower")`, so it is within ALPHA of that exact
quantile. Merging adds counts bin by bin: the merge of the sketches of two
multisets IS the sketch of their union (not an approximation of it), so the
bound holds for any bucket at any granularity, any variant or all combined,
however late or in how many batches the samples arrived.

ALPHA = 0.005, half the 1% the product promises: the margin absorbs float
rounding where it matters (log() may put a value within ~1e-13 of a bin edge in
the neighbouring bin, whose representative is then still within ALPHA + 1e-13;
the representative itself is computed within ~1e-13). The bound holds for every
finite double of magnitude at least 2.2250738585072014e-308 (the smallest
normal one); a subnormal's representative is only as precise as a subnormal
can be. At the top, representatives are capped at the largest finite double.

Storage. An encoding is an 8-byte header (its first bin's ordinal as int32,
its number of bins as uint24, and one byte holding the widths in bytes, 1 to 4,
of the two arrays that follow), then each bin's ordinal minus the first one,
then the cumulative counts: unsigned big-endian integers of the header's
widths. The ordinal of a positive bin k is k + BIN_SHIFT (>= 1 for every
double), of the negative one its negation, of zero 0. A bucket of a few hundred
samples spread over fewer than 256 bins costs 2 bytes per bin; and because
counts are cumulative, `quantiles_many` answers by a binary search per payload
(numpy over all payloads at once), whose cost follows the number of payloads,
not the number of bins. Several encodings concatenated are a valid payload too,
read as their merge (the writer's fallback when it cannot merge in place; see
store.rollup_sketches).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

ALPHA = 0.005
# What within_bins promises: 1%, the product's bound (representatives promise ALPHA).
WITHIN_BIN_ERROR = 0.01
GAMMA = (1 + ALPHA) / (1 - ALPHA)
_LOG_GAMMA = math.log(GAMMA)
_LOG_HALF_WIDTH = math.log(2 / (GAMMA + 1))
# Bins span GAMMA - 1 = 1.005% of their lower edge: a reading at most 0.99% above
# that edge is within 1% of every value in the bin (see within_bins).
_MAX_FRACTION = math.log(1.0099) / _LOG_GAMMA
# |k| < 2**17 for every finite double (k is about -74,400 for 5e-324, 71,000 for 1.8e308).
BIN_SHIFT = (1 << 17) + 1
_ORDINAL_SPAN = 1 << 20  # > 2 * max |ordinal|: room to pack (group, ordinal) in one int64
_MAX = np.finfo(np.float64).max
# The percentiles the product shows, by name: q is the double nearest the decimal.
QUANTILES: dict[str, float] = {
    name: float(Decimal(name[1:]) / 100) for name in [f"p{i}" for i in range(1, 100)] + ["p99.9"]
}
HEADER_BYTES = 8
_SPARE = bytes(3)


def ordinals(values) -> np.ndarray:
    """The bin ordinal of each value (int64): ordered like the values, 0 for zero."""
    v = np.asarray(values, dtype=np.float64)
    magnitude = np.abs(v)
    if not np.isfinite(magnitude).all():
        raise ValueError("sketches hold finite values only")
    safe = np.where(magnitude > 0, magnitude, 1.0)
    positive = np.ceil(np.log(safe) / _LOG_GAMMA).astype(np.int64) + BIN_SHIFT
    return np.where(v > 0, positive, np.where(v < 0, -positive, 0))


def representatives(ordinal) -> np.ndarray:
    """The value each bin answers (float64): within ALPHA of every value in the bin."""
    o = np.asarray(ordinal, dtype=np.int64)
    k = np.abs(o) - BIN_SHIFT
    with np.errstate(over="ignore"):
        magnitude = np.minimum(np.exp(k * _LOG_GAMMA + _LOG_HALF_WIDTH), _MAX)
    return np.where(o == 0, 0.0, np.sign(o) * magnitude)


def within_bins(ordinal, position) -> np.ndarray:
    """The value `position` (0 to 1, in value order) of the way through each bin, log-linear.

    What the comparison reads (tsmetrics.analysis.quantile_compare): the i-th of
    a bin's m values is read at position i/(m + 1), where it lies on average if
    the values are spread evenly across the bin (in log scale, as the bins are),
    so the more a bin holds, the closer the reading. A bin spans 1.005% of its
    lower edge, so the reading is kept within the lowest 1/1.0099 of it: within
    1% of every value the bin may hold, whatever the position.
    """
    o = np.asarray(ordinal, dtype=np.int64)
    fraction = np.where(o > 0, position, 1.0 - np.asarray(position, dtype=np.float64))
    fraction = np.clip(fraction, 0.0, _MAX_FRACTION)
    k = np.abs(o) - BIN_SHIFT
    with np.errstate(over="ignore"):
        magnitude = np.minimum(np.exp((k - 1 + fraction) * _LOG_GAMMA), _MAX)
    return np.where(o == 0, 0.0, np.sign(o) * magnitude)


def bin_widths(ordinal) -> np.ndarray:
    """The width of each bin in value (0 for the bin of zero)."""
    o = np.asarray(ordinal, dtype=np.int64)
    k = np.abs(o) - BIN_SHIFT
    with np.errstate(over="ignore"):
        width = np.minimum(np.exp((k - 1) * _LOG_GAMMA) * (GAMMA - 1), _MAX)
    return np.where(o == 0, 0.0, width)


def rank_of(count, q) -> np.ndarray:
    """The 0-based rank numpy's method="lower" takes for quantile q of `count` values."""
    return np.floor((np.asarray(count, dtype=np.int64) - 1) * q).astype(np.int64)


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


def group_bins(groups, values) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(group, ordinal, count) of the values per group id (non-negative int), sorted."""
    groups = np.asarray(groups, dtype=np.int64)
    packed = groups * _ORDINAL_SPAN + (ordinals(values) + _ORDINAL_SPAN // 2)
    unique, counts = np.unique(packed, return_counts=True)
    return unique // _ORDINAL_SPAN, unique % _ORDINAL_SPAN - _ORDINAL_SPAN // 2, counts


def sum_bins(groups, bins, counts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The same (group, ordinal, count) entries, sorted, repeats of a pair added up."""
    packed = np.asarray(groups, dtype=np.int64) * _ORDINAL_SPAN + (bins + _ORDINAL_SPAN // 2)
    order = np.argsort(packed, kind="stable")
    packed = packed[order]
    starts = np.flatnonzero(np.concatenate(([True], packed[1:] != packed[:-1])))
    summed = np.add.reduceat(np.asarray(counts, dtype=np.int64)[order], starts)
    unique = packed[starts]
    return unique // _ORDINAL_SPAN, unique % _ORDINAL_SPAN - _ORDINAL_SPAN // 2, summed


def encode_many(groups, bins, counts, n_groups: int) -> list[bytes]:
    """One payload per group 0..n_groups-1 from entries sorted by (group, ordinal), distinct."""
    groups = np.asarray(groups, dtype=np.int64)
    bins = np.asarray(bins, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.int64)
    per_group = np.bincount(groups, minlength=n_groups)
    first_at = np.cumsum(per_group) - per_group
    filled = per_group > 0
    first = np.zeros(n_groups, dtype=np.int64)
    first[filled] = bins[first_at[filled]]
    offsets = bins - np.repeat(first, per_group)
    running = np.cumsum(counts)
    before = np.concatenate(([0], running))[first_at]
    cumulative = running - np.repeat(before, per_group)
    last = np.maximum(first_at + per_group - 1, 0)
    offset_width = np.where(filled, _width(offsets[last] if len(bins) else 0), 1)
    count_width = np.where(filled, _width(cumulative[last] if len(bins) else 0), 1)
    sizes = HEADER_BYTES + per_group * (offset_width + count_width)
    starts = np.cumsum(sizes) - sizes
    data = np.zeros(int(sizes.sum()), dtype=np.uint8)
    _write(data, starts, first & 0xFFFFFFFF, 4)
    _write(data, starts + 4, per_group, 3)
    data[starts + 7] = offset_width * 16 + count_width
    index = np.arange(len(bins)) - np.repeat(first_at, per_group)
    body = np.repeat(starts + HEADER_BYTES, per_group)
    widths = _uniform(np.repeat(offset_width, per_group))
    _write(data, body + index * widths, offsets, widths)
    tail = body + np.repeat(per_group * offset_width, per_group)
    counted = _uniform(np.repeat(count_width, per_group))
    _write(data, tail + index * counted, cumulative, counted)
    blob = data.tobytes()
    cut = np.append(starts, len(data)).tolist()
    return [blob[cut[i] : cut[i + 1]] for i in range(n_groups)]


@dataclass(frozen=True)
class Entries:
    """Decoded payloads: per entry its row (payload index), ordinal and count, in value order."""

    rows: np.ndarray
    bins: np.ndarray
    counts: np.ndarray
    bins_per_row: np.ndarray


@dataclass(frozen=True)
class _Layout:
    """Where each payload's fields lie in the joined bytes: what reading them needs."""

    data: np.ndarray
    first: np.ndarray
    bins: np.ndarray  # per row: how many
    offsets_at: np.ndarray  # per row: where its ordinal offsets start
    offset_width: np.ndarray
    counts_at: np.ndarray  # per row: where its cumulative counts start
    count_width: np.ndarray

    def offset(self, rows: np.ndarray, index: np.ndarray) -> np.ndarray:
        """The ordinal offsets (from the row's first) of bins `index` of `rows`."""
        width = self.offset_width[rows]
        return _read(self.data, self.offsets_at[rows] + index * width, width)

    def cumulative(self, rows: np.ndarray, index: np.ndarray) -> np.ndarray:
        """The counts up to and including bins `index` of `rows`."""
        width = self.count_width[rows]
        return _read(self.data, self.counts_at[rows] + index * width, width)


def decode_many(payloads: Sequence[bytes]) -> Entries:
    """Every payload's bins at once (a payload of several encodings comes back merged)."""
    layout = _layout(payloads)
    per_row = layout.bins
    rows = np.repeat(np.arange(len(payloads)), per_row)
    index = np.arange(len(rows)) - np.repeat(np.cumsum(per_row) - per_row, per_row)
    bins = layout.first[rows] + layout.offset(rows, index)
    cumulative = layout.cumulative(rows, index)
    counts = cumulative.copy()
    counts[index > 0] -= cumulative[np.flatnonzero(index > 0) - 1]
    return Entries(rows, bins, counts, per_row)


def quantiles_many(payloads: Sequence[bytes], qs: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Per payload its count and, per q, the value at numpy's "lower" rank (NaN when empty).

    A binary search per payload and q over the cumulative counts: the work grows
    with the number of payloads, not with the number of bins they hold.
    """
    layout = _layout(payloads)
    out = np.full((len(payloads), len(qs)), np.nan)
    totals = np.zeros(len(payloads), dtype=np.int64)
    filled = np.flatnonzero(layout.bins > 0)
    totals[filled] = layout.cumulative(filled, layout.bins[filled] - 1)
    if not qs:
        return totals, out
    # Every (payload, q) at once: row-major like `out`.
    rows = np.repeat(filled, len(qs))
    rank = np.concatenate([rank_of(totals[filled], q)[:, None] for q in qs], axis=1).ravel()
    base, width = layout.counts_at[rows], layout.count_width[rows]
    if len(width) and (width == width[0]).all():
        width = int(width[0])  # one width for all: plain reads, no shifts
    lo, hi = np.zeros(len(rows), dtype=np.int64), layout.bins[rows] - 1
    # The first bin whose cumulative count exceeds the rank lies in [lo, hi].
    for _ in range(int(layout.bins.max(initial=0)).bit_length()):
        mid = (lo + hi) >> 1
        above = _read(layout.data, base + mid * width, width) > rank
        hi = np.where(above, mid, hi)
        lo = np.where(above, lo, mid + 1)
    values = representatives(layout.first[rows] + layout.offset(rows, lo))
    out[filled] = values.reshape(len(filled), len(qs))
    return totals, out


def _layout(payloads: Sequence[bytes]) -> _Layout:
    """Headers of single-encoding payloads; payloads of several encodings are merged first."""
    lengths = np.fromiter(map(len, payloads), dtype=np.int64, count=len(payloads))
    if (lengths < HEADER_BYTES).any():
        raise ValueError("truncated sketch payload")
    data = np.frombuffer(b"".join((*payloads, _SPARE)), dtype=np.uint8)
    starts = np.cumsum(lengths) - lengths
    first = _read(data, starts, 4)
    first = np.where(first >= 1 << 31, first - (1 << 32), first)
    bins = _read(data, starts + 4, 3)
    offset_width, count_width = data[starts + 7] >> 4, data[starts + 7] & 0xF
    if ((offset_width == 0) | (count_width == 0)).any():
        raise ValueError("corrupt sketch payload")
    sizes = HEADER_BYTES + bins * (offset_width + count_width)
    if (sizes != lengths).any():
        if (sizes > lengths).any():
            raise ValueError("truncated sketch payload")
        return _layout(_merged_parts(payloads))
    offsets_at = starts + HEADER_BYTES
    counts_at = offsets_at + bins * offset_width
    return _Layout(data, first, bins, offsets_at, offset_width, counts_at, count_width)


def _merged_parts(payloads: Sequence[bytes]) -> list[bytes]:
    """The payloads, those made of several encodings replaced by their merge."""
    out = list(payloads)
    for index, payload in enumerate(payloads):
        parts, at = [], 0
        while at < len(payload):
            head = np.frombuffer(payload[at : at + HEADER_BYTES], dtype=np.uint8)
            if len(head) < HEADER_BYTES:
                raise ValueError("truncated sketch payload")
            width = int(head[7] >> 4) + int(head[7] & 0xF)
            size = HEADER_BYTES + int(_read(head, np.array([4]), 3)[0]) * width
            parts.append(payload[at : at + size])
            at += size
        if len(parts) > 1:
            entries = decode_many(parts)
            _, bins, counts = sum_bins(np.zeros(len(entries.bins)), entries.bins, entries.counts)
            out[index] = encode_many(np.zeros(len(bins), dtype=np.int64), bins, counts, 1)[0]
    return out


def _uniform(widths: np.ndarray) -> np.ndarray | int:
    """The one width all share, as an int (cheaper to write with), or the array."""
    return int(widths[0]) if len(widths) and (widths == widths[0]).all() else widths


def _width(values) -> np.ndarray:
    """Bytes (1 to 4) that hold each non-negative value."""
    values = np.asarray(values, dtype=np.int64)
    if (values >= 1 << 32).any():
        raise ValueError("a sketch holds fewer than 2**32 values")
    return 1 + (values >= 1 << 8) + (values >= 1 << 16) + (values >= 1 << 24)


def _write(data: np.ndarray, at, values, width) -> None:
    """Write big-endian unsigned values of `width` bytes (an int or one per value) at `at`."""
    at = np.asarray(at, dtype=np.int64)
    values = np.asarray(values, dtype=np.int64)
    if np.ndim(width) == 0:
        for byte in range(int(width)):
            data[at + byte] = (values >> (8 * (int(width) - 1 - byte))) & 0xFF
        return
    width = np.asarray(width, dtype=np.int64)
    for byte in range(int(width.max(initial=0))):
        has = width > byte if byte else slice(None)
        shift = 8 * (width[has] - 1 - byte)
        data[at[has] + byte] = (values[has] >> shift) & 0xFF


def _read(data: np.ndarray, at, width) -> np.ndarray:
    """Big-endian unsigned values of `width` bytes (an int or one per value) at `at`.

    `data` ends with 3 spare bytes, so reading the widest width everywhere and
    shifting the extra bytes away never reads past it.
    """
    at = np.asarray(at, dtype=np.int64)
    widest = int(np.max(width, initial=1))
    value = data[at].astype(np.int64)
    for byte in range(1, widest):
        value = (value << 8) | data[at + byte]
    if np.ndim(width) == 0:
        return value
    return value >> (8 * (widest - width))
