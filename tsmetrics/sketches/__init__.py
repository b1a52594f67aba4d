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

The mapping and bin arithmetic are in tsmetrics.sketches.bins, the Sketch in
tsmetrics.sketches.sketch, the stored bytes in tsmetrics.sketches.codec; this
package exports them all.
"""

from tsmetrics.sketches.bins import (
    ALPHA,
    BIN_SHIFT,
    GAMMA,
    QUANTILES,
    WITHIN_BIN_ERROR,
    bin_widths,
    group_bins,
    ordinals,
    rank_of,
    representatives,
    sum_bins,
    within_bins,
)
from tsmetrics.sketches.codec import HEADER_BYTES, Entries, decode_many, encode_many, quantiles_many
from tsmetrics.sketches.sketch import Sketch

__all__ = [
    "ALPHA",
    "BIN_SHIFT",
    "GAMMA",
    "HEADER_BYTES",
    "QUANTILES",
    "WITHIN_BIN_ERROR",
    "Entries",
    "Sketch",
    "bin_widths",
    "decode_many",
    "encode_many",
    "group_bins",
    "ordinals",
    "quantiles_many",
    "rank_of",
    "representatives",
    "sum_bins",
    "within_bins",
]
