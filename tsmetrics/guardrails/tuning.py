"""How a guardrail's sequence is tuned and how wide its `time` units are, from the test's plan.

The rules of the A/B test's results panel (the compare API's), so a banner and
the panel show the same numbers; they use the test's settings and sample
counts only, never metric values, so an A/A test's error rate is as promised:

- unit `time` pairs bucket means of a fixed width per test: the smallest rollup
  size that puts at most PLANNED_UNITS_MAX buckets in the planned duration
  (planned end minus start, else DEFAULT_PLANNED_DAYS): 14 days pair 5-minute means.
- N* (where the sequence is tightest): unit `sample`, the test's sequential_n_star
  if set, else planned_samples times the expected share of the two variants
  compared, else the observed rate of samples times the planned duration;
  unit `time`, the planned duration in units.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tsmetrics.analysis import sequential, stats
from tsmetrics.granularity import GRANULARITIES
from tsmetrics.store.guardrails import Guardrail

DEFAULT_PLANNED_DAYS = 14
PLANNED_UNITS_MAX = 5_000
DAY = 86_400
_WIDTHS = sorted(GRANULARITIES.values())


@dataclass(frozen=True)
class Tuned:
    """A sequence's tuning and where its N* came from."""

    tuning: sequential.Tuning
    source: str  # "setting", "plannedSamples", "plannedEnd" or "default"


def planned_seconds(guardrail: Guardrail, start: datetime) -> tuple[float, bool]:
    """(The planned duration in seconds, True when it comes from the test's planned end)."""
    began = guardrail.started_at or start
    if guardrail.planned_end is not None and guardrail.planned_end > began:
        return (guardrail.planned_end - began).total_seconds(), True
    return float(DEFAULT_PLANNED_DAYS * DAY), False


def unit_seconds(guardrail: Guardrail, start: datetime) -> int:
    """The width of the unit `time` for this test: fixed by its plan, not by the window."""
    seconds, _ = planned_seconds(guardrail, start)
    return next((w for w in _WIDTHS if seconds / w <= PLANNED_UNITS_MAX), _WIDTHS[-1])


def sample_tuning(
    guardrail: Guardrail, position: int, units: int, window_seconds: float, start: datetime
) -> Tuned:
    """N* for control against treatment `position` with `units` samples in the window."""
    if guardrail.sequential_n_star:
        return Tuned(sequential.Tuning.at(guardrail.sequential_n_star, stats.ALPHA), "setting")
    if guardrail.planned_samples:
        weights = guardrail.expected_split or [1.0] * len(guardrail.variants)
        share = (weights[0] + weights[position]) / sum(weights)
        n_star = guardrail.planned_samples * share
        return Tuned(sequential.Tuning.at(n_star, stats.ALPHA), "plannedSamples")
    seconds, planned = planned_seconds(guardrail, start)
    rate = units / window_seconds if window_seconds > 0 else 0.0
    n_star = max(rate * seconds, 1.0)
    return Tuned(sequential.Tuning.at(n_star, stats.ALPHA), "plannedEnd" if planned else "default")


def time_tuning(guardrail: Guardrail, start: datetime) -> Tuned:
    """N* for the unit `time`: the planned duration in units of this test's width."""
    seconds, planned = planned_seconds(guardrail, start)
    n_star = max(seconds / unit_seconds(guardrail, start), 1.0)
    return Tuned(sequential.Tuning.at(n_star, stats.ALPHA), "plannedEnd" if planned else "default")
