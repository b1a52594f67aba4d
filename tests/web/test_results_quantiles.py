"""The results panel's percentile rows for distribution metrics, against the JSON twin."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from tests.support.helpers import latency_and_clicks
from tests.web.test_dashboard import HX, text
from tests.web.test_results import PANEL, twin


class _Rows(HTMLParser):
    """{"variant pNN": {field: {"value"|"low"|"high": text}}} of the quantile tables."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, dict[str, dict[str, str]]] = {}
        self._row: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr":
            self._row = (
                self.rows.setdefault(a["data-quantile-row"], {})
                if "data-quantile-row" in a
                else None
            )
        elif "data-qfield" in a and self._row is not None:
            self._row[a["data-qfield"]] = {k[5:]: v for k, v in a.items() if k.startswith("data-")}


def _rows(html: str) -> dict[str, dict[str, dict[str, str]]]:
    parser = _Rows()
    parser.feed(html)
    return parser.rows


@pytest.fixture
def latency(db):
    """feature_a: response_time with a distribution (600 samples per variant), clicks without."""
    return latency_and_clicks(db, steps=600, every=20, seed=5, shift=0.5)


@pytest.mark.parametrize("correction", ["none", "holm"])
def test_percentile_rows_equal_the_json_twin(client, latency, correction):
    fragment = text(client.get(f"{PANEL}?range=6h&correction={correction}", headers=HX))
    link = twin(fragment, "/abtest/feature_a/compare?")
    assert "quantiles=p50,p95,p99" in link
    body = client.get(link).get_json()
    metrics = {m["metric"]: m for m in body["metrics"]}
    assert metrics["clicks"]["quantiles"] is None
    block = metrics["response_time"]["quantiles"]
    shown = _rows(fragment)
    assert len(shown) == 6  # p50, p95, p99 for control and treatment
    for variant in block["variants"]:
        for q in variant["quantiles"]:
            row = shown[f"{variant['variant']} {q['quantile']}"]
            assert float(row["value"]["value"]) == q["value"]
            assert [float(row["ci"]["low"]), float(row["ci"]["high"])] == q["ci"]
    for c in block["comparisons"]:
        row = shown[f"{c['variant']} {c['quantile']}"]
        assert row["verdict"]["value"] == c["verdict"]
        assert float(row["pValue"]["value"]) == c["pValue"]
        assert float(row["difference"]["value"]) == c["difference"]
        assert [float(row["differenceCi"]["low"]), float(row["differenceCi"]["high"])] == c[
            "differenceCi"
        ]
        if correction == "holm":
            assert float(row["adjustedPValue"]["value"]) == c["adjustedPValue"]
    # The treatment is 65% slower (lower is better): its p50 and p95 are worse; p99 needs
    # 476 samples in each variant, so it has an interval but little power at 600.
    assert shown["treatment p50"]["verdict"]["value"] == "worse"
    assert shown["treatment p95"]["verdict"]["value"] == "worse"
    assert "response_time: percentiles (within 1% of the exact ones)" in fragment


def test_metrics_without_distributions_have_no_percentile_rows(client, latency, db):
    db.execute("UPDATE metrics SET distribution = false")
    fragment = text(client.get(f"{PANEL}?range=6h", headers=HX))
    assert "quantile-table" not in fragment and not _rows(fragment)
