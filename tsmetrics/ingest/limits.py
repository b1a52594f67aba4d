"""What a batch may hold besides its format, shared by the batch and the sample checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Limits:
    """What a batch may hold besides its format: size, and how old or new its samples may be."""

    max_bytes: int = 2_000_000
    max_age_seconds: float = 7 * 86_400
    max_future_seconds: float = 300

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> Limits:
        """The limits configured by TSMETRICS_MAX_*."""
        return cls(
            max_bytes=settings["MAX_MESSAGE_BYTES"],
            max_age_seconds=settings["MAX_SAMPLE_AGE"],
            max_future_seconds=settings["MAX_SAMPLE_FUTURE"],
        )
