"""The "Show as table" views' "Download CSV" links: each gives the numbers the chart draws."""

from __future__ import annotations

import csv
import io
import json
import re

from tests.web.test_dashboard import HX, PAGE, chart_payloads, recent, tags, text  # noqa: F401
from tests.web.test_results import LIFT, results  # noqa: F401

_LIFT_DATA = re.compile(r'<script type="application/json" class="lift-data">(.*?)</script>', re.S)


def _downloads(fragment: str) -> list[str]:
    """The hrefs of the fragment's Download CSV links, inside its "Show as table" details."""
    table = fragment[fragment.index('<details class="chart-table">') :]
    table = table[: table.index("</details>")]
    links = [a for tag, a in tags(table) if tag == "a" and "download" in a]
    assert links and all("format=csv" in a["href"] for a in links)
    return [a["href"] for a in links]


def _rows(client, link: str) -> list[dict[str, str]]:
    response = client.get(link)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_each_chart_line_downloads_as_csv(client, recent):  # noqa: F811
    fragment = text(client.get(PAGE + "?range=6h", headers=HX))
    (payload,) = chart_payloads(fragment)
    links = _downloads(fragment)
    assert len(links) == len(payload["series"]) == 2
    for series, link in zip(payload["series"], links, strict=True):
        assert f"variant={series['variant']}" in link
        rows = _rows(client, link)
        drawn = [[p["t"], p["a"], p["l"], p["h"]] for p in series["points"]]
        assert [[int(r["t"]), *(float(r[k]) for k in ("mean", "min", "max"))] for r in rows] == (
            drawn
        )


def test_the_lift_downloads_as_csv(client, results):  # noqa: F811
    fragment = text(client.get(LIFT + "?range=6h", headers=HX))
    (payload,) = [json.loads(found) for found in _LIFT_DATA.findall(fragment)]
    (link,) = _downloads(fragment)
    rows = _rows(client, link)
    (treatment,) = payload["metrics"][0]["treatments"]
    assert [int(r["t"]) for r in rows] == [p["t"] for p in treatment["points"]]
    assert [float(r["relativeLift"]) if r["relativeLift"] else None for r in rows] == [
        p["relativeLift"] for p in treatment["points"]
    ]
