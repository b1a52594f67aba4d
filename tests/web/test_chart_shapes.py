"""The charts' line (mean or a percentile) and band (min-max, p5-p95, p25-p75); their JSON twins."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.helpers import latency_and_clicks, store
from tests.web.test_dashboard import HTML, HX, PAGE, chart_payloads, tags, text
from tsmetrics.store import catalogue, catalogue_updates


@pytest.fixture
def mixed(db):
    """feature_a: response_time keeps a distribution (lognormal samples), clicks does not."""
    return latency_and_clicks(db, steps=240, every=60, seed=13)


def _charts(client, query: str) -> tuple[str, dict[str, dict]]:
    """The charts fragment of `query` and its payloads by metric."""
    fragment = text(client.get(PAGE + query, headers=HX))
    return fragment, {payload["metric"]: payload for payload in chart_payloads(fragment)}


def _links(html: str, metric: str, csv_links: bool = False) -> list[str]:
    """A metric's chart's /metrics links: its JSON twins (or its CSV downloads), in order."""
    return [
        a["href"]
        for tag, a in tags(html)
        if tag == "a"
        and a["href"].startswith("/metrics?")
        and parse_qs(urlsplit(a["href"]).query)["metricName"] == [metric]
        and ("format=csv" in a["href"]) == csv_links
    ]


def _assert_lines_are_their_twins(client, fragment: str, payload: dict) -> list[str]:
    """Each line's points are byte for byte the body of its JSON link; the links."""
    links = _links(fragment, payload["metric"])
    assert len(links) == len(payload["series"]) == 2
    for series, link in zip(payload["series"], links, strict=True):
        assert parse_qs(urlsplit(link).query)["variant"] == [series["variant"]]
        api = client.get(link).get_json()
        assert api["granularity"] == payload["granularity"]
        assert api["datapoints"] == series["points"]
    return links


def test_distribution_metrics_default_to_the_mean_and_a_p5_p95_band(client, mixed):
    fragment, payloads = _charts(client, "?range=6h")
    latency = payloads["response_time"]
    assert (latency["line"], latency["band"]) == ("a", ["q.p5", "q.p95"])
    assert (latency["lineName"], latency["bandName"]) == ("mean", "p5\u2013p95")
    assert latency["quantiles"] == ["p5", "p95"]
    points = latency["series"][0]["points"]
    assert len(points) == 240
    assert all(p["q"]["p5"] <= p["a"] <= p["q"]["p95"] or p["l"] == p["h"] for p in points)
    for link in _assert_lines_are_their_twins(client, fragment, latency):
        assert parse_qs(urlsplit(link).query)["quantiles"] == ["p5,p95"]
    # Without distributions: the mean and min-max, whatever the page asks for.
    clicks = payloads["clicks"]
    assert (clicks["line"], clicks["band"], clicks["quantiles"]) == ("a", ["l", "h"], [])
    assert "q" not in clicks["series"][0]["points"][0]
    for link in _assert_lines_are_their_twins(client, fragment, clicks):
        assert "quantiles" not in parse_qs(urlsplit(link).query)


@pytest.mark.parametrize(
    ("query", "line", "band", "quantiles"),
    [
        ("&line=p95", "q.p95", ["q.p5", "q.p95"], ["p5", "p95"]),
        ("&line=p50&band=p25-p75", "q.p50", ["q.p25", "q.p75"], ["p25", "p50", "p75"]),
        ("&line=p99&band=minmax", "q.p99", ["l", "h"], ["p99"]),
        ("&line=mean&band=minmax", "a", ["l", "h"], []),
    ],
)
def test_line_and_band_from_the_url(client, mixed, query, line, band, quantiles):
    fragment, payloads = _charts(client, "?range=6h" + query)
    latency = payloads["response_time"]
    assert (latency["line"], latency["band"], latency["quantiles"]) == (line, band, quantiles)
    links = _assert_lines_are_their_twins(client, fragment, latency)
    asked = [parse_qs(urlsplit(link).query).get("quantiles") for link in links]
    assert asked == [[",".join(quantiles)] if quantiles else None] * 2
    for point in latency["series"][1]["points"]:
        assert list(point.get("q") or {}) == quantiles
    clicks = payloads["clicks"]
    assert (clicks["line"], clicks["band"], clicks["quantiles"]) == ("a", ["l", "h"], [])
    assert "keeps no distribution" in fragment


def test_csv_downloads_ask_for_the_percentiles_shown(client, mixed):
    fragment, payloads = _charts(client, "?range=6h&line=p99&band=p25-p75")
    (control, _treatment) = _links(fragment, "response_time", csv_links=True)
    assert parse_qs(urlsplit(control).query)["quantiles"] == ["p25,p75,p99"]
    rows = list(csv.reader(io.StringIO(client.get(control).get_data(as_text=True))))
    assert rows[0][-3:] == ["p25", "p75", "p99"]
    first = payloads["response_time"]["series"][0]["points"][0]
    assert [float(cell) for cell in rows[1][-3:]] == [first["q"][n] for n in ("p25", "p75", "p99")]
    (clicks, _) = _links(fragment, "clicks", csv_links=True)
    assert "quantiles" not in parse_qs(urlsplit(clicks).query)


def test_the_controls_carry_line_and_band(client, mixed):
    page = text(client.get(PAGE + "?line=p95&band=p25-p75"))
    options = [(tag, a) for tag, a in tags(page) if tag == "option" and "selected" in a]
    assert ("option", {"value": "p95", "selected": None}) in options
    assert ("option", {"value": "p25-p75", "selected": None}) in options
    assert 'data-view-line="p95" data-view-band="p25-p75"' in page
    # The controls push the canonical URL (defaults left out); the refresh asks for it again.
    query = "?range=24h&granularity=auto&line=p95&band=p5-p95"
    pushed = client.get(PAGE + query, headers=HX | {"HX-Trigger": "controls"})
    assert pushed.headers["HX-Push-Url"] == PAGE + "?line=p95"
    assert f'hx-get="{PAGE}?line=p95"' in text(pushed)
    assert f'hx-get="{PAGE}/charts/response_time?line=p95"' in text(pushed)
    defaults = client.get(PAGE + "?line=mean&band=p5-p95", headers=HX | {"HX-Trigger": "controls"})
    assert defaults.headers["HX-Push-Url"] == PAGE


def test_the_controls_are_disabled_without_distribution_metrics(client, db, feature_a):
    test, metric = feature_a
    store(db, [(datetime.now(UTC) - timedelta(minutes=5), 1.0, test.id, metric.id, 0)])
    page = text(client.get(PAGE + "?line=p99"))
    (fieldset,) = [a for tag, a in tags(page) if tag == "fieldset" and a.get("class") == "shape"]
    assert "disabled" in fieldset
    assert "No metric of this test keeps a distribution" in page
    (payload,) = chart_payloads(page)
    assert (payload["line"], payload["band"], payload["quantiles"]) == ("a", ["l", "h"], [])


def test_the_chart_page_keeps_line_and_band(client, mixed):
    chart = text(client.get(PAGE + "/charts/response_time?range=6h&line=p50&band=minmax"))
    (payload,) = chart_payloads(chart)
    assert (payload["line"], payload["band"]) == ("q.p50", ["l", "h"])
    _assert_lines_are_their_twins(client, chart, payload)


@pytest.mark.parametrize(
    ("query", "field"),
    [("?line=p90", "line"), ("?band=p1-p99", "band"), ("?line=mean&band=max", "band")],
)
def test_unusable_line_or_band_is_a_400_page(client, mixed, query, field):
    for url in (PAGE + query, PAGE + "/charts/response_time" + query):
        response = client.get(url, headers=HTML)
        assert response.status_code == 400
        html = response.get_data(as_text=True)
        assert f"<p>{field}: one of" in html


def test_buckets_from_before_distributions_have_no_percentiles(client, db):
    test = catalogue.create_abtest(db, "feature_a", variants=["control", "treatment"])
    metric = catalogue.create_metric(db, "response_time", unit="ms")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    before = [(now - timedelta(minutes=30), 5.0, test.id, metric.id, v) for v in (0, 1)]
    store(db, before)
    catalogue_updates.update_metric(db, metric.id, {"distribution": True})
    store(db, [(now - timedelta(minutes=10), 7.0, test.id, metric.id, v) for v in (0, 1)])
    fragment, payloads = _charts(client, "?range=1h")
    latency = payloads["response_time"]
    old, new = latency["series"][0]["points"]
    assert old["q"] is None
    # Within the sketches' 1% of the one value.
    assert new["q"] == {"p5": pytest.approx(7.0, rel=0.01), "p95": pytest.approx(7.0, rel=0.01)}
    _assert_lines_are_their_twins(client, fragment, latency)
