"""Realistic demo samples: a daily traffic cycle, noise, and known treatment effects.

Each A/B test stands for a service that handles one request every `interval`
seconds; each request is served by one variant (50/50) and reports every
metric. The treatment effects below are what later analysis should find.
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


@dataclass(frozen=True)
class DemoTest:
    """An A/B test the demo creates, with the treatment's multiplier per metric."""

    name: str
    title: str
    description: str
    effects: dict[str, float]


METRICS = (
    DemoMetric("response_time", "ms", "mean", False, "Server time to answer a request."),
    DemoMetric("cpu_usage", "%", "mean", False, "CPU use of the serving instance."),
    DemoMetric("ram_usage", "MB", "mean", False, "Resident memory of the serving instance."),
    DemoMetric("add_to_cart", "clicks", "sum", True, "Add-to-cart clicks in the interval."),
)
TESTS = (
    DemoTest(
        "feature_a",
        "One-click checkout",
        "Treatment skips the cart review step.",
        # Faster and more clicks, at a small CPU and memory cost.
        {"response_time": 0.90, "cpu_usage": 1.04, "ram_usage": 1.02, "add_to_cart": 1.08},
    ),
    DemoTest(
        "feature_b",
        "Recommendations carousel",
        "Treatment shows a product carousel; only memory changes (the rest is an A/A pair).",
        {"response_time": 1.0, "cpu_usage": 1.0, "ram_usage": 1.06, "add_to_cart": 1.0},
    ),
)
VARIANTS = ["control", "treatment"]


def _daily_load(seconds: np.ndarray) -> np.ndarray:
    # 0 at 08:00 UTC, 1 at 20:00 UTC: an evening shopping peak.
    hours = (seconds % 86_400) / 3_600
    return 0.5 + 0.5 * np.sin(2 * np.pi * (hours - 14) / 24)


def _values(metric: str, load: np.ndarray, effect: np.ndarray, rng: np.random.Generator):
    size = len(load)
    if metric == "response_time":
        return 90 * (1 + 0.4 * load) * effect * rng.lognormal(0, 0.25, size)
    if metric == "cpu_usage":
        return np.clip((35 + 30 * load) * effect + rng.normal(0, 4, size), 0, 100)
    if metric == "ram_usage":
        return (2048 + 300 * load) * effect + rng.normal(0, 30, size)
    if metric == "add_to_cart":
        return rng.poisson(3 * (0.3 + load) * effect).astype(np.float64)
    raise ValueError(f"no demo model for metric {metric!r}")


def simulated_values(
    test: DemoTest,
    metric: str,
    seconds: np.ndarray,
    variant: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Values of `metric` for requests at `seconds` (epoch) served by `variant` (1: treatment)."""
    effect = np.where(variant == 1, test.effects[metric], 1.0)
    return _values(metric, _daily_load(seconds), effect, rng)


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
        load = _daily_load(ticks)
        for metric in METRICS:
            effect = np.where(variant == 1, test.effects[metric.name], 1.0)
            parts.append(
                SampleColumns(
                    time_us=ticks * 1_000_000,
                    value=_values(metric.name, load, effect, rng),
                    abtest_id=np.full(len(ticks), abtest_ids[test.name], dtype=np.int32),
                    metric_id=np.full(len(ticks), metric_ids[metric.name], dtype=np.int16),
                    variant=variant,
                )
            )
    return SampleColumns.concat(parts)
