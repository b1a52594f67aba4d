"""Find an A/B test or a metric by name, else refuse: one look-up and one message each.

Every caller (the API, the dashboard, the analysis and management services)
goes through these two functions, so "does not exist" reads the same
everywhere; only the field named differs, since it is the caller's input.
"""

from __future__ import annotations

import psycopg

from tsmetrics.errors import UnknownName
from tsmetrics.store import catalogue, horizons


def require_abtest(conn: psycopg.Connection, name: str, *, field: str = "name") -> catalogue.ABTest:
    """The A/B test called `name`; UnknownName (a 404) naming `field` when there is none."""
    return _found_abtest(catalogue.get_abtest(conn, name), name, field)


def require_metric(conn: psycopg.Connection, name: str, *, field: str = "name") -> catalogue.Metric:
    """The metric called `name`; UnknownName (a 404) naming `field` when there is none."""
    return _found_metric(catalogue.get_metric(conn, name), name, field)


def require_abtest_and_metric(
    conn: psycopg.Connection,
    abtest_name: str,
    metric_name: str,
    *,
    fields: tuple[str, str] = ("abTestName", "metricName"),
) -> tuple[catalogue.ABTest, catalogue.Metric]:
    """Both, looked up in one statement; UnknownName as above (the A/B test's first)."""
    abtest, metric = catalogue.get_abtest_and_metric(conn, abtest_name, metric_name)
    abtest = _found_abtest(abtest, abtest_name, fields[0])
    return abtest, _found_metric(metric, metric_name, fields[1])


def require_abtest_metric_and_horizons(
    conn: psycopg.Connection,
    abtest_name: str,
    metric_name: str,
    *,
    fields: tuple[str, str] = ("abTestName", "metricName"),
) -> tuple[catalogue.ABTest, catalogue.Metric, dict[str, horizons.Horizon]]:
    """Both, and the retention horizons, in one statement; UnknownName as above."""
    abtest, metric, kept = horizons.get_abtest_metric_and_horizons(conn, abtest_name, metric_name)
    abtest = _found_abtest(abtest, abtest_name, fields[0])
    return abtest, _found_metric(metric, metric_name, fields[1]), kept


def _found_abtest(test: catalogue.ABTest | None, name: str, field: str) -> catalogue.ABTest:
    if test is None:
        raise UnknownName(field, f"A/B test {name!r} does not exist.")
    return test


def _found_metric(metric: catalogue.Metric | None, name: str, field: str) -> catalogue.Metric:
    if metric is None:
        raise UnknownName(field, f"Metric {name!r} does not exist.")
    return metric
