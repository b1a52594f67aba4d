"""The bytes the rollups store: many sketches encoded, decoded and read at once.

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

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tsmetrics.sketches.bins import rank_of, representatives, sum_bins

HEADER_BYTES = 8
_SPARE = bytes(3)


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
