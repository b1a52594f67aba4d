"""Realistic demo samples: a daily traffic cycle, noise, and known treatment effects.

Each A/B test stands for a service that handles one request every `interval`
seconds; each request is served by one variant (50/50) and reports every
metric. The treatment effects below are what later analysis should find.

cpu_usage and ram_usage are gauges: a reading of the variant's serving
instance, which moves slowly, so readings a few seconds apart are strongly
correlated (an AR(1) process per variant, `GAUGES`). Treating them as
independent samples is the mistake the `time` analysis unit avoids.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tsmetrics.store.samples import SampleColumns


@dataclass(frozen=True)
class DemoMetric:
    """A catalogue entry the demo creates."""

    name: str
    unit: str
    kind: str
    higher_is_better: bool
    description: str
    analysis_unit: str = "sample"  # gauges: "time" (paired bucket means; see analysis.time_unit)
    distribution: bool = True  # percentiles per bucket; off for counters


@dataclass(frozen=True)
class DemoTest:
    """An A/B test the demo creates, with the treatment's multiplier per metric."""

    name: str
    title: str
    description: str
    effects: dict[str, float]
    guardrails: tuple[str, ...] = ()  # alert when significantly worse (always-valid inference)


METRICS = (
    DemoMetric("response_time", "ms", "mean", False, "Server time to answer a request."),
    DemoMetric("cpu_usage", "%", "mean", False, "CPU use of the serving instance.", "time"),
    DemoMetric(
        "ram_usage", "MB", "mean", False, "Resident memory of the serving instance.", "time"
    ),
    DemoMetric(
        "add_to_cart",
        "clicks",
        "sum",
        True,
        "Add-to-cart clicks in the interval.",
        distribution=False,
    ),
)
TESTS = (
    DemoTest(
        "feature_a",
        "One-click checkout",
        "Treatment skips the cart review step.",
        # Faster and more clicks, at a small CPU and memory cost.
        {"response_time": 0.90, "cpu_usage": 1.04, "ram_usage": 1.02, "add_to_cart": 1.08},
        guardrails=("response_time", "cpu_usage"),
    ),
    DemoTest(
        "feature_b",
        "Recommendations carousel",
        "Treatment shows a product carousel; only memory changes (the rest is an A/A pair).",
        {"response_time": 1.0, "cpu_usage": 1.0, "ram_usage": 1.06, "add_to_cart": 1.0},
    ),
)
VARIANTS = ["control", "treatment"]
# Every demo test plans to detect a 1% change of each metric, and to end two
# weeks after the demo is first seeded.
PLANNED_MDE = 0.01
PLANNED_DAYS_AHEAD = 14
METRIC_NAMES = tuple(metric.name for metric in METRICS)


@dataclass(frozen=True)
class Gauge:
    """An instance's reading that follows an AR(1) process on a 5-second grid."""

    rho: float  # correlation of two readings one step apart
    sd: float  # the stationary standard deviation of the noise


GAUGE_STEP_S = 5
# rho 0.8 per 5 s: a CPU reading forgets in about 20 s (0.07 after a minute);
# rho 0.9: memory drifts for about a minute (0.28 after a minute).
GAUGES = {"cpu_usage": Gauge(rho=0.8, sd=4.0), "ram_usage": Gauge(rho=0.9, sd=30.0)}
# One block of innovations a day and stream: any range of any chunking
# regenerates the same readings (the seed and the simulator agree).
_BLOCK_STEPS = 86_400 // GAUGE_STEP_S
_KERNEL_TOLERANCE = 1e-7


def _daily_load(seconds: np.ndarray) -> np.ndarray:
    # 0 at 08:00 UTC, 1 at 20:00 UTC: an evening shopping peak.
    hours = (seconds % 86_400) / 3_600
    return 0.5 + 0.5 * np.sin(2 * np.pi * (hours - 14) / 24)


def gauge_noise(stream: tuple[int, ...], gauge: Gauge, seconds: np.ndarray) -> np.ndarray:
    """The AR(1) noise of one instance (`stream` seeds it) at `seconds` (epoch)."""
    if len(seconds) == 0:
        return np.zeros(0)
    steps = np.floor_divide(np.asarray(seconds), GAUGE_STEP_S).astype(np.int64)
    # AR(1) as its moving-average form, cut where rho**k is negligible:
    # x_t = sd * sqrt(1 - rho^2) * sum_k rho^k e_(t-k).
    width = int(np.ceil(np.log(_KERNEL_TOLERANCE) / np.log(gauge.rho)))
    kernel = gauge.sd * np.sqrt(1 - gauge.rho**2) * gauge.rho ** np.arange(width)
    first, last = int(steps.min()) - width + 1, int(steps.max())
    blocks = range(first // _BLOCK_STEPS, last // _BLOCK_STEPS + 1)
    innovations = np.concatenate(
        [
            np.random.default_rng([*stream, block & 0xFFFFFFFF]).standard_normal(_BLOCK_STEPS)
            for block in blocks
        ]
    )
    offset = first - blocks[0] * _BLOCK_STEPS
    window = innovations[offset : offset + (last - first + 1)]
    readings = np.convolve(window, kernel, mode="valid")  # readings[i] is step first+width-1+i
    return readings[steps - (first + width - 1)]


def _values(
    test: DemoTest,
    metric: str,
    seconds: np.ndarray,
    variant: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    load = _daily_load(seconds)
    effect = np.where(variant == 1, test.effects[metric], 1.0)
    size = len(load)
    if metric == "response_time":
        return 90 * (1 + 0.4 * load) * effect * rng.lognormal(0, 0.25, size)
    if metric == "add_to_cart":
        return rng.poisson(3 * (0.3 + load) * effect).astype(np.float64)
    if metric not in GAUGES:
        raise ValueError(f"no demo model for metric {metric!r}")
    noise = np.zeros(size)
    for position in np.unique(variant):
        chosen = variant == position
        stream = (TESTS.index(test), METRIC_NAMES.index(metric), int(position))
        noise[chosen] = gauge_noise(stream, GAUGES[metric], seconds[chosen])
    if metric == "cpu_usage":
        return np.clip((35 + 30 * load) * effect + noise, 0, 100)
    return (2048 + 300 * load) * effect + noise


def simulated_values(
    test: DemoTest,
    metric: str,
    seconds: np.ndarray,
    variant: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Values of `metric` for requests at `seconds` (epoch) served by `variant` (1: treatment)."""
    return _values(test, metric, np.asarray(seconds), variant, rng)


def generate(
    start_s: int,
    end_s: int,
    interval_s: int,
    *,
    abtest_ids: dict[str, int],
    metric_ids: dict[str, int],
) -> SampleColumns:
    """Samples for ticks in [start_s, end_s), ticks on multiples of interval_s (epoch seconds).

    Deterministic: the same range gives the same samples, whoever asks.
    """
    first = -(-start_s // interval_s) * interval_s
    ticks = np.arange(first, end_s, interval_s, dtype=np.int64)
    parts = []
    for test_index, test in enumerate(TESTS):
        rng = np.random.default_rng([test_index, int(first), int(end_s)])
        variant = rng.integers(0, len(VARIANTS), len(ticks)).astype(np.int16)
        for metric in METRICS:
            parts.append(
                SampleColumns(
                    time_us=ticks * 1_000_000,
                    value=_values(test, metric.name, ticks, variant, rng),
                    abtest_id=np.full(len(ticks), abtest_ids[test.name], dtype=np.int32),
                    metric_id=np.full(len(ticks), metric_ids[metric.name], dtype=np.int16),
                    variant=variant,
                )
            )
    return SampleColumns.concat(parts)
