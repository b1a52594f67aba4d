"""The A/B test page's results panel: the comparison table and the cumulative lift, vs the API."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest

from tests.support.helpers import store
from tests.web.test_dashboard import HTML, HX, tags, text
from tsmetrics.store import catalogue

PAGE = "/dashboard/abtests/feature_a"
PANEL = PAGE + "/comparison"
LIFT = PAGE + "/lift/response_time"
_LIFT_DATA = re.compile(r'<script type="application/json" class="lift-data">(.*?)</script>', re.S)


class _Cells(HTMLParser):
    """Per table (metric) and row (variant), the data-* attributes of each data-field element."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, dict[str, dict[str, dict[str, str]]]] = {}
        self._table: dict | None = None
        self._row: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and "data-metric" in a:
            self._table = self.tables.setdefault(a["data-metric"], {})
        elif tag == "tr" and "data-variant" in a and self._table is not None:
            self._row = self._table.setdefault(a["data-variant"], {})
        elif "data-field" in a and self._row is not None:
            self._row[a["data-field"]] = {k[5:]: v for k, v in a.items() if k.startswith("data-")}


def cells(html: str) -> dict[str, dict[str, dict[str, dict[str, str]]]]:
    """{metric: {variant: {field: {"value"|"low"|"high": text}}}} of the results panel."""
    parser = _Cells()
    parser.feed(html)
    return parser.tables


def twin(html: str, prefix: str) -> str:
    """The one JSON twin link of a fragment that starts with `prefix` (not its CSV download)."""
    (link,) = [
        a["href"]
        for tag, a in tags(html)
        if tag == "a" and a["href"].startswith(prefix) and "format=csv" not in a["href"]
    ]
    return link


@pytest.fixture
def results(db):
    """feature_a: a faster treatment (response_time), fewer clicks, the same CPU; 5 hours."""
    test = catalogue.create_abtest(db, "feature_a", variants=["control", "treatment"])
    latency = catalogue.create_metric(db, "response_time", unit="ms", display_decimals=1)
    clicks = catalogue.create_metric(db, "clicks", kind="sum", higher_is_better=True)
    cpu = catalogue.create_metric(db, "cpu", unit="%")
    now = datetime.now(UTC)
    rows = []
    for step in range(120):
        moment = now - timedelta(minutes=2 * step + 1)
        for variant in (0, 1):
            rows.append((moment, 100.0 + step % 7 - 8 * variant, test.id, latency.id, variant))
            rows.append((moment, 3.0 + step % 3 - variant, test.id, clicks.id, variant))
            rows.append((moment, 50.0 + (step + variant) % 5, test.id, cpu.id, variant))
    store(db, rows)
    return test


def test_panel_is_a_fragment_or_a_page(client, results):
    fragment_response = client.get(PANEL + "?range=6h", headers=HX)
    fragment = text(fragment_response)
    assert fragment.lstrip().startswith('<section class="comparison" id="comparison"')
    assert "<html" not in fragment
    assert "HX-Request" in fragment_response.headers["Vary"]
    page_response = client.get(PANEL + "?range=6h")
    page = text(page_response)
    assert page.startswith("<!doctype html>") and "HX-Request" in page_response.headers["Vary"]
    # The panel's numbers are computed now, so compare the stable part: its tables.
    assert cells(page) == cells(fragment) != {}
    assert set(cells(fragment)) == {"response_time", "clicks", "cpu"}


def test_lift_is_a_fragment_or_a_page(client, results):
    fragment_response = client.get(LIFT + "?range=6h", headers=HX)
    fragment = text(fragment_response)
    assert fragment.lstrip().startswith('<section class="lift-chart" id="lift-response_time"')
    assert "HX-Request" in fragment_response.headers["Vary"]
    page = text(client.get(LIFT + "?range=6h"))
    assert page.startswith("<!doctype html>") and "/static/js/charts.js" in page
    assert _LIFT_DATA.findall(page) and "this chart alone" not in page


def test_the_page_loads_the_panel_lazily_over_its_range(client, results):
    page = text(client.get(PAGE + "?range=6h&granularity=30m&variant=treatment"))
    (panel,) = [a for tag, a in tags(page) if a.get("id") == "comparison"]
    # Only the range matters to a comparison; the page does not compute it itself.
    assert panel["hx-get"] == PANEL + "?range=6h"
    assert panel["hx-trigger"] == "load" and panel["data-view"] == "6h"
    assert "comparison-table" not in page
    custom = text(client.get(PAGE + "?start=2025-11-09T10:00:00Z&end=2025-11-09T13:00:00Z"))
    (panel,) = [a for tag, a in tags(custom) if a.get("id") == "comparison"]
    start, end = "2025-11-09T10:00:00Z", "2025-11-09T13:00:00Z"
    assert panel["hx-get"] == f"{PANEL}?range=custom&start={start}&end={end}"
    assert panel["data-view"] == f"custom|{start}|{end}"


def _json_value(field, variant_json, comparison_json):
    source = comparison_json if comparison_json and field in comparison_json else variant_json
    return source[field]


@pytest.mark.parametrize("correction", ["none", "holm"])
def test_panel_numbers_equal_the_json_endpoint(client, results, correction):
    fragment = text(client.get(f"{PANEL}?range=6h&correction={correction}", headers=HX))
    link = twin(fragment, "/abtest/feature_a/compare?")
    assert ("correction=holm" in link) == (correction == "holm")
    body = client.get(link).get_json()
    shown = cells(fragment)
    checked = 0
    for metric in body["metrics"]:
        comparisons = {c["variant"]: c for c in metric["comparisons"]}
        for variant in metric["variants"]:
            row = shown[metric["metric"]][variant["variant"]]
            if variant["variant"] != body["control"]:
                assert set(row) >= {"relativeLift", "lift", "pValue", "verdict"}
                assert ("adjustedPValue" in row) == (correction == "holm")
            for field, attrs in row.items():
                expected = _json_value(field, variant, comparisons.get(variant["variant"]))
                if "low" in attrs:
                    assert [float(attrs["low"]), float(attrs["high"])] == expected, field
                elif field in ("verdict", "refusal"):
                    assert attrs["value"] == expected
                else:
                    assert float(attrs["value"]) == expected, field
                checked += 1
    assert checked >= 3 * (4 + 8)


def test_verdict_badges_follow_the_metric_direction(client, results):
    fragment = text(client.get(PANEL + "?range=6h", headers=HX))
    badges = {
        metric: row["treatment"]["verdict"]["value"] for metric, row in cells(fragment).items()
    }
    # Lower response time (lower is better) is better; fewer clicks (higher is better) worse.
    assert badges == {"response_time": "better", "clicks": "worse", "cpu": "inconclusive"}
    classes = re.findall(
        r'class="verdict (verdict-\w+)" data-field="verdict" data-value="(\w+)"', fragment
    )
    assert sorted(classes) == [
        ("verdict-better", "better"),
        ("verdict-inconclusive", "inconclusive"),
        ("verdict-worse", "worse"),
    ]
    # Each metric's display decimals: one for response_time, two (the default) for clicks.
    for metric, places in (("response_time", 1), ("clicks", 2)):
        mean = cells(fragment)[metric]["treatment"]["mean"]["value"]
        assert f'data-value="{mean}">{float(mean):,.{places}f}<' in fragment


def test_srm_banner_appears_on_skewed_counts_only(client, db, results):
    assert "data-srm" not in text(client.get(PANEL + "?range=6h", headers=HX))
    skewed = catalogue.create_abtest(db, "skewed", variants=["control", "treatment"])
    metric = catalogue.get_metric(db, "cpu")
    now = datetime.now(UTC)
    store(
        db,
        [
            (
                now - timedelta(seconds=10 * i + 5),
                float(i % 7),
                skewed.id,
                metric.id,
                int(i % 5 == 0),
            )
            for i in range(1000)
        ],
    )
    fragment = text(client.get("/dashboard/abtests/skewed/comparison?range=6h", headers=HX))
    assert 'role="alert" data-srm' in fragment and "Sample ratio mismatch" in fragment
    observed = re.findall(r"<span data-observed>([\d,]+)</span>", fragment)
    expected = re.findall(r"<span data-expected>([\d,]+)</span>", fragment)
    assert (observed, expected) == (["800", "200"], ["500", "500"])
    assert "control 50.0%, treatment 50.0%" in fragment


def test_refusals_are_said_in_words(client, db):
    test = catalogue.create_abtest(db, "lonely", variants=["control", "alone"])
    metric = catalogue.create_metric(db, "m")
    now = datetime.now(UTC)
    rows = [(now - timedelta(minutes=m), float(m), test.id, metric.id, 0) for m in range(1, 6)]
    store(db, [*rows, (now - timedelta(minutes=2), 1.0, test.id, metric.id, 1)])
    fragment = text(client.get("/dashboard/abtests/lonely/comparison?range=1h", headers=HX))
    assert "Not compared: fewer than 2 samples in alone." in fragment
    assert cells(fragment)["m"]["alone"]["verdict"]["value"] == "inconclusive"
    empty = catalogue.create_abtest(db, "empty", variants=["a", "b"])
    assert empty is not None
    fragment = text(client.get("/dashboard/abtests/empty/comparison", headers=HX))
    assert "has no samples yet" in fragment


def test_lift_data_is_the_json_twin(client, results):
    fragment = text(client.get(LIFT + "?range=6h", headers=HX))
    (payload,) = [json.loads(found) for found in _LIFT_DATA.findall(fragment)]
    link = twin(fragment, "/abtest/feature_a/compare/over-time?")
    assert payload == client.get(link).get_json()
    (treatment,) = payload["metrics"][0]["treatments"]
    assert len(treatment["points"]) >= 10 and treatment["points"][-1]["relativeLift"] < 0
    assert 'class="chart-table"' in fragment  # the "Show as table" alternative


def test_each_metric_lazy_loads_its_lift_chart(client, results):
    fragment = text(client.get(PANEL + "?range=6h", headers=HX))
    pending = [a for tag, a in tags(fragment) if "lift-pending" in (a.get("class") or "")]
    assert [a["hx-get"] for a in pending] == [
        f"{PAGE}/lift/{name}?range=6h" for name in ("clicks", "cpu", "response_time")
    ]
    assert {a["hx-trigger"] for a in pending} == {"intersect once"}


@pytest.mark.parametrize(
    ("url", "status"),
    [
        (PANEL + "?correction=bonferroni", 400),
        (PANEL + "?range=2d", 400),
        ("/dashboard/abtests/nope/comparison", 404),
        (PAGE + "/lift/nope", 404),
        ("/dashboard/abtests/nope/lift/response_time", 404),
    ],
)
def test_bad_requests_are_pages(client, results, url, status):
    response = client.get(url, headers=HTML)
    assert response.status_code == status
    assert response.mimetype == "text/html"


@pytest.mark.parametrize(
    ("url", "start"),
    [(PANEL, '<section class="comparison"'), (LIFT, '<section class="lift-chart"')],
)
def test_database_down_is_an_inline_message(app_without_database, url, start):
    response = app_without_database.test_client().get(url + "?range=6h", headers=HX)
    assert response.status_code == 503 and response.headers["Retry-After"] == "7"
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith(start) and 'role="alert"' in body
    assert f'hx-get="{url}?range=6h"' in body and "nobody" not in body


def test_names_are_escaped(client, db):
    evil = "</script><img src=x onerror=alert(1)>&'\""
    test = catalogue.ensure_abtest(db, "xss", variants=["control", evil], title=evil)
    metric = catalogue.create_metric(db, "latency", unit="<b>ms</b>", description=evil)
    now = datetime.now(UTC)
    store(
        db,
        [
            (now - timedelta(minutes=m), float(m % 4 + v), test.id, metric.id, v)
            for m in range(1, 30)
            for v in (0, 1)
        ],
    )
    for url in ("/dashboard/abtests/xss/comparison", "/dashboard/abtests/xss/lift/latency"):
        html = text(client.get(url + "?range=1h"))
        assert "<img" not in html and "<b>ms" not in html, url
        assert html.count("</script>") == html.count("<script"), url
    fragment = text(client.get("/dashboard/abtests/xss/lift/latency?range=1h", headers=HX))
    (payload,) = [json.loads(found) for found in _LIFT_DATA.findall(fragment)]
    assert payload["metrics"][0]["treatments"][0]["variant"] == evil


def test_new_pages_have_no_inline_script_or_style(client, results):
    for url in (PANEL, LIFT, PAGE):
        for tag, attrs in tags(text(client.get(url + "?range=6h"))):
            if tag == "script":
                assert attrs.get("src") or attrs.get("type") == "application/json", attrs
            assert "style" not in attrs and tag != "style", (url, tag)
            assert not [name for name in attrs if name.startswith("on")], (url, tag, attrs)
