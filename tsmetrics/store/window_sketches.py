"""Each variant's distribution sketch over a comparison window, merged from the rollups.

The window is tiled exactly as for the totals (store.totals.tile: the coarsest
buckets that fit, finer ones at the ragged edges), so the sketches cover the
same samples as the counts and sums the means come from. PostgreSQL cannot
merge sketches, so the rows come back one per bucket and are merged here with
numpy (tsmetrics.sketches: the merge of sketches is the sketch of the union,
exactly). A bucket written before its metric kept distributions has no sketch,
or one holding fewer samples than its `n`: `covered` < `n` tells the caller.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import psycopg

from tsmetrics import sketches
from tsmetrics.store.totals import TILED_ROLLUPS, window_params


@dataclass(frozen=True)
class VariantSketch:
    """One variant's samples of one metric in the window: count, and the merged sketch."""

    metric_id: int
    variant: int
    n: int  # samples in the window (the rollups' count)
    sketch: sketches.Sketch  # holds `covered` of them

    @property
    def covered(self) -> int:
        """How many of the n samples the sketch holds (n unless some buckets predate it)."""
        return self.sketch.count


# The same index range scans as store.totals' totals, one row per bucket.
_SELECT_SKETCHES = "SELECT r.metric_id, r.variant, r.n, r.sketch" + TILED_ROLLUPS


def variant_sketches(
    conn: psycopg.Connection,
    *,
    abtest_id: int,
    metric_ids: list[int],
    variants: int,
    start: int,
    end: int,
) -> list[VariantSketch]:
    """Per (metric, variant position) with samples in [start, end) (whole minutes, epoch s).

    Read from the same rollup ranges as the totals (`totals.window_tiles`), so
    where retention dropped the finer rollups the sketches cover what the counts do.
    """
    params = window_params(
        conn, abtest_id=abtest_id, metric_ids=metric_ids, variants=variants, start=start, end=end
    )
    rows = conn.execute(_SELECT_SKETCHES, params).fetchall()
    keys = sorted({(metric_id, variant) for metric_id, variant, _, _ in rows})
    group_of = {key: index for index, key in enumerate(keys)}
    counts = np.zeros(len(keys), dtype=np.int64)
    groups, payloads = [], []
    for metric_id, variant, n, payload in rows:
        group = group_of[(metric_id, variant)]
        counts[group] += n
        if payload is not None:
            groups.append(group)
            payloads.append(bytes(payload))
    merged = _merge(np.asarray(groups, dtype=np.int64), payloads, len(keys))
    return [
        VariantSketch(metric_id, variant, int(counts[group]), merged[group])
        for (metric_id, variant), group in group_of.items()
    ]


def _merge(groups: np.ndarray, payloads: list[bytes], count: int) -> list[sketches.Sketch]:
    """The merge of the payloads of each group 0..count-1, all decoded at once."""
    if not payloads:
        return [sketches.Sketch.empty() for _ in range(count)]
    entries = sketches.decode_many(payloads)
    owner, bins, totals = sketches.sum_bins(groups[entries.rows], entries.bins, entries.counts)
    cut = np.searchsorted(owner, np.arange(count + 1))
    return [
        sketches.Sketch(bins[cut[g] : cut[g + 1]].copy(), totals[cut[g] : cut[g + 1]].copy())
        for g in range(count)
    ]
