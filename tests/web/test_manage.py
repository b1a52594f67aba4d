"""The dashboard's management forms: create, edit, lifecycle, archive; inline errors; access."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from tests.security.conftest import auth_db, make_app, make_user  # noqa: F401 - fixtures
from tests.security.helpers import csrf_from, log_in, session_csrf
from tests.support.helpers import store
from tests.web.test_dashboard import HTML, HX, tags, text
from tsmetrics.store import catalogue

NEW = "/dashboard/manage/abtests"
METRICS = "/dashboard/manage/metrics/"
CHECK = HX | {"X-Validate-Only": "true"}


def edit(name: str) -> str:
    """The edit form of an A/B test."""
    return f"{NEW}/{name}"


def field_error(html: str, form: str, name: str) -> str:
    """The message shown next to one field of a form."""
    match = re.search(
        rf'<p class="field-error" id="{form}-{name}-error"[^>]*>(.*?)</p>', html, re.S
    )
    assert match, f"no {name} field in {form}"
    return match[1]


def overview(client, query: str = "") -> list[str]:
    """The A/B tests the overview lists."""
    body = text(client.get("/dashboard/" + query, headers=HX))
    return re.findall(r'href="/dashboard/abtests/([^"]+)"', body)


@pytest.fixture
def client(app):
    """A test client that sends its session's CSRF token with every request, as csrf.js does.

    The policy asks for the token on every state-changing page request, even
    with authentication off.
    """
    client = app.test_client()
    client.get("/dashboard/")
    client.environ_base["HTTP_X_CSRF_TOKEN"] = session_csrf(client)
    return client


@pytest.fixture
def draft(client, db):
    """checkout: a draft with three variants, created through the form."""
    form = {"name": "checkout", "title": "One-page checkout", "variants": "control\nb\nc"}
    assert client.post(NEW, data=form, headers=HX).status_code == 201
    return catalogue.get_abtest(db, "checkout")


@pytest.mark.parametrize("url", [NEW, METRICS, edit("feature_a"), METRICS + "response_time"])
def test_each_form_is_a_page_or_a_fragment(client, feature_a, url):
    page_response = client.get(url)
    page = text(page_response)
    assert page.startswith("<!doctype html>") and "/static/js/dashboard.js" in page
    fragment_response = client.get(url, headers=HX)
    fragment = text(fragment_response)
    # The session keeps one CSRF token, so the fragment is exactly the page's part.
    assert "<html" not in fragment and fragment.strip() in page
    for response in (page_response, fragment_response):
        assert "HX-Request" in response.headers["Vary"]


def test_create_through_the_form(client, db):
    form = {
        "name": "checkout",
        "title": "One-page checkout",
        "description": "Merges the steps.",
        "hypothesis": "Fewer steps, more orders.",
        "variants": "control, one_page\r\ntwo_page",
        "expectedSplit": "2:1:1",
        "status": "running",
    }
    response = client.post(NEW, data=form, headers=HX)
    assert response.status_code == 201
    assert response.headers["HX-Trigger"] == "abtests-changed"
    body = text_of(response)
    assert 'Created <a href="/dashboard/abtests/checkout">checkout</a>' in body
    assert 'id="abtest-new-name" name="name"' in body and 'value="checkout"' not in body
    api = client.get("/abtest/checkout").get_json()
    assert api["variants"] == ["control", "one_page", "two_page"]
    assert api["status"] == "running"
    test = catalogue.get_abtest(db, "checkout")
    assert (test.hypothesis, test.expected_split) == ("Fewer steps, more orders.", [2, 1, 1])
    # The overview lists it at once (it asks again on abtests-changed).
    assert overview(client) == ["checkout"]


def text_of(response) -> str:
    """The HTML body of any response."""
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def test_without_javascript_a_create_redirects_to_the_test(client, db):
    response = client.post(NEW, data={"name": "plain"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/dashboard/abtests/plain"
    assert catalogue.get_abtest(db, "plain").variants == ["control", "treatment"]


def test_a_duplicate_name_is_an_inline_409(client, draft):
    response = client.post(NEW, data={"name": "checkout", "title": "Again"}, headers=HX)
    assert response.status_code == 409
    body = text_of(response)
    assert field_error(body, "abtest-new", "name") == "A/B test &#39;checkout&#39; already exists."
    assert 'value="Again"' in body  # what was typed stays
    assert "HX-Trigger" not in response.headers


def test_invalid_fields_are_inline_422_with_the_api_messages(client, db):
    form = {"name": "Bad Name", "variants": "only", "expectedSplit": "1, x", "status": "paused"}
    response = client.post(NEW, data=form, headers=HX)
    assert response.status_code == 422
    body = text_of(response)
    api = client.post(
        "/abtest",
        json={
            "name": "Bad Name",
            "variants": ["only"],
            # What the form's "1, x" stands for: the API takes JSON numbers only.
            "expectedSplit": [1, "x"],
            "status": "paused",
        },
    ).get_json()["errors"]
    assert set(api) == {"name", "variants", "expectedSplit", "status"}
    for name, messages in api.items():
        shown = field_error(body, "abtest-new", name)
        assert shown == " ".join(messages).replace("'", "&#39;"), name
        assert f'id="abtest-new-{name}-field"' in body
    assert 'aria-invalid="true"' in body and catalogue.get_abtest(db, "Bad Name") is None


def test_a_field_check_changes_nothing(client, db, draft):
    taken = client.post(NEW, data={"name": "checkout", "variants": "x"}, headers=CHECK)
    # A field check answers 200 (htmx swaps it) and says a taken name even while
    # another field is wrong.
    assert taken.status_code == 200
    assert "already exists" in field_error(text_of(taken), "abtest-new", "name")
    assert "Between 2 and 20" in field_error(text_of(taken), "abtest-new", "variants")
    fine = client.post(NEW, data={"name": "fresh"}, headers=CHECK)
    assert fine.status_code == 200 and "HX-Trigger" not in fine.headers
    assert field_error(text_of(fine), "abtest-new", "name") == ""
    assert catalogue.get_abtest(db, "fresh") is None
    check = client.post(
        edit("checkout"), data={"title": "Changed", "variants": "a\nb"}, headers=CHECK
    )
    assert check.status_code == 200 and 'value="Changed"' in text_of(check)
    assert catalogue.get_abtest(db, "checkout").title == "One-page checkout"


def _moves(html: str) -> list[str]:
    return [a["value"] for tag, a in tags(html) if tag == "button" and a.get("name") == "status"]


def test_the_lifecycle_offers_only_legal_moves(client, db, draft):
    assert _moves(text(client.get(edit("checkout")))) == ["running", "archived"]
    started = client.post(edit("checkout") + "/status", data={"status": "running"}, headers=HX)
    assert started.headers["HX-Trigger"] == "abtests-changed"
    assert _moves(text(started)) == ["paused", "completed"]
    assert "checkout is now running." in text(started)
    paused = text(client.post(edit("checkout") + "/status", data={"status": "paused"}, headers=HX))
    assert ">Resume</button>" in paused and _moves(paused) == ["running", "completed"]
    # A stale page (another tab moved it on) asks for an illegal move: 409, said inline.
    illegal = client.post(edit("checkout") + "/status", data={"status": "archived"}, headers=HX)
    assert illegal.status_code == 409
    body = text_of(illegal)
    assert (
        "checkout&#39; is paused; it cannot become archived (from paused: running or completed)"
        in body
    )
    assert _moves(body) == ["running", "completed"]
    nonsense = client.post(edit("checkout") + "/status", data={"status": "sleeping"}, headers=HX)
    assert nonsense.status_code == 422 and "Must be one of" in text_of(nonsense)
    # Without JavaScript a move is a form post answered by a redirect to the form.
    plain = client.post(edit("checkout") + "/status", data={"status": "running"})
    assert plain.status_code == 303 and plain.headers["Location"] == edit("checkout")
    assert catalogue.get_abtest(db, "checkout").status == "running"


def test_archived_tests_leave_the_overview_and_become_read_only(client, db, draft):
    catalogue.ensure_abtest(db, "other", variants=["a", "b"])
    archive = text(client.get(edit("checkout")))
    (button,) = [a for tag, a in tags(archive) if tag == "button" and a.get("value") == "archived"]
    assert button["hx-confirm"].startswith("Archive checkout?")
    response = client.post(edit("checkout") + "/status", data={"status": "archived"}, headers=HX)
    assert response.status_code == 200 and _moves(text(response)) == []
    assert overview(client) == ["other"]
    assert overview(client, "?status=archived") == ["checkout"]
    page = text(client.get(edit("checkout")))
    assert '<fieldset class="form-body" disabled>' in page
    refused = client.post(edit("checkout"), data={"title": "x", "variants": "a\nb"}, headers=HX)
    assert refused.status_code == 409 and "archived, which is read-only" in text_of(refused)
    assert client.get("/abtest/checkout").status_code == 200  # its data stay


def test_saving_fields_and_the_variants_rule(client, db, draft, feature_a):
    form = {"title": "New title", "variants": "control\nb\nc", "expectedSplit": "50 25 25"}
    saved = client.post(edit("checkout"), data=form, headers=HX)
    assert saved.status_code == 200 and "Saved." in text(saved)
    assert catalogue.get_abtest(db, "checkout").expected_split == [50, 25, 25]
    cleared = client.post(edit("checkout"), data=form | {"expectedSplit": ""}, headers=HX)
    assert (
        cleared.status_code == 200 and catalogue.get_abtest(db, "checkout").expected_split is None
    )
    test, metric = feature_a
    store(db, [(datetime.now(UTC), 1.0, test.id, metric.id, 0)])
    page = text(client.get(edit("feature_a")))
    assert "Fixed: it has samples" in page
    refused = client.post(edit("feature_a"), data={"variants": "control\nother"}, headers=HX)
    assert refused.status_code == 409
    assert "can no longer change" in field_error(text_of(refused), "abtest-edit", "variants")
    plain = client.post(edit("checkout"), data=form)
    assert plain.status_code == 303 and plain.headers["Location"] == edit("checkout")


def test_metric_catalogue_forms(client, db, feature_a):
    form = {"name": "orders", "unit": "orders", "kind": "sum", "higherIsBetter": "true"}
    created = client.post(METRICS, data=form | {"displayDecimals": "0"}, headers=HX)
    assert created.status_code == 201 and created.headers["HX-Trigger"] == "metrics-changed"
    assert "Added <a" in text_of(created)
    metric = catalogue.get_metric(db, "orders")
    assert (metric.kind, metric.higher_is_better, metric.display_decimals) == ("sum", True, 0)
    listing = text(client.get(METRICS, headers=HX))
    assert listing.lstrip().startswith('<div id="metrics"') and "orders" in listing
    duplicate = client.post(METRICS, data=form, headers=HX)
    assert duplicate.status_code == 409
    assert "already exists" in field_error(text_of(duplicate), "metric-new", "name")
    invalid = client.post(METRICS, data=form | {"name": "x2", "displayDecimals": "9"}, headers=HX)
    assert invalid.status_code == 422
    assert field_error(text_of(invalid), "metric-new", "displayDecimals") != ""
    edited = client.post(METRICS + "orders", data=form | {"unit": "#", "kind": "mean"}, headers=HX)
    assert edited.status_code == 200 and catalogue.get_metric(db, "orders").unit == "#"
    archived = client.post(METRICS + "orders/archive", data={"archived": "true"}, headers=HX)
    assert "orders is archived." in text(archived) and ">Restore</button>" in text(archived)
    listed = [m["name"] for m in client.get("/metrics/catalogue").get_json()]
    assert listed == ["response_time"]
    restored = client.post(METRICS + "orders/archive", data={"archived": "false"}, headers=HX)
    assert "orders is restored." in text(restored)
    plain = client.post(METRICS + "orders/archive", data={"archived": "true"})
    assert plain.status_code == 303 and plain.headers["Location"] == METRICS + "orders"
    assert catalogue.get_metric(db, "orders").archived_at is not None
    assert client.post(METRICS + "nope", data=form, headers=HTML).status_code == 404


def test_metric_forms_set_the_accepted_value_range(client, db, feature_a):
    form = {"name": "latency", "valueMin": "0", "valueMax": "6e4"}
    assert client.post(METRICS, data=form, headers=HX).status_code == 201
    metric = catalogue.get_metric(db, "latency")
    assert (metric.value_min, metric.value_max) == (0, 60_000)
    page = text(client.get(METRICS + "latency"))
    assert 'name="valueMin"' in page and 'value="60000"' in page
    backwards = client.post(METRICS + "latency", data={"valueMax": "-1"}, headers=HX)
    assert backwards.status_code == 422
    assert "must be below valueMax" in field_error(text_of(backwards), "metric-edit", "valueMax")
    assert catalogue.get_metric(db, "latency").value_max == 60_000
    # The new-metric form offers the default range.
    assert 'value="-1000000000000000"' in text(client.get(METRICS))


def test_typed_text_is_escaped(client, db, draft):
    evil = "</textarea><img src=x onerror=alert(1)>&'\""
    response = client.post(NEW, data={"name": evil, "title": evil, "variants": evil}, headers=HX)
    assert response.status_code == 422
    saved = client.post(edit("checkout"), data={"title": evil, "variants": "a\nb\nc"}, headers=HX)
    assert saved.status_code == 200 and catalogue.get_abtest(db, "checkout").title == evil
    for html in (text_of(response), text(saved), text(client.get("/dashboard/abtests/checkout"))):
        assert "<img" not in html and html.count("</textarea>") == html.count("<textarea")


def test_the_overview_offers_the_form_and_reloads_on_change(client, db):
    page = text(client.get("/dashboard/"))
    (link,) = [a for tag, a in tags(page) if tag == "a" and a.get("hx-get") == NEW]
    assert link["href"] == NEW and link["hx-target"] == "#abtest-new-slot"
    (listener,) = [
        a for tag, a in tags(page) if a.get("hx-trigger", "").startswith("abtests-changed")
    ]
    assert (listener["hx-get"], listener["hx-include"]) == ("/dashboard/", "#filters")
    assert "Any status but archived" in page
    assert f'href="{METRICS}"' in page
    catalogue.ensure_abtest(db, "shown", variants=["a", "b"])
    assert f'href="{edit("shown")}">Manage this A/B test</a>' in text(
        client.get("/dashboard/abtests/shown")
    )


def test_viewers_cannot_submit_and_every_change_needs_csrf(make_app, make_user):  # noqa: F811
    client = make_app().test_client()
    make_user("vic", "viewer")
    make_user("eve", "editor")
    assert log_in(client, "vic").status_code == 302
    page = text(client.get(NEW))
    assert "needs the editor role" in page and '<fieldset class="form-body" disabled>' in page
    token = csrf_from(page)
    refused = client.post(NEW, data={"name": "x", "csrf_token": token}, headers=HX)
    assert refused.status_code == 403
    assert client.post(METRICS, data={"name": "m", "csrf_token": token}).status_code == 403
    client.post("/logout", data={"csrf_token": session_csrf(client)})
    assert log_in(client, "eve").status_code == 302
    assert client.post(NEW, data={"name": "no_token"}, headers=HX).status_code == 403
    forged = client.post(NEW, data={"name": "forged"}, headers=HX | {"X-CSRF-Token": "forged"})
    assert forged.status_code == 403
    header = HX | {"X-CSRF-Token": session_csrf(client)}
    assert client.post(NEW, data={"name": "with_token"}, headers=header).status_code == 201
    form = text(client.get(NEW))
    assert "needs the editor role" not in form
    assert (
        client.post(NEW, data={"name": "by_form", "csrf_token": csrf_from(form)}).status_code == 303
    )
