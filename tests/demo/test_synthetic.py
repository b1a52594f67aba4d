"""The demo's gauges: autocorrelated like real instance readings, and the same however chunked."""

from __future__ import annotations

import numpy as np
import pytest

from tsmetrics.demo import synthetic

DAY = 86_400
T0 = 1_764_547_200  # 2025-12-01T00:00:00Z


def _lag_correlation(values: np.ndarray, lag: int) -> float:
    return float(np.corrcoef(values[:-lag], values[lag:])[0, 1])


@pytest.mark.parametrize("metric", sorted(synthetic.GAUGES))
def test_gauges_follow_their_ar1_model(metric):
    """Lag-1 correlation is rho and lag-k is rho**k (a day of 17,280 readings; SE about 0.01)."""
    gauge = synthetic.GAUGES[metric]
    seconds = np.arange(T0, T0 + DAY, synthetic.GAUGE_STEP_S)
    noise = synthetic.gauge_noise((0, 1, 0), gauge, seconds)
    assert noise.std() == pytest.approx(gauge.sd, rel=0.05)
    assert _lag_correlation(noise, 1) == pytest.approx(gauge.rho, abs=0.03)
    assert _lag_correlation(noise, 12) == pytest.approx(gauge.rho**12, abs=0.05)


def test_readings_do_not_depend_on_how_the_range_is_cut():
    """The seed writes in chunks and the simulator second by second: both see one process."""
    gauge = synthetic.GAUGES["cpu_usage"]
    seconds = np.arange(T0 - 3_600, T0 + DAY + 3_600, 2)
    whole = synthetic.gauge_noise((1, 2, 1), gauge, seconds)
    halves = np.concatenate(
        [
            synthetic.gauge_noise((1, 2, 1), gauge, seconds[:20_000]),
            synthetic.gauge_noise((1, 2, 1), gauge, seconds[20_000:]),
        ]
    )
    np.testing.assert_array_equal(whole, halves)


def test_variants_have_independent_instances():
    """Control's and treatment's readings are uncorrelated: the A/A pair of feature_b is null."""
    gauge = synthetic.GAUGES["ram_usage"]
    seconds = np.arange(T0, T0 + DAY, synthetic.GAUGE_STEP_S)
    control = synthetic.gauge_noise((1, 2, 0), gauge, seconds)
    treatment = synthetic.gauge_noise((1, 2, 1), gauge, seconds)
    assert abs(np.corrcoef(control, treatment)[0, 1]) < 0.1
