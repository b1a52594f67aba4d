"""The comparison's quantile helpers: labels, and a merged sketch read at many ranks at once."""

from __future__ import annotations

import numpy as np

from tsmetrics.analysis import quantile_compare
from tsmetrics.sketches import QUANTILES, Sketch, ordinals


def test_labels_name_the_quantiles_the_argument_accepts():
    assert [quantile_compare.label(q) for q in QUANTILES.values()] == list(QUANTILES)
    assert QUANTILES["p99.9"] == 0.999 and QUANTILES["p7"] == 0.07


def test_values_at_ranks_are_read_within_their_bins():
    """Each rank is read in its own bin, in order, within 1% of the exact value (numpy)."""
    rng = np.random.default_rng(1)
    values = np.concatenate([np.zeros(40), -rng.lognormal(0, 2, 300), rng.lognormal(3, 1, 2000)])
    sketch = Sketch.from_values(values)
    merged = quantile_compare.Merged.of(sketch)
    ranks = list(range(sketch.count))
    assert merged.count == sketch.count == len(values)
    read = np.array(merged.values_at_ranks(ranks))
    assert merged.value_at_rank(17) == read[17]
    assert (np.diff(read) >= 0).all()
    assert (ordinals(read) == ordinals([sketch.value_at_rank(k) for k in ranks])).all()
    exact = np.sort(values)
    assert (np.abs(read - exact) <= 0.01 * np.abs(exact)).all()
    assert (read[exact == 0] == 0).all()
    assert quantile_compare.Merged.of(Sketch.empty()).count == 0
