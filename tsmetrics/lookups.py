"""Find an A/B test or a metric by name, else refuse: one look-up and one message each.

Every caller (the API, the dashboard, the analysis and management services)
goes through these two functions, so "does not exist" reads the same
everywhere; only the field named differs, since it is the caller's input.
"""

from __future__ import annotations

import psycopg

from tsmetrics.errors import UnknownName
from tsmetrics.store import catalogue


def require_abtest(conn: psycopg.Connection, name: str, *, field: str = "name") -> catalogue.ABTest:
    """The A/B test called `name`; UnknownName (a 404) naming `field` when there is none."""
    test = catalogue.get_abtest(conn, name)
    if test is None:
        raise UnknownName(field, f"A/B test {name!r} does not exist.")
    return test


def require_metric(conn: psycopg.Connection, name: str, *, field: str = "name") -> catalogue.Metric:
    """The metric called `name`; UnknownName (a 404) naming `field` when there is none."""
    metric = catalogue.get_metric(conn, name)
    if metric is None:
        raise UnknownName(field, f"Metric {name!r} does not exist.")
    return metric
