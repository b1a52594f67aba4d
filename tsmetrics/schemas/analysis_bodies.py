"""The JSON bodies of the A/B analysis resources, shared by the API and the dashboard.

/abtest/{name}/compare and /compare/over-time answer these bodies (documented by
tsmetrics.schemas.comparison and tsmetrics.schemas.over_time), and the dashboard's
lift charts draw the over-time one, so a chart and its JSON twin carry the same
numbers. They are built as plain dicts for orjson: a few thousand points, without
marshmallow's cost.
"""

from __future__ import annotations

import math
from typing import Any

from tsmetrics import sketches
from tsmetrics.analysis import (
    compare,
    design,
    judging,
    planning,
    quantile_compare,
    sequential,
    stats,
    timeline,
)
from tsmetrics.management import expected_shares


def _number(value: float | None) -> float | None:
    # orjson would silently write NaN as null; say so explicitly, and never Infinity.
    return value if value is not None and math.isfinite(value) else None


def _interval(interval: stats.Interval | None) -> list[float | None] | None:
    return None if interval is None else [_number(interval.low), _number(interval.high)]


_RESULT_KEYS = ("lift", "liftCi", "relativeLift", "relativeLiftCi", "statistic", "t", "df")


def _result_json(result: sequential.Inference | None) -> dict[str, Any]:
    if result is None:
        return dict.fromkeys((*_RESULT_KEYS, "pValue", "units"))
    fixed = result.inference == "fixed"
    return {
        "lift": _number(result.lift),
        "liftCi": _interval(result.lift_interval),
        "relativeLift": _number(result.relative_lift),
        "relativeLiftCi": _interval(result.relative_interval),
        "statistic": _number(result.statistic),
        # Welch's (or the paired buckets') t and its degrees of freedom: fixed only.
        "t": _number(result.statistic) if fixed else None,
        "df": _number(result.df) if fixed and result.df is not None else None,
        "pValue": _number(result.p_value),
        "units": result.units,
    }


def method_json(method: judging.Method) -> dict[str, Any]:
    """Which inference, unit and tuning made a comparison's numbers, and what they are valid for."""
    tuned = method.tuning
    return {
        "method": method.inference,
        "unit": method.unit,
        "unitSeconds": method.unit_seconds,
        "tuning": None
        if tuned is None
        else {
            "nStar": _number(tuned.tuning.n_star),
            "rho": _number(tuned.tuning.rho),
            "source": tuned.source,
        },
        "validity": method.validity,
    }


def _variant_json(v: compare.VariantSummary) -> dict[str, Any]:
    body = {
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
    # Only when set: every body without samples near the float range stays as it was.
    return body | {"unrepresentable": True} if v.unrepresentable else body


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


def _quantile_comparison_json(c: quantile_compare.QuantileComparison) -> dict[str, Any]:
    judged = c.comparison
    result = _result_json(judged.result)
    return {
        "variant": judged.variant,
        "quantile": quantile_compare.label(c.q),
        "difference": result["lift"],
        "differenceCi": result["liftCi"],
        "relativeDifference": result["relativeLift"],
        "relativeDifferenceCi": result["relativeLiftCi"],
        "statistic": result["statistic"],
        "pValue": result["pValue"],
        "adjustedPValue": _number(judged.adjusted_p),
        "units": result["units"],
        "verdict": judged.verdict,
        "refusal": judged.refusal,
        "inference": method_json(judged.method) | {"assumption": quantile_compare.ASSUMPTION},
    }


def quantiles_json(found: quantile_compare.MetricQuantiles) -> dict[str, Any]:
    """A metric's `quantiles` block of /abtest/{name}/compare."""
    return {
        "relativeError": sketches.WITHIN_BIN_ERROR,
        "refusal": found.refusal,
        "variants": [
            {
                "variant": v.name,
                "count": v.count,
                "quantiles": [
                    {
                        "quantile": quantile_compare.label(x.q),
                        "value": _number(x.value),
                        "ci": _interval(x.interval),
                    }
                    for x in v.values
                ],
            }
            for v in found.variants
        ],
        "comparisons": [_quantile_comparison_json(c) for c in found.comparisons],
    }


def _metric_json(result: compare.MetricComparison, quantiles: bool) -> dict[str, Any]:
    metric = result.metric
    found = result.quantiles
    # Without `quantiles` the body is what it always was.
    extra = {"quantiles": quantiles_json(found) if found else None} if quantiles else {}
    return {
        "metric": metric.name,
        "unit": metric.unit,
        "kind": metric.kind,
        "higherIsBetter": metric.higher_is_better,
        "displayDecimals": metric.display_decimals,
        "variants": [_variant_json(v) for v in result.variants],
        "srm": _srm_json(result.sample_ratio),
        "analysisUnit": metric.analysis_unit,
        "comparisons": [
            {"variant": c.variant}
            | _result_json(c.result)
            | {"adjustedPValue": _number(c.adjusted_p), "verdict": c.verdict, "refusal": c.refusal}
            | {"inference": method_json(c.method)}
            for c in result.comparisons
        ],
    } | extra


def comparison_json(report: compare.ComparisonReport) -> dict[str, Any]:
    """The /abtest/{name}/compare body."""
    return {
        "abTest": report.abtest.name,
        "control": report.abtest.variants[0],
        "start": report.start,
        "end": report.end,
        "alpha": report.alpha,
        "inference": report.inference,
        "validity": report.validity,
        "correction": {"method": report.correction, "comparisons": report.family_size},
        "expectedSplit": expected_shares(report.abtest),
        "srm": {
            "threshold": stats.SRM_THRESHOLD,
            "flagged": bool(report.srm_flagged),
            "metrics": report.srm_flagged,
        },
        "metrics": [_metric_json(m, report.quantiles) for m in report.metrics],
    }


def _point_json(point: timeline.TimelinePoint) -> dict[str, Any]:
    result = _result_json(point.result)
    return {
        "t": point.t,
        "controlCount": point.control_count,
        "treatmentCount": point.treatment_count,
        **{key: result[key] for key in ("lift", "liftCi", "relativeLift", "relativeLiftCi")},
        "pValue": result["pValue"],
        "units": result["units"],
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
        "inference": result.inference,
        "validity": design.validity(result.inference, result.abtest),
        "metrics": [
            {
                "metric": m.metric.name,
                "unit": m.metric.unit,
                "higherIsBetter": m.metric.higher_is_better,
                "analysisUnit": m.metric.analysis_unit,
                "treatments": [
                    {
                        "variant": t.variant,
                        "inference": method_json(t.method),
                        "points": [_point_json(p) for p in t.points],
                    }
                    for t in m.treatments
                ],
            }
            for m in result.metrics
        ],
    }


def _plan_json(c: judging.Comparison, mde: float | None) -> dict[str, Any]:
    planned = c.planned
    body: dict[str, Any] = {"variant": c.variant, "inference": method_json(c.method)}
    if planned is None:
        return (
            body
            | dict.fromkeys(("units", "unitsPerHour", "detectableNow", "mde"))
            | {"refusal": c.refusal or "no variance to plan with"}
        )
    plan = planned.plan
    target = None
    if mde is not None:
        target = {
            "relative": mde,
            "unitsNeeded": _number(plan.units_needed),
            "when": planned.when,
            "detectableAt": planned.detectable_at,
        }
    return body | {
        "units": plan.units,
        "unitsPerHour": _number(planned.units_per_second * 3600),
        "detectableNow": {
            "absolute": _number(plan.detectable_now),
            "relative": _number(plan.relative_detectable_now),
        },
        "mde": target,
        "refusal": None,
    }


def plan_json(report: compare.ComparisonReport) -> dict[str, Any]:
    """The /abtest/{name}/plan body: per metric and treatment, what is detectable and when."""
    return {
        "abTest": report.abtest.name,
        "control": report.abtest.variants[0],
        "start": report.start,
        "end": report.end,
        "alpha": report.alpha,
        "power": planning.POWER,
        "inference": report.inference,
        "validity": report.validity,
        "metrics": [
            {
                "metric": m.metric.name,
                "unit": m.metric.unit,
                "analysisUnit": m.metric.analysis_unit,
                "mdeRelative": m.mde_relative,
                "treatments": [_plan_json(c, m.mde_relative) for c in m.comparisons],
            }
            for m in report.metrics
        ],
    }
