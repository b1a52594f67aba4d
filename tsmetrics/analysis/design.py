"""How an A/B test's comparisons are judged: inference, unit width, tuning, and what they mean.

Everything here follows from the test's settings and from sample counts, never
from metric values, so an A/A test's error rate is what the inference promises:

- inference: the query's, else the test's own (`sequential` for new tests).
- unit `time` compares paired bucket means of a fixed width per test: the
  smallest rollup size that puts at most PLANNED_UNITS_MAX buckets in the
  planned duration (planned end minus start, else DEFAULT_PLANNED_DAYS). A
  3-day plan pairs 1-minute means (4,320 units), a 14-day plan 5-minute means
  (4,032), a 30-day plan 30-minute means (1,440): plenty of units for the
  long-run variance, few enough that 30 days read in tens of milliseconds.
  The guardrail watcher calls these same functions, so banners and panel agree.
- tuning (sequential only), N*, the units at which the sequence is tightest:
  unit `sample`: the test's `sequentialNStar` if set; else `plannedSamples`
  times the expected share of the two variants compared; else the observed rate
  of samples (of both variants, counts only) times the planned duration.
  Unit `time`: the planned duration in units.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from tsmetrics.analysis import sequential, stats
from tsmetrics.granularity import GRANULARITIES
from tsmetrics.store import catalogue

DEFAULT_PLANNED_DAYS = 14
PLANNED_UNITS_MAX = 5_000
DAY = 86_400
_WIDTHS = sorted(GRANULARITIES.values())


class Plan(Protocol):
    """The plan fields the width and tuning read: an A/B test's, or its guardrails' copy."""

    @property
    def variants(self) -> list[str]: ...
    @property
    def expected_split(self) -> list[float] | None: ...
    @property
    def started_at(self) -> datetime | None: ...
    @property
    def planned_end(self) -> datetime | None: ...
    @property
    def planned_samples(self) -> int | None: ...
    @property
    def sequential_n_star(self) -> int | None: ...


@dataclass(frozen=True)
class Tuned:
    """A sequence's tuning and where its N* came from."""

    tuning: sequential.Tuning
    source: str  # "setting", "plannedSamples", "plannedEnd" or "default"


def choose(abtest: catalogue.ABTest, requested: str | None) -> str:
    """The inference to use: the one asked for, else the test's own."""
    return requested or abtest.inference


def planned_seconds(plan: Plan, start: datetime) -> tuple[float, bool]:
    """(planned duration in seconds, True when it comes from the test's planned end)."""
    began = plan.started_at or start
    if plan.planned_end is not None and plan.planned_end > began:
        return (plan.planned_end - began).total_seconds(), True
    return float(DEFAULT_PLANNED_DAYS * DAY), False


def unit_seconds(plan: Plan, start: datetime) -> int:
    """The width of the unit `time` for this test: fixed by its plan, not by the window."""
    seconds, _ = planned_seconds(plan, start)
    for width in _WIDTHS:
        if seconds / width <= PLANNED_UNITS_MAX:
            return width
    return _WIDTHS[-1]


def paired_range(low: int, high: int, width: int) -> tuple[int, int]:
    """The whole buckets of `width` inside [low, high): the unit `time`'s range (epoch s)."""
    first = -(-low // width) * width
    return first, max(first, high // width * width)


def _shares(plan: Plan, position: int) -> float:
    weights = plan.expected_split or [1.0] * len(plan.variants)
    return (weights[0] + weights[position]) / sum(weights)


def sample_tuning(
    plan: Plan,
    position: int,
    units: int,
    window_seconds: float,
    start: datetime,
    alpha: float = stats.ALPHA,
) -> Tuned:
    """N* for control against treatment `position` with `units` samples in the window."""
    if plan.sequential_n_star:
        return Tuned(sequential.Tuning.at(plan.sequential_n_star, alpha), "setting")
    if plan.planned_samples:
        n_star = plan.planned_samples * _shares(plan, position)
        return Tuned(sequential.Tuning.at(n_star, alpha), "plannedSamples")
    seconds, planned = planned_seconds(plan, start)
    rate = units / window_seconds if window_seconds > 0 else 0.0
    n_star = max(rate * seconds, 1.0)
    return Tuned(sequential.Tuning.at(n_star, alpha), "plannedEnd" if planned else "default")


def time_tuning(plan: Plan, start: datetime, alpha: float = stats.ALPHA) -> Tuned:
    """N* for the unit `time`: the planned duration in units of this test's width."""
    seconds, planned = planned_seconds(plan, start)
    n_star = max(seconds / unit_seconds(plan, start), 1.0)
    return Tuned(sequential.Tuning.at(n_star, alpha), "plannedEnd" if planned else "default")


def validity(inference: str, abtest: catalogue.ABTest) -> str:
    """What the numbers of this inference may be trusted for, in words."""
    if inference == "sequential":
        return "Always valid: you may look at any time."
    if abtest.planned_end is not None:
        planned = abtest.planned_end.astimezone(UTC)
        return (
            f"Fixed horizon: valid at the planned end on {planned:%Y-%m-%d %H:%M} UTC,"
            " preliminary before."
        )
    return (
        "Fixed horizon: valid at one look at a size fixed in advance (no planned end is set),"
        " preliminary before."
    )


def width_label(seconds: int) -> str:
    """A unit width in words: "5-minute", "1-hour"."""
    if seconds % 3600 == 0:
        return f"{seconds // 3600}-hour"
    return f"{seconds // 60}-minute"


def unit_label(unit: str, seconds: int | None) -> str:
    """The analysis unit in words."""
    if unit == "time" and seconds:
        return f"time: paired {width_label(seconds)} means of the variants"
    return "sample: independent samples"
