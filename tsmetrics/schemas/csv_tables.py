"""The CSV twins' tables: each JSON body that holds a table of numbers, as a header and rows.

Every table is read off the very body the JSON view answers (computed once,
rendered twice), so a CSV cell holds the number its JSON twin shows: floats are
written by repr, which gives back the same double, as orjson's JSON does. The
columns are the JSON field names; an interval `[low, high]` becomes two
columns, `<name>Low` and `<name>High`, and a list of names one cell, joined
by spaces (names are slugs: no space in them).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from tsmetrics.store.buckets import Datapoint

Row = list[Any]

BUCKET_HEADER = ["t", "time", "mean", "min", "max"]
# Bucket starts are whole minutes: a day's date and a minute's time are looked
# up, not formatted (strftime would be most of an export's cost).
_MINUTES = [f"{m // 60:02d}:{m % 60:02d}:00" for m in range(1440)]


@functools.lru_cache(maxsize=64)
def _date(day: int) -> str:
    return datetime.fromtimestamp(day * 86_400, UTC).strftime("%Y-%m-%d")


def iso_time(seconds: int) -> str:
    """Epoch seconds as an ISO 8601 UTC time (2025-10-13T12:00:00Z), the form spreadsheets read."""
    if seconds % 60:
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{_date(seconds // 86_400)}T{_MINUTES[seconds % 86_400 // 60]}Z"


def _number(value: float | None) -> str:
    return "" if value is None else repr(value)


def bucket_header(quantiles: tuple[str, ...] = ()) -> list[str]:
    """GET /metrics's CSV columns: BUCKET_HEADER, then one column per percentile asked for."""
    return [*BUCKET_HEADER, *quantiles]


def bucket_lines(points: list[Datapoint], quantiles: tuple[str, ...] = ()) -> str:
    """GET /metrics's datapoints as CSV lines: `t`, its time, the JSON's `a`, `l`, `h`, then `q`.

    Written directly, not through the csv module: every cell is a number or an
    ISO time, which never needs quotes nor escaping, and an export is mostly
    this loop (about 4 times faster). A bucket without percentiles (`q` null:
    written before its metric kept distributions) has empty percentile cells.
    """
    if not quantiles:
        return "".join(
            [f"{p['t']},{iso_time(p['t'])},{p['a']!r},{p['l']!r},{p['h']!r}\r\n" for p in points]
        )
    empty = "," * len(quantiles)
    return "".join(
        [
            f"{p['t']},{iso_time(p['t'])},{p['a']!r},{p['l']!r},{p['h']!r}"
            + (
                empty
                if p["q"] is None
                else "".join(f",{_number(p['q'][name])}" for name in quantiles)
            )
            + "\r\n"
            for p in points
        ]
    )


def _boolean(value: bool | None) -> str | None:
    return None if value is None else ("true" if value else "false")  # as the JSON writes them


def _pair(interval: list[float | None] | None) -> list[float | None]:
    return [None, None] if interval is None else list(interval)


_VARIANT_KEYS = ("count", "mean", "sd", "min", "max")
_COMPARISON_KEYS = ("lift", "relativeLift", "statistic", "t", "df", "pValue", "adjustedPValue")
COMPARISON_HEADER = [
    "metric", "unit", "kind", "analysisUnit", "variant", *_VARIANT_KEYS,
    "meanCiLow", "meanCiHigh", "sum", "ratePerMinute",
    "lift", "liftCiLow", "liftCiHigh", "relativeLift", "relativeLiftCiLow", "relativeLiftCiHigh",
    "statistic", "t", "df", "pValue", "adjustedPValue", "units", "verdict", "refusal",
    "inference", "srmChiSquared", "srmPValue", "srmFlagged",
]  # fmt: skip


_QUANTILE_COMPARISON_KEYS = ("statistic", "pValue", "adjustedPValue", "verdict", "refusal")


def comparison_header(quantiles: tuple[str, ...] = ()) -> list[str]:
    """The comparison's CSV columns: COMPARISON_HEADER, then each percentile's (`quantiles`)."""
    columns = list(COMPARISON_HEADER)
    for q in quantiles:
        columns += [q, f"{q}CiLow", f"{q}CiHigh", f"{q}Difference", f"{q}DifferenceCiLow"]
        columns += [f"{q}DifferenceCiHigh", f"{q}RelativeDifference"]
        columns += [f"{q}RelativeDifferenceCiLow", f"{q}RelativeDifferenceCiHigh"]
        columns += [f"{q}{key[0].upper()}{key[1:]}" for key in _QUANTILE_COMPARISON_KEYS]
    return columns


def _quantile_cells(metric: dict[str, Any], variant: str, quantiles: tuple[str, ...]) -> Row:
    """A variant's percentiles with intervals, then (treatments) their comparison; empty if none."""
    width = 9 + len(_QUANTILE_COMPARISON_KEYS)
    block = metric.get("quantiles")
    if block is None:
        return [None] * (width * len(quantiles))
    mine = [v for v in block["variants"] if v["variant"] == variant]
    values = {v["quantile"]: v for v in mine[0]["quantiles"]} if mine else {}
    compared = {c["quantile"]: c for c in block["comparisons"] if c["variant"] == variant}
    cells: Row = []
    for q in quantiles:
        value = values.get(q)
        cells += [None] * 3 if value is None else [value["value"], *_pair(value["ci"])]
        c = compared.get(q)
        if c is None:
            cells += [None] * (width - 3)
        else:
            cells += [c["difference"], *_pair(c["differenceCi"])]
            cells += [c["relativeDifference"], *_pair(c["relativeDifferenceCi"])]
            cells += [c[key] for key in _QUANTILE_COMPARISON_KEYS]
    return cells


def comparison_rows(body: dict[str, Any], quantiles: tuple[str, ...] = ()) -> Iterator[Row]:
    """GET /abtest/{name}/compare: a row per metric and variant; treatments add their comparison.

    The control's comparison cells are empty; the sample ratio check, one per
    metric, is repeated on each of its rows. Percentiles asked for (`quantiles`)
    follow, each with its interval and, on a treatment's row, its comparison.
    """
    for metric in body["metrics"]:
        by_variant = {c["variant"]: c for c in metric["comparisons"]}
        srm = metric["srm"]
        for variant in metric["variants"]:
            c = by_variant.get(variant["variant"])
            row = [metric[key] for key in ("metric", "unit", "kind", "analysisUnit")]
            row += [variant["variant"], *(variant[key] for key in _VARIANT_KEYS)]
            row += [*_pair(variant["meanCi"]), variant["sum"], variant["ratePerMinute"]]
            if c is None:
                row += [None] * 15
            else:
                row += [c["lift"], *_pair(c["liftCi"])]
                row += [c["relativeLift"], *_pair(c["relativeLiftCi"])]
                row += [c[key] for key in _COMPARISON_KEYS[2:]]
                row += [c["units"], c["verdict"], c["refusal"], c["inference"]["method"]]
            row += [srm["chiSquared"], srm["pValue"], _boolean(srm["flagged"])]
            yield row + _quantile_cells(metric, variant["variant"], quantiles)


TIMELINE_HEADER = [
    "metric", "unit", "variant", "inference", "t", "time", "controlCount", "treatmentCount",
    "lift", "liftCiLow", "liftCiHigh", "relativeLift", "relativeLiftCiLow", "relativeLiftCiHigh",
    "pValue", "units", "refusal",
]  # fmt: skip


def timeline_rows(body: dict[str, Any]) -> Iterator[Row]:
    """GET /abtest/{name}/compare/over-time: a row per metric, treatment and point."""
    for metric in body["metrics"]:
        for treatment in metric["treatments"]:
            head = [metric["metric"], metric["unit"], treatment["variant"]]
            head.append(treatment["inference"]["method"])
            for p in treatment["points"]:
                row = [*head, p["t"], iso_time(p["t"]), p["controlCount"], p["treatmentCount"]]
                row += [p["lift"], *_pair(p["liftCi"])]
                row += [p["relativeLift"], *_pair(p["relativeLiftCi"])]
                yield [*row, p["pValue"], p["units"], p["refusal"]]


OVERVIEW_HEADER = [
    "name", "title", "status", "variants", "metrics", "recentSamples", "since",
    "latestSampleAt", "guardrailAlerts",
]  # fmt: skip


def overview_rows(body: dict[str, Any]) -> Iterator[Row]:
    """GET /overview: a row per A/B test; `guardrailAlerts` counts the raised ones."""
    for test in body["abTests"]:
        yield [
            test["name"],
            test["title"],
            test["status"],
            " ".join(test["variants"]),
            " ".join(test["metrics"]),
            test["recentSamples"],
            body["since"],
            test["latestSampleAt"],
            len(test["guardrailAlerts"]),
        ]
