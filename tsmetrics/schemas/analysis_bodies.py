"""The JSON bodies of the A/B analysis resources, shared by the API and the dashboard.

/abtest/{name}/compare and /compare/over-time answer these bodies (documented by
tsmetrics.schemas.analysis), and the dashboard's lift charts draw the over-time
one, so a chart and its JSON twin carry the same numbers. They are built as
plain dicts for orjson: a few thousand points, without marshmallow's cost.
"""

from __future__ import annotations

import math
from typing import Any

from tsmetrics.analysis import compare, stats, timeline
from tsmetrics.management import expected_shares


def _number(value: float | None) -> float | None:
    # orjson would silently write NaN as null; say so explicitly, and never Infinity.
    return value if value is not None and math.isfinite(value) else None


def _interval(interval: stats.Interval | None) -> list[float | None] | None:
    return None if interval is None else [_number(interval.low), _number(interval.high)]


def _welch_json(welch: stats.Welch | None) -> dict[str, Any]:
    if welch is None:
        return dict.fromkeys(
            ("lift", "liftCi", "relativeLift", "relativeLiftCi", "t", "df", "pValue")
        )
    return {
        "lift": _number(welch.lift),
        "liftCi": _interval(welch.lift_interval),
        "relativeLift": _number(welch.relative_lift),
        "relativeLiftCi": _interval(welch.relative_interval),
        "t": _number(welch.t),
        "df": _number(welch.df),
        "pValue": _number(welch.p_value),
    }


def _variant_json(v: compare.VariantSummary) -> dict[str, Any]:
    return {
        "variant": v.name,
        "count": v.count,
        "mean": _number(v.mean),
        "sd": _number(v.sd),
        "min": v.min,
        "max": v.max,
        "meanCi": _interval(v.mean_interval),
        "sum": _number(v.total),
        "ratePerMinute": _number(v.rate_per_minute),
    }


def _srm_json(ratio: compare.SampleRatio) -> dict[str, Any]:
    test = ratio.test
    return {
        "observed": ratio.observed,
        "expected": test.expected if test else None,
        "chiSquared": _number(test.statistic) if test else None,
        "df": test.df if test else None,
        "pValue": _number(test.p_value) if test else None,
        "flagged": ratio.flagged,
        "refusal": ratio.refusal,
    }


def _metric_json(result: compare.MetricComparison) -> dict[str, Any]:
    metric = result.metric
    return {
        "metric": metric.name,
        "unit": metric.unit,
        "kind": metric.kind,
        "higherIsBetter": metric.higher_is_better,
        "displayDecimals": metric.display_decimals,
        "variants": [_variant_json(v) for v in result.variants],
        "srm": _srm_json(result.sample_ratio),
        "comparisons": [
            {"variant": c.variant}
            | _welch_json(c.welch)
            | {"adjustedPValue": _number(c.adjusted_p), "verdict": c.verdict, "refusal": c.refusal}
            for c in result.comparisons
        ],
    }


def comparison_json(report: compare.ComparisonReport) -> dict[str, Any]:
    """The /abtest/{name}/compare body."""
    return {
        "abTest": report.abtest.name,
        "control": report.abtest.variants[0],
        "start": report.start,
        "end": report.end,
        "alpha": report.alpha,
        "correction": {"method": report.correction, "comparisons": report.family_size},
        "expectedSplit": expected_shares(report.abtest),
        "srm": {
            "threshold": stats.SRM_THRESHOLD,
            "flagged": bool(report.srm_flagged),
            "metrics": report.srm_flagged,
        },
        "metrics": [_metric_json(m) for m in report.metrics],
    }


def _point_json(point: timeline.TimelinePoint) -> dict[str, Any]:
    welch = _welch_json(point.welch)
    return {
        "t": point.t,
        "controlCount": point.control_count,
        "treatmentCount": point.treatment_count,
        **{key: welch[key] for key in ("lift", "liftCi", "relativeLift", "relativeLiftCi")},
        "pValue": welch["pValue"],
        "refusal": point.refusal,
    }


def timeline_json(result: timeline.Timeline) -> dict[str, Any]:
    """The /abtest/{name}/compare/over-time body."""
    return {
        "abTest": result.abtest.name,
        "control": result.abtest.variants[0],
        "granularity": result.granularity,
        "start": result.start,
        "end": result.end,
        "alpha": result.alpha,
        "metrics": [
            {
                "metric": m.metric.name,
                "unit": m.metric.unit,
                "higherIsBetter": m.metric.higher_is_better,
                "treatments": [
                    {"variant": t.variant, "points": [_point_json(p) for p in t.points]}
                    for t in m.treatments
                ],
            }
            for m in result.metrics
        ],
    }
