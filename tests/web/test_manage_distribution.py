"""The catalogue forms' distribution checkbox (issue 13): set, shown, checked as the API does."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from tests.web.test_dashboard import HX, tags, text
from tests.web.test_manage import METRICS, client, field_error  # noqa: F401 - fixture
from tsmetrics.store import catalogue

CHECK = HX | {"X-Validate-Only": "true"}
BOX = "Keep a distribution (percentiles)"


class _FormFields(HTMLParser):
    """What a browser posts for a form: its fields' names and values (ticked boxes only)."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if (tag == "input" and a.get("type") != "checkbox") or "checked" in a:
            self.fields[a["name"]] = a.get("value") or ""
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select and "selected" in a:
            self.fields[self._select] = a["value"]
        elif tag == "textarea":
            self._textarea = a["name"]
            self.fields[a["name"]] = ""

    def handle_endtag(self, tag):
        if tag in ("select", "textarea"):
            self._select = self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.fields[self._textarea] += data


def posted(html: str) -> dict[str, str]:
    """The fields the edit form of `html` posts when submitted as it is shown."""
    match = re.search(r'<form method="post" action="[^"]*" hx-post.*?</form>', html, re.S)
    assert match, "no edit form"
    parser = _FormFields()
    parser.feed(match[0])
    return {k: v for k, v in parser.fields.items() if k != "csrf_token"}


def box(html: str, form: str) -> dict[str, str | None]:
    """The attributes of the distribution checkbox in `form`."""
    (found,) = [a for tag, a in tags(html) if a.get("id") == f"{form}-distribution"]
    return found


def listed(web) -> dict[str, str]:
    """The catalogue list's Distribution column, by metric (`web`: a test client)."""
    html = text(web.get(METRICS, headers=HX))
    head = re.findall(r'<th scope="col"[^>]*>(.*?)</th>', html)
    column = head.index("Distribution")
    rows = re.findall(r"<tr>\s*<th scope=\"row\"><a [^>]*>(\w+)</a>.*?</th>(.*?)</tr>", html, re.S)
    return {name: re.findall(r"<td[^>]*>(.*?)</td>", cells)[column - 1] for name, cells in rows}


def test_create_with_and_without_a_distribution(client, db):  # noqa: F811
    page = text(client.get(METRICS))
    assert "checked" not in box(page, "metric-new")  # off unless asked, as in the API
    on = {"name": "latency", "unit": "ms", "distribution": "true"}
    assert client.post(METRICS, data=on, headers=HX).status_code == 201
    off = {"name": "clicks", "kind": "sum"}
    assert client.post(METRICS, data=off, headers=HX).status_code == 201
    assert catalogue.get_metric(db, "latency").distribution is True
    assert catalogue.get_metric(db, "clicks").distribution is False
    assert client.get("/metrics/catalogue/latency").get_json()["distribution"] is True
    assert client.get("/metrics/catalogue/clicks").get_json()["distribution"] is False
    assert listed(client) == {"clicks": "no", "latency": "yes"}
    # Without JavaScript the box posts the same way.
    plain = client.post(METRICS, data={"name": "cpu", "distribution": "true"})
    assert plain.status_code == 303 and catalogue.get_metric(db, "cpu").distribution is True


def test_switching_it_on_and_off_from_the_edit_form(client, db):  # noqa: F811
    catalogue.create_metric(db, "latency", unit="ms", description="Server time.")
    page = text(client.get(METRICS + "latency"))
    assert "checked" not in box(page, "metric-edit")
    form = posted(page)
    assert "distribution" not in form and form["unit"] == "ms"  # an unticked box posts nothing
    on = client.post(METRICS + "latency", data=form | {"distribution": "true"}, headers=HX)
    assert "Saved." in text(on) and on.headers["HX-Trigger"] == "metrics-changed"
    assert "checked" in box(text(on), "metric-edit")
    api = client.get("/metrics/catalogue/latency").get_json()
    assert (api["distribution"], api["unit"], api["description"]) == (True, "ms", "Server time.")
    assert listed(client) == {"latency": "yes"}
    # Submitted again as shown (ticked), then unticked: off, nothing else changed.
    shown = posted(text(client.get(METRICS + "latency")))
    assert shown == form | {"distribution": "true"}
    assert client.post(METRICS + "latency", data=shown, headers=HX).status_code == 200
    assert catalogue.get_metric(db, "latency").distribution is True
    off = client.post(METRICS + "latency", data=form, headers=HX)
    assert "Saved." in text(off) and "checked" not in box(text(off), "metric-edit")
    assert client.get("/metrics/catalogue/latency").get_json()["distribution"] is False
    assert catalogue.get_metric(db, "latency").unit == "ms"
    assert listed(client) == {"latency": "no"}


def test_a_field_check_of_the_box_changes_nothing(client, db):  # noqa: F811
    catalogue.create_metric(db, "latency")
    form = posted(text(client.get(METRICS + "latency"))) | {"distribution": "true"}
    check = client.post(METRICS + "latency", data=form, headers=CHECK)
    assert check.status_code == 200 and "HX-Trigger" not in check.headers
    # The answer keeps the box as the user left it, with no message.
    assert "checked" in box(text(check), "metric-edit")
    assert field_error(text(check), "metric-edit", "distribution") == ""
    assert catalogue.get_metric(db, "latency").distribution is False


def test_a_value_that_is_not_a_boolean_is_refused_beside_the_box(client, db):  # noqa: F811
    api = client.post("/metrics/catalogue", json={"name": "latency", "distribution": "maybe"})
    (message,) = api.get_json()["errors"]["distribution"]
    response = client.post(METRICS, data={"name": "latency", "distribution": "maybe"}, headers=HX)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_error(html, "metric-new", "distribution") == message
    assert box(html, "metric-new")["aria-invalid"] == "true"
    assert catalogue.get_metric(db, "latency") is None


def test_the_box_is_labelled_and_says_what_switching_on_means(client, feature_a):  # noqa: F811
    page = text(client.get(METRICS + "response_time"))
    found = box(page, "metric-edit")
    assert (found["type"], found["name"], found["value"]) == ("checkbox", "distribution", "true")
    # A native checkbox: focusable, toggled with Space, checked on change like the other fields.
    assert "tabindex" not in found and found["hx-trigger"] == "change"
    assert found["hx-select"] == "#metric-edit-distribution-field"
    assert f'<label for="metric-edit-distribution">{BOX}</label>' in page
    described = "metric-edit-distribution-hint metric-edit-distribution-error"
    assert found["aria-describedby"] == described
    hint = re.search(r'<p class="hint" id="metric-edit-distribution-hint">(.*?)</p>', page)[1]
    # docs/api.md#percentiles says the same: older buckets have none.
    assert "buckets written before the switch" in hint and "have no percentiles" in hint
