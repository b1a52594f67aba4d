"""The dashboard pages: full page vs fragment, state in the URL, empty and error states."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.helpers import store
from tsmetrics.store import catalogue

ROOT = Path(__file__).resolve().parents[2]
HTML = {"Accept": "text/html"}
HX = {"HX-Request": "true"}
PAGE = "/dashboard/abtests/feature_a"
CHART = PAGE + "/charts/response_time"
_CHART_DATA = re.compile(r'<script type="application/json" class="chart-data">(.*?)</script>', re.S)


class _Tags(HTMLParser):
    """Every start tag with its attributes, to check markup without a browser."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    """(tag, attributes) of every start tag in `html`."""
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def chart_payloads(html: str) -> list[dict]:
    """The JSON each chart fragment carries for static/js/charts.js."""
    return [json.loads(text) for text in _CHART_DATA.findall(html)]


def text(response) -> str:
    """The body of a response that must be a 200 HTML page or fragment."""
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


@pytest.fixture
def recent(db, feature_a):
    """Samples of both variants every 10 minutes over the last 5 hours."""
    test, metric = feature_a
    now = datetime.now(UTC)
    rows = []
    for step in range(30):
        moment = now - timedelta(minutes=10 * step + 5)
        rows.append((moment, 100.0 + step, test.id, metric.id, 0))
        rows.append((moment, 90.0 + step, test.id, metric.id, 1))
    store(db, rows)
    return test, metric


def test_root_redirects_to_the_dashboard(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard/"


def test_overview_page_includes_its_fragment(client, recent):
    page = client.get("/dashboard/")
    html = text(page)
    assert html.startswith("<!doctype html>")
    assert 'id="filters"' in html
    assert "HX-Request" in page.headers["Vary"]
    fragment = client.get("/dashboard/", headers=HX)
    body = text(fragment)
    assert body.lstrip().startswith('<div id="abtests"')
    assert "<html" not in body and 'id="filters"' not in body
    assert "HX-Request" in fragment.headers["Vary"]
    # The fragment is exactly the part of the page it replaces.
    assert body.strip() in html
    assert 'href="/dashboard/abtests/feature_a"' in body
    assert (
        '<td class="num" data-label="Samples, last 24 h">60</td>' in body
    )  # samples in the last 24 hours
    assert "control, treatment" in body and "response_time" in body


def test_history_restore_and_boosted_requests_get_the_full_page(client, recent):
    for headers in (HX | {"HX-History-Restore-Request": "true"}, HX | {"HX-Boosted": "true"}):
        for url in ("/dashboard/", PAGE, CHART):
            assert text(client.get(url, headers=headers)).startswith("<!doctype html>"), url


def test_overview_filters_by_status_and_search(client, db, recent):
    catalogue.ensure_abtest(
        db, "checkout-v2", variants=["a", "b"], title="New Checkout", status="paused"
    )
    catalogue.ensure_abtest(db, "x_100pct", variants=["a", "b"], title="All in", status="draft")

    def names(query: str) -> list[str]:
        body = text(client.get("/dashboard/" + query, headers=HX))
        return re.findall(r'href="/dashboard/abtests/([^"]+)"', body)

    assert names("") == ["checkout-v2", "feature_a", "x_100pct"]
    assert names("?status=paused") == ["checkout-v2"]
    assert names("?q=CHECKOUT") == ["checkout-v2"]  # title, any case
    assert names("?q=feat") == ["feature_a"]
    assert names("?q=%25") == []  # LIKE wildcards are literal
    assert names("?q=_1") == ["x_100pct"]
    assert names("?status=running&q=checkout") == []
    empty = text(client.get("/dashboard/?q=nothing", headers=HX))
    assert "No A/B test whose name or title contains “nothing”" in empty
    assert 'href="/dashboard/"' in empty


def test_overview_links_its_json_twin_with_its_filters(client, db, recent):
    catalogue.ensure_abtest(db, "checkout", variants=["a", "b"], status="paused")
    html = text(client.get("/dashboard/"))
    assert 'JSON: <a href="/overview">/overview</a>' in html
    fragment = text(client.get("/dashboard/?status=running&q=feat", headers=HX))
    link = re.search(r'JSON: <a href="([^"]+)">/overview</a>', fragment)
    assert link and link.group(1) == "/overview?status=running&amp;q=feat"
    # The twin is the same computation: the page's rows are the JSON's.
    twin = client.get(link.group(1).replace("&amp;", "&")).get_json()["abTests"]
    assert [t["name"] for t in twin] == re.findall(r'href="/dashboard/abtests/([^"]+)"', fragment)
    counts = re.findall(r'<td class="num" data-label="Samples, last 24 h">([\d,]+)</td>', fragment)
    assert [f"{t['recentSamples']:,}" for t in twin] == counts == ["60"]


def test_overview_filters_push_a_canonical_url(client, recent):
    response = client.get("/dashboard/?status=&q=feat", headers=HX)
    assert response.headers["HX-Push-Url"] == "/dashboard/?q=feat"


def test_overview_rejects_an_unknown_status(client, recent):
    response = client.get("/dashboard/?status=sleeping", headers=HTML)
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert "status: one of draft" in response.get_data(as_text=True)


def test_abtest_page_includes_its_fragment(client, recent):
    page = text(client.get(PAGE))
    assert 'id="controls"' in page and 'hx-push-url="true"' in page
    fragment = text(client.get(PAGE, headers=HX))
    assert fragment.lstrip().startswith('<div id="charts"')
    assert "<html" not in fragment and 'id="controls"' not in fragment
    (payload,) = chart_payloads(fragment)
    assert [s["variant"] for s in payload["series"]] == ["control", "treatment"]
    assert payload["unit"] == "ms"
    assert payload["granularity"] == "5m"  # auto over 24 hours: 1,441 minutes > 1,000
    # The x axis spans the range asked for: 24 hours to now (the second may have turned).
    assert payload["endMs"] - payload["startMs"] == 24 * 3600 * 1000
    assert payload["decimals"] == 2
    (on_page,) = chart_payloads(page)
    moving = ("startMs", "endMs")
    assert {k: v for k, v in on_page.items() if k not in moving} == {
        k: v for k, v in payload.items() if k not in moving
    }


def test_chart_lines_equal_the_json_api(client, recent):
    fragment = text(client.get(PAGE + "?range=6h", headers=HX))
    (payload,) = chart_payloads(fragment)
    links = [
        a["href"]
        for tag, a in tags(fragment)
        if tag == "a" and a["href"].startswith("/metrics") and "format=csv" not in a["href"]
    ]
    assert len(links) == 2
    for series, link in zip(payload["series"], links, strict=True):
        query = parse_qs(urlsplit(link).query)
        assert query["variant"] == [series["variant"]]
        api = client.get(link).get_json()
        assert api["granularity"] == payload["granularity"] == "1m"
        assert api["datapoints"] == series["points"]
        assert len(series["points"]) == 30


def test_chart_route_gives_a_fragment_or_a_page(client, recent):
    now = datetime.now(UTC)
    span = f"?start={now - timedelta(hours=6):%Y-%m-%dT%H:%M:%SZ}&end={now:%Y-%m-%dT%H:%M:%SZ}"
    fragment = text(client.get(CHART + span, headers=HX))
    assert fragment.lstrip().startswith('<section class="chart" id="chart-response_time"')
    assert "<html" not in fragment
    page = text(client.get(CHART + span))
    assert page.startswith("<!doctype html>")
    assert fragment.strip() in page
    assert chart_payloads(page) == chart_payloads(fragment)
    assert client.get(PAGE + "/charts/nope", headers=HTML).status_code == 404
    assert client.get("/dashboard/abtests/nope", headers=HTML).status_code == 404


def test_only_the_controls_move_the_browser_history(client, recent):
    query = "?range=7d&start=2025-01-01T00:00:00Z&end=2025-01-02T00:00:00Z"
    query += "&granularity=auto&variant=&variant=treatment"
    from_controls = client.get(PAGE + query, headers=HX | {"HX-Trigger": "controls"})
    assert from_controls.headers["HX-Push-Url"] == PAGE + "?range=7d&variant=treatment"
    refresh = client.get(PAGE + "?range=7d", headers=HX | {"HX-Trigger": "charts"})
    assert "HX-Push-Url" not in refresh.headers
    # The refreshing element asks for the canonical URL of what it shows.
    assert f'hx-get="{PAGE}?range=7d&amp;variant=treatment"' in text(from_controls)


@pytest.mark.parametrize(
    ("query", "granularity", "variants"),
    [
        ("", "5m", ["control", "treatment"]),
        ("?range=1h", "1m", ["control", "treatment"]),
        ("?range=30d", "1h", ["control", "treatment"]),
        ("?range=24h&granularity=30m", "30m", ["control", "treatment"]),
        ("?variant=treatment", "5m", ["treatment"]),
        ("?variant=treatment&variant=nope", "5m", ["treatment"]),
        ("?range=custom&start=2025-11-09T12:00:00%2B02:00&end=2025-11-09T13:00:00Z", "1m", None),
        ("?start=2025-11-09T10:00:00&end=2025-11-09T13:00:00", "1m", None),
    ],
)
def test_view_state_comes_from_the_url(client, recent, query, granularity, variants):
    fragment = text(client.get(PAGE + query, headers=HX))
    payloads = chart_payloads(fragment)
    if variants is None:  # a custom range before any sample: the empty state
        assert payloads == []
        # The range as <time> elements, shown in the viewer's zone like every time on the page.
        assert (
            'No samples of feature_a in <time datetime="2025-11-09T10:00:00Z">2025-11-09 10:00 UTC'
            '</time> to <time datetime="2025-11-09T13:00:00Z">2025-11-09 13:00 UTC</time>'
        ) in fragment
        return
    (payload,) = payloads
    assert payload["granularity"] == granularity
    assert [s["variant"] for s in payload["series"]] == variants


def test_no_variant_selected_is_said_plainly(client, recent):
    fragment = text(client.get(PAGE + "?variant=", headers=HX))
    assert "No variant is selected" in fragment
    assert chart_payloads(fragment) == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?range=2d", "range"),
        ("?granularity=2m", "granularity"),
        ("?range=custom&start=yesterday", "start"),
        ("?range=custom&start=2025-11-09T12:00:00Z&end=2025-11-09T11:00:00Z", "end"),
    ],
)
def test_unusable_parameters_are_a_400_page(client, recent, query, field):
    response = client.get(PAGE + query, headers=HTML)
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert f"<p>{field}:" in html  # the first paragraph, which dashboard.js shows inline
    assert "That view cannot be shown" in html


def test_empty_range_offers_a_wider_one(client, db, feature_a):
    test, metric = feature_a
    store(db, [(datetime.now(UTC) - timedelta(days=3), 5.0, test.id, metric.id, 0)])
    fragment = text(client.get(PAGE, headers=HX))
    assert "No samples of feature_a in the last 24 hours" in fragment
    (link,) = [a for tag, a in tags(fragment) if tag == "a" and a.get("data-form-set")]
    assert link["href"] == PAGE + "?range=7d"
    assert (link["data-form-set"], link["data-form-value"]) == ("range", "7d")
    assert len(chart_payloads(text(client.get(link["href"], headers=HX)))) == 1
    lone = text(client.get(CHART, headers=HX))
    assert "No response_time samples in the last 24 hours" in lone
    assert f'href="{CHART}?range=7d"' in lone  # the chart's own page stays on itself


def test_a_test_without_samples_says_so(client, feature_a):
    assert "has no samples yet" in text(client.get(PAGE, headers=HX))


def test_too_many_points_asks_for_a_coarser_granularity(client, recent):
    fragment = text(client.get(PAGE + "?range=30d&granularity=1m", headers=HX))
    # 30 days of minutes are 43,200 buckets, or 43,201 when "now" (to the second)
    # is not on a minute boundary and the range cuts a bucket at each end.
    assert re.search(
        r"43,20[01] buckets of 1m per line is more than the 10,000 a chart draws", fragment
    )
    assert f'href="{PAGE}?range=30d" data-form-set="granularity"' in fragment
    assert chart_payloads(fragment) == []


@pytest.mark.parametrize(
    ("url", "start"),
    [
        ("/dashboard/?q=feat", '<div id="abtests"'),
        (PAGE + "?range=6h", '<div id="charts"'),
        (CHART + "?range=6h", '<section class="chart" id="chart-response_time"'),
    ],
)
def test_database_down_fragment_is_an_inline_message(app_without_database, url, start):
    response = app_without_database.test_client().get(url, headers=HX)
    # 503 (htmx is configured to swap it) with the message in place of the content.
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "7"
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith(start)
    assert 'role="alert"' in body and "database is unavailable" in body
    assert "nobody" not in body and "Traceback" not in body
    if "abtests/" in url:
        # It keeps asking the same URL, so the next refresh recovers.
        assert 'hx-trigger="refresh-charts"' in body
        assert f'hx-get="{url}"' in body


def test_database_down_full_page_is_a_503_page(app_without_database):
    response = app_without_database.test_client().get(PAGE, headers=HTML)
    assert response.status_code == 503
    assert response.mimetype == "text/html"
    assert response.headers["Retry-After"] == "7"
    html = response.get_data(as_text=True)
    assert "The metrics database is unavailable" in html and "nobody" not in html


def test_names_are_escaped_everywhere(client, db):
    evil = "</script><img src=x onerror=alert(1)>&'\""
    test = catalogue.ensure_abtest(
        db, "xss", variants=["control", evil], title=evil, description=evil, status="running"
    )
    metric = catalogue.ensure_metric(db, "latency", unit="<b>ms</b>", description=evil)
    store(db, [(datetime.now(UTC) - timedelta(minutes=5), 1.0, test.id, metric.id, 1)])
    for url in ("/dashboard/", "/dashboard/abtests/xss", "/dashboard/abtests/xss/charts/latency"):
        html = text(client.get(url))
        assert "<img" not in html and "<b>ms" not in html, url
        assert html.count("</script>") == html.count("<script"), url
    (payload,) = chart_payloads(text(client.get("/dashboard/abtests/xss")))
    assert [s["variant"] for s in payload["series"]] == ["control", evil]
    assert payload["unit"] == "<b>ms</b>"


def _page_tags(client) -> list[tuple[str, dict[str, str | None]]]:
    found = []
    for url in ("/dashboard/", PAGE, CHART, "/swagger"):
        found += tags(text(client.get(url)))
    return found


def test_pages_have_no_inline_script_or_style(client, recent):
    for tag, attrs in _page_tags(client):
        if tag == "script":
            assert attrs.get("src") or attrs.get("type") == "application/json", attrs
        assert "style" not in attrs, (tag, attrs)
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
        assert tag != "style"


def test_every_asset_is_served_here_with_its_licence(client, recent):
    assets = [
        a.get("src") or a.get("href") for tag, a in _page_tags(client) if tag in ("script", "link")
    ]
    assets = [a for a in assets if a]
    assert assets
    for asset in assets:
        assert asset.startswith("/static/"), asset
        with client.get(asset) as response:
            assert response.status_code == 200, asset
    for folder in ("htmx", "chartjs", "chartjs-adapter-date-fns"):
        vendored = ROOT / "static" / "vendor" / folder
        assert (vendored / "SOURCE.md").is_file()
        assert list(vendored.glob("LICENSE*"))
        version = json.loads((vendored / "package.json").read_text())["version"]
        assert version in (vendored / "SOURCE.md").read_text()


def test_security_headers_on_every_response(client, recent):
    for url in ("/dashboard/", PAGE, "/swagger", "/metrics?abTestName=feature_a&metricName=x"):
        response = client.get(url)
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe" not in policy
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    with client.get("/static/js/charts.js") as response:
        assert "Content-Security-Policy" in response.headers
    assert client.get("/favicon.ico").status_code == 204
