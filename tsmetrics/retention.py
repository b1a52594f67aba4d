"""How long data is kept: TSMETRICS_RETAIN_RAW and the Graphite-style TSMETRICS_RETAIN_ROLLUPS.

Durations are written `14d`, `90 days`, `2y`, `12h`, `4w`, or `forever`. A year is
365 days. `m` alone is refused: Graphite writes minutes as `min`, and `m` could as
well be read as months. Rollup retentions must not shrink as buckets grow (a
coarse bucket is what remains of the fine ones), as in Graphite's archives.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tsmetrics.errors import Conflict
from tsmetrics.granularity import GRANULARITIES, kept

FOREVER = "forever"
DEFAULT_RAW = "90 days"
DEFAULT_ROLLUPS = "1m:14d,5m:90d,30m:1y,1h:2y,6h:5y,1d:forever"
_UNITS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
    "w": 7 * 86400,
    "week": 7 * 86400,
    "y": 365 * 86400,
    "year": 365 * 86400,
}
_DURATION = re.compile(r"^\s*(\d+)\s*([a-z]+?)s?\s*$")


class RetentionError(ValueError):
    """A retention setting that cannot be read; the message names the setting and the fix."""


@dataclass(frozen=True)
class Keep:
    """How long one kind of data is kept: seconds (None: forever) and the text it came from."""

    seconds: int | None
    text: str

    @property
    def interval(self) -> str:
        """The duration as a PostgreSQL interval literal (for TimescaleDB's policies)."""
        return f"{self.seconds} seconds"


def parse_duration(text: str, setting: str) -> Keep:
    """`14d`, `90 days`, `1y` or `forever`; RetentionError naming `setting` otherwise."""
    cleaned = text.strip().lower()
    if cleaned == FOREVER:
        return Keep(None, FOREVER)
    match = _DURATION.match(cleaned)
    unit = match[2] if match else ""
    if unit in ("m", "mo", "mon", "month"):
        raise RetentionError(
            f"{setting}: {text!r} is ambiguous: write minutes as `min`, and months in days "
            "(`30d`) or weeks (`4w`)."
        )
    if match is None or unit not in _UNITS or int(match[1]) == 0:
        raise RetentionError(
            f"{setting}: {text!r} is not a duration: write a positive number and a unit "
            "(s, min, h, d, w, y; e.g. `14d`, `90 days`, `2y`) or `forever`."
        )
    return Keep(int(match[1]) * _UNITS[unit], text.strip())


def parse_raw(text: str) -> Keep:
    """TSMETRICS_RETAIN_RAW: how long raw samples are kept."""
    return parse_duration(text, "TSMETRICS_RETAIN_RAW")


def parse_rollups(text: str) -> dict[str, Keep]:
    """TSMETRICS_RETAIN_ROLLUPS, e.g. `1m:14d,5m:90d,1d:forever`; unnamed granularities: forever."""
    setting = "TSMETRICS_RETAIN_ROLLUPS"
    kept: dict[str, Keep] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, colon, duration = item.partition(":")
        name = name.strip()
        if not colon or name not in GRANULARITIES:
            raise RetentionError(
                f"{setting}: {item!r} is not `granularity:duration` with a granularity of "
                f"{', '.join(GRANULARITIES)} (e.g. `1m:14d`)."
            )
        if name in kept:
            raise RetentionError(f"{setting}: {name} is given twice.")
        kept[name] = parse_duration(duration, f"{setting} ({name})")
    result = {name: kept.get(name, Keep(None, FOREVER)) for name in GRANULARITIES}
    finer: tuple[str, Keep] | None = None
    for name, keep in result.items():
        if finer and _shorter(keep, finer[1]):
            raise RetentionError(
                f"{setting}: {name} is kept {keep.text}, less than the finer {finer[0]} "
                f"({finer[1].text}); a coarser granularity must be kept at least as long."
            )
        finer = (name, keep)
    return result


def _shorter(keep: Keep, than: Keep) -> bool:
    if keep.seconds is None:
        return False
    return than.seconds is None or keep.seconds < than.seconds


def require_kept(name: str, start: datetime, horizons: Mapping[str, Any]) -> None:
    """Conflict (409) naming the retention and the finest granularity left, when `name`'s
    buckets from `start` were dropped. `horizons`: per kind, `.dropped_before` and `.kept`.
    """
    dropped = {kind: h.dropped_before for kind, h in horizons.items() if kind in GRANULARITIES}
    if kept(name, start, dropped):
        return
    finest = next((c for c in GRANULARITIES if kept(c, start, dropped)), None)
    left = (
        f"the finest granularity still available from there is {finest}"
        if finest
        else "no granularity holds data from there any more"
    )
    raise Conflict(
        "granularity",
        f"{name} buckets before {dropped[name]:%Y-%m-%dT%H:%M:%SZ} were dropped "
        f"(TSMETRICS_RETAIN_ROLLUPS keeps {name} for {horizons[name].kept}) and this range "
        f"starts at {start:%Y-%m-%dT%H:%M:%SZ}: {left}.",
    )
