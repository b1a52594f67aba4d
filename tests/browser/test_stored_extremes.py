"""The dashboard in a real browser over samples near the float range (issue 14, item 1).

The A/B test of tests/api/test_stored_extremes.py, with values up to the largest
double planted past the ingestion checks: its page draws every chart, and its
results panel and lift charts show the refusal, without an error in the page.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

from tests.api.test_stored_extremes import _plant
from tests.api.test_stored_extremes import exp as exp  # the fixture
from tests.browser.conftest import Watch, _QuietHandler
from tests.support.helpers import small_app
from tsmetrics.analysis import stats

pytestmark = [pytest.mark.browser, pytest.mark.slow]
BIGGEST = sys.float_info.max
PAGE = "/dashboard/abtests/exp?range=custom&start=2025-11-01T00:00&end=2025-11-01T01:00"


@pytest.fixture
def poisoned_server(db, database_url, exp) -> Iterator[str]:
    """The app over exp with ±1.8e308 planted in every metric, served on a free port."""
    test, metrics = exp
    for metric in metrics.values():
        _plant(db, test, metric, (BIGGEST, -BIGGEST, 1e200))
    app = small_app(database_url, AUTH="off")
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="poisoned", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
    app.extensions["tsmetrics.pool"].close()


def test_the_page_draws_poisoned_series_and_says_why_results_are_missing(chromium, poisoned_server):
    context = chromium.new_context(base_url=poisoned_server, timezone_id="UTC")
    page = context.new_page()
    page.set_default_timeout(15_000)
    watch = Watch(poisoned_server)
    watch.attach(page)
    try:
        page.goto(PAGE)
        page.wait_for_selector("html[data-charts-first-drawn-ms]", state="attached")
        scales = page.evaluate(
            """() => Array.from(document.querySelectorAll('.chart canvas')).map(canvas => {
                   const chart = Chart.getChart(canvas);
                   const ys = chart.data.datasets.flatMap(d =>
                       d.data.filter(p => p.y !== null).map(p => p.y));
                   return [ys.length, chart.scales.y.min, chart.scales.y.max,
                           chart.scales.y.ticks.length];
               })"""
        )
        assert len(scales) == 3, scales
        for points, low, high, ticks in scales:
            # Every bucket drawn, on a finite axis with ticks: it fits the lines (means up
            # to 1.8e199 here) and clips the ±1.8e308 band (issue 16's honest axes).
            assert points >= 100 and ticks >= 2, scales
            assert -4.5e307 <= low < high <= 4.5e307 and high >= 1e199, scales
        page.goto(
            "/dashboard/abtests/exp/comparison?start=2025-11-01T00:00:00Z&end=2025-11-01T01:00:00Z"
        )
        assert stats.UNREPRESENTABLE in page.content()
    finally:
        context.close()
    watch.assert_clean()
