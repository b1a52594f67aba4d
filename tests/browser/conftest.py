"""Browser fixtures: demo data in a database of its own, a live server, Debian's Chromium.

Chromium comes from Debian (`apt-get install chromium`, done by .ci/services);
Playwright only drives it and never downloads a browser.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from flask import Flask
from psycopg import sql
from psycopg_pool import ConnectionPool
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.support.services import require_service
from tsmetrics import create_app
from tsmetrics.db import EXTENSION_KEY
from tsmetrics.demo.seed import seed
from tsmetrics.store import schema

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "browser"


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *_args, **_kwargs) -> None:
        """The test output is no place for an access log."""


@pytest.fixture(scope="session")
def demo_database(database_server: str) -> Iterator[str]:
    """A database with two days of demo data (a sample every 10 s), for the browser tests."""
    name = f"tsmetrics_browser_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(database_server, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    conninfo = psycopg.conninfo.conninfo_to_dict(database_server) | {"dbname": name}
    url = psycopg.conninfo.make_conninfo(**conninfo)
    with psycopg.connect(url) as conn:
        schema.migrate(conn)
    seed(lambda: psycopg.connect(url), days=2, interval=10, out=lambda _line: None)
    yield url
    with psycopg.connect(database_server, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@dataclass
class LiveServer:
    """The app served over HTTP on a free port, in a thread of the test process."""

    app: Flask
    url: str

    @contextlib.contextmanager
    def database_down(self) -> Iterator[None]:
        """Requests meanwhile meet a database that does not answer, as when it is down."""
        broken = ConnectionPool(
            "postgresql://nobody@127.0.0.1:1/none",
            min_size=0,
            max_size=1,
            timeout=0.3,
            open=True,
            kwargs={"connect_timeout": 1},
        )
        working = self.app.extensions[EXTENSION_KEY]
        self.app.extensions[EXTENSION_KEY] = broken
        try:
            yield
        finally:
            self.app.extensions[EXTENSION_KEY] = working
            broken.close()


@pytest.fixture(scope="session")
def live_server(demo_database: str) -> Iterator[LiveServer]:
    """The dashboard on the demo database, at http://127.0.0.1:<free port>."""
    app = create_app(
        {"DATABASE_URL": demo_database, "POOL_MIN_SIZE": 1, "POOL_MAX_SIZE": 4, "TESTING": True}
    )
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield LiveServer(app, f"http://127.0.0.1:{server.server_port}")
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
    app.extensions[EXTENSION_KEY].close()


@pytest.fixture(scope="session")
def chromium():
    """Debian's headless Chromium under Playwright, with a fresh profile."""
    require_service(CHROMIUM.exists(), f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require_service(False, "the playwright package is missing (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Watch:
    """What a page did that a test must see: console errors, uncaught errors, other hosts."""

    base_url: str
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    def attach(self, page) -> None:
        """Listen to `page`."""
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        page.on(
            "request",
            lambda r: r.url.startswith(self.base_url + "/") or self.foreign.append(r.url),
        )

    def assert_clean(self) -> None:
        """No console error, no uncaught error, no request to another host."""
        assert _without_replaced_requests(self.errors) == [], self.errors
        assert self.foreign == [], self.foreign


def _without_replaced_requests(errors: list[str]) -> list[str]:
    """The errors but those htmx logs for a request it aborted on purpose.

    A range applied while a refresh is in flight replaces it (`hx-sync` ...
    `replace`): htmx aborts the old request and reports the abort on the console
    as two errors, `htmx:afterRequest` then `htmx:sendAbort`, for the same element.
    A failed response is `htmx:responseError` and stays an error.
    """
    kept, skip = [], False
    for index, error in enumerate(errors):
        if skip:
            skip = False
            continue
        target = error.removeprefix("htmx:afterRequest")
        following = errors[index + 1] if index + 1 < len(errors) else ""
        if target != error and following == "htmx:sendAbort" + target:
            skip = True
            continue
        kept.append(error)
    return kept


@pytest.fixture
def browser_page(chromium, live_server: LiveServer):
    """A page at 1280 px in Paris time, watched; fails the test on console errors."""
    context = chromium.new_context(
        base_url=live_server.url,
        viewport={"width": 1280, "height": 900},
        timezone_id="Europe/Paris",
        locale="en-GB",
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    watch = Watch(live_server.url)
    watch.attach(page)
    yield page, watch
    context.close()
    watch.assert_clean()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """The git-ignored folder for screenshots and timings."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
