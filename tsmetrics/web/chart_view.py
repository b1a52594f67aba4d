"""What an A/B test page shows (range, granularity, variants, line, band), as its URL says.

The URL is the page's state: a view can be bookmarked and shared, and the back
button returns to it. `ChartView.params()` is the canonical, minimal query.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from werkzeug.datastructures import MultiDict

from tsmetrics import granularity as gran

PRESETS: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
PRESET_LABELS = {
    "1h": "the last hour",
    "6h": "the last 6 hours",
    "24h": "the last 24 hours",
    "7d": "the last 7 days",
    "30d": "the last 30 days",
}
CUSTOM = "custom"
DEFAULT_RANGE = "24h"
# A chart line never draws more buckets than one page of the JSON API.
MAX_POINTS = 10_000
# The years a custom range may reach; the form's fields carry the same limits (min, max).
YEAR_MIN, YEAR_MAX = 2000, 2099
# What a distribution metric's chart draws: its line, and its band's edges (percentile names).
LINES = ("mean", "p50", "p95", "p99")
BANDS: dict[str, tuple[str, ...]] = {
    "p5-p95": ("p5", "p95"),
    "p25-p75": ("p25", "p75"),
    "minmax": (),
}
DEFAULT_LINE, DEFAULT_BAND = "mean", "p5-p95"
# In words, with an en dash (written as an escape: ruff's RUF001 flags the character).
BAND_LABELS = {"p5-p95": "p5\u2013p95", "p25-p75": "p25\u2013p75", "minmax": "min\u2013max"}
# An unencoded "+" of an offset arrives as a space: "...T12:00:00 01:00".
_SPACE_FOR_PLUS = re.compile(r"(\d) (\d\d:?\d\d)$")


class BadView(ValueError):
    """A query parameter of a page cannot be used; the message says why."""


@dataclass(frozen=True)
class Shape:
    """What one chart draws: its line (mean or a percentile) and its band."""

    line: str = "mean"
    band: str = "minmax"

    @property
    def quantiles(self) -> tuple[str, ...]:
        """The percentiles the chart reads (its /metrics `quantiles`), in increasing order."""
        names = {*BANDS[self.band], *([self.line] if self.line != "mean" else [])}
        return tuple(sorted(names, key=lambda name: float(name[1:])))

    @property
    def line_field(self) -> str:
        """The datapoint field the line draws: `a`, or `q.<percentile>`."""
        return "a" if self.line == "mean" else f"q.{self.line}"

    @property
    def band_fields(self) -> tuple[str, str]:
        """The datapoint fields of the band's lower and upper edges."""
        low_high = BANDS[self.band]
        return (f"q.{low_high[0]}", f"q.{low_high[1]}") if low_high else ("l", "h")

    @property
    def band_label(self) -> str:
        """The band in words, e.g. `p5` to `p95` joined by an en dash."""
        return BAND_LABELS[self.band]


# A metric that keeps no distribution has only mean, minimum and maximum per bucket.
PLAIN = Shape()


@dataclass(frozen=True)
class ChartView:
    """The range, granularity and variants one A/B test page shows."""

    range: str
    start: datetime
    end: datetime
    granularity: str
    variants: tuple[str, ...]
    all_variants: tuple[str, ...]
    # For distribution metrics only; the others always draw PLAIN.
    line: str = DEFAULT_LINE
    band: str = DEFAULT_BAND

    @property
    def is_custom(self) -> bool:
        """True for a start/end range rather than a preset."""
        return self.range == CUSTOM

    def params(self) -> dict[str, str | list[str]]:
        """The canonical query parameters (defaults left out)."""
        params: dict[str, str | list[str]] = {}
        if self.is_custom:
            params.update(range=CUSTOM, start=iso_utc(self.start), end=iso_utc(self.end))
        elif self.range != DEFAULT_RANGE:
            params["range"] = self.range
        if self.granularity != gran.AUTO:
            params["granularity"] = self.granularity
        if self.variants != self.all_variants:
            # An empty value keeps "no variant" apart from "no choice made" (all).
            params["variant"] = list(self.variants) or [""]
        if self.line != DEFAULT_LINE:
            params["line"] = self.line
        if self.band != DEFAULT_BAND:
            params["band"] = self.band
        return params

    def shape(self, distribution: bool) -> Shape:
        """What a chart of a metric draws: the chosen line and band if it keeps distributions."""
        return Shape(self.line, self.band) if distribution else PLAIN

    def with_granularity(self, granularity: str) -> ChartView:
        """The same view at another granularity."""
        return replace(self, granularity=granularity)

    def wider(self) -> tuple[ChartView, str] | None:
        """A wider range ending at the same time, with its label, or None when there is none."""
        span = self.end - self.start
        for name, preset in PRESETS.items():
            if preset > span and not self.is_custom:
                return replace(self, range=name, start=self.end - preset), PRESET_LABELS[name]
        if span >= timedelta(days=3650):
            return None
        start = gran.clamp(self.end - max(span * 3, PRESETS["30d"]))
        if start >= self.start:
            return None
        label = f"the {(self.end - start).days} days to {self.end:%Y-%m-%d %H:%M} UTC"
        return replace(self, range=CUSTOM, start=start), label

    def describe(self) -> str:
        """The range in words, for headings."""
        if self.is_custom:
            return f"{self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M} UTC"
        return PRESET_LABELS[self.range]


def iso_utc(moment: datetime) -> str:
    """`moment` as ISO 8601 in UTC with a Z, to the second (the year always four digits)."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def _parse_moment(name: str, raw: str) -> datetime:
    text = _SPACE_FOR_PLUS.sub(r"\1+\2", raw.strip())
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadView(f"{name}: not an ISO 8601 date-time, e.g. 2025-10-13T12:00:00Z.") from None
    # A datetime-local field sent without JavaScript has no offset: read it as UTC.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        moment = moment.astimezone(UTC).replace(microsecond=0)
    except OverflowError:  # year 1 with a positive offset, year 9999 with a negative one
        raise BadView(f"{name}: the year must be between {YEAR_MIN} and {YEAR_MAX}.") from None
    if not YEAR_MIN <= moment.year <= YEAR_MAX:
        raise BadView(f"{name}: the year must be between {YEAR_MIN} and {YEAR_MAX}.")
    return moment


def _parse_range(args: MultiDict[str, str], now: datetime) -> tuple[str, datetime, datetime]:
    name = args.get("range") or (CUSTOM if args.get("start") else DEFAULT_RANGE)
    if name in PRESETS:
        return name, now - PRESETS[name], now
    if name != CUSTOM:
        raise BadView(f"range: one of {', '.join(PRESETS)} or custom.")
    end = _parse_moment("end", args["end"]) if args.get("end") else now
    start = (
        _parse_moment("start", args["start"])
        if args.get("start")
        else gran.clamp(end - PRESETS[DEFAULT_RANGE])
    )
    if end <= start:
        raise BadView("end: must be after start.")
    return name, start, end


def parse_view(
    args: MultiDict[str, str], variants: Sequence[str], now: datetime | None = None
) -> ChartView:
    """The view a page's query asks for; BadView when a parameter is unusable.

    Without `variant` every variant is shown; unknown variant names are dropped.
    """
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    range_name, start, end = _parse_range(args, now)
    granularity = args.get("granularity") or gran.AUTO
    if granularity not in gran.CHOICES:
        raise BadView(f"granularity: one of {', '.join(gran.CHOICES)}.")
    line = args.get("line") or DEFAULT_LINE
    if line not in LINES:
        raise BadView(f"line: one of {', '.join(LINES)}.")
    band = args.get("band") or DEFAULT_BAND
    if band not in BANDS:
        raise BadView(f"band: one of {', '.join(BANDS)}.")
    chosen = set(args.getlist("variant")) if "variant" in args else set(variants)
    return ChartView(
        range=range_name,
        start=start,
        end=end,
        granularity=granularity,
        variants=tuple(v for v in variants if v in chosen),
        all_variants=tuple(variants),
        line=line,
        band=band,
    )
