"""Every example request in README.md and docs/ works as written, on demo data seeded today.

The `curl` blocks run in bash with the real curl against a live server on demo
data ending now, so relative times (`$(date ...)`) and quoting are tested too;
each request must answer 2xx, and a JSON block shown right after a one-request
example must have the shape of the real answer. The dashboard and API URLs of the
prose must answer, and the Python producer example must publish its batch.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from werkzeug.serving import make_server

from tests.support.helpers import small_app
from tests.support.markdown import PAGES, ROOT, Block, autolinks, blocks
from tsmetrics.demo.seed import seed
from tsmetrics.guardrails import deliver

DEMO = "http://127.0.0.1:5221"
SHELL = {"", "sh", "bash", "shell", "console"}
# Every table the seed and the examples write: emptied before and after this module.
WRITTEN = (
    "samples", "rollups", "series", "abtests", "metrics",
    "api_tokens", "ingested_batches", "cache_versions",
)  # fmt: skip
# Adds "HTTP <status>" to stderr for every request, leaving stdout to the body.
PRELUDE = """set -euo pipefail
curl() { command curl --silent --show-error --write-out '%{stderr}HTTP %{http_code}\\n' "$@"; }
"""


def _curl_blocks() -> list[tuple[Block, Block | None]]:
    """Each shell block with a curl, and the block after it on the same page."""
    found = []
    for page in PAGES:
        page_blocks = blocks(page)
        for index, block in enumerate(page_blocks):
            if block.lang in SHELL and re.search(r"^\s*curl\b|\bcurl -", block.text, re.M):
                following = page_blocks[index + 1] if index + 1 < len(page_blocks) else None
                found.append((block, following))
    return found


CURL_BLOCKS = _curl_blocks()
DEMO_BLOCKS = [(b, after) for b, after in CURL_BLOCKS if DEMO in b.text]
PYTHON_BLOCKS = [
    b for page in PAGES for b in blocks(page) if b.lang == "python" and "def verify(" not in b.text
]
VERIFY_BLOCKS = [
    b for page in PAGES for b in blocks(page) if b.lang == "python" and "def verify(" in b.text
]


@pytest.mark.parametrize("block", VERIFY_BLOCKS, ids=lambda b: b.where)
def test_the_documented_signature_check_accepts_what_the_watcher_signs(block):
    """The receiver's snippet, run as written, agrees with tsmetrics.guardrails.deliver.sign."""
    assert VERIFY_BLOCKS, "docs/guardrails.md shows how to verify a webhook"
    namespace: dict = {}
    exec(compile(block.text, block.where, "exec"), namespace)  # noqa: S102 - our own docs
    body, now = b'{"id": "x", "state": "raised"}', int(time.time())
    headers = {
        "X-TSMetrics-Timestamp": str(now),
        "X-TSMetrics-Signature": deliver.sign("s3cret", now, body),
    }
    assert namespace["verify"]("s3cret", headers, body)
    assert not namespace["verify"]("s3cret", headers, body + b" ")
    assert not namespace["verify"]("other", headers, body)
    old = now - 3600
    stale = {
        "X-TSMetrics-Timestamp": str(old),
        "X-TSMetrics-Signature": deliver.sign("s3cret", old, body),
    }
    assert not namespace["verify"]("s3cret", stale, body)


def test_every_curl_example_targets_the_demo_or_docker_compose():
    # Anything else could not be run here, and would go stale unseen.
    others = [b.where for b, _ in CURL_BLOCKS if DEMO not in b.text and "docker" not in b.text]
    assert not others, f"curl examples that neither use {DEMO} nor docker compose: {others}"
    assert len(DEMO_BLOCKS) >= 5


@pytest.fixture(scope="module")
def demo_data(database_url: str) -> Iterator[str]:
    """Two days of demo data ending now (one sample a minute per series), for this module."""
    empty = "TRUNCATE " + ", ".join(WRITTEN) + " RESTART IDENTITY CASCADE"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(empty)
    seed(lambda: psycopg.connect(database_url), days=2, interval=60, out=lambda _line: None)
    yield database_url
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(empty)


class _LiveServer:
    """The app served over real HTTP in a thread, as `./dev demo` serves it."""

    def __init__(self, database_url: str, auth: str) -> None:
        self.app = small_app(database_url, AUTH=auth)
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)
        self.app.extensions["tsmetrics.pool"].close()


@pytest.fixture(scope="module")
def servers(demo_data: str) -> Iterator[dict[str, _LiveServer]]:
    """The demo as `./dev demo` serves it (auth off), and a server with authentication on."""
    with _LiveServer(demo_data, "off") as demo, _LiveServer(demo_data, "on") as secured:
        yield {"off": demo, "on": secured}


def _tsmetrics_command(folder: Path) -> Path:
    """A `tsmetrics` on PATH that runs this checkout's command with this Python."""
    command = folder / "tsmetrics"
    command.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m tsmetrics.cli "$@"\n')
    command.chmod(0o755)
    return folder


def _run(block: Block, server: _LiveServer, database_url: str, tmp_path: Path):
    bin_dir = _tsmetrics_command(tmp_path)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
        "TSMETRICS_DATABASE_URL": database_url,
    }
    script = PRELUDE + block.text.replace(DEMO, server.url)
    return subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )


def _same_shape(shown: Any, real: Any) -> bool:
    if isinstance(shown, dict):
        return (
            isinstance(real, dict)
            and set(shown) == set(real)
            and all(_same_shape(shown[key], real[key]) for key in shown)
        )
    if isinstance(shown, list) and shown and real:
        return _same_shape(shown[0], real[0])
    return True


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("bash")), reason="needs curl, bash")
@pytest.mark.parametrize("block, following", DEMO_BLOCKS, ids=[b.where for b, _ in DEMO_BLOCKS])
def test_the_curl_example_answers_2xx_on_todays_demo_data(
    block, following, servers, demo_data, tmp_path
):
    # Token examples are for a server with authentication on; the rest for the demo.
    server = servers["on" if "Authorization: Bearer" in block.text else "off"]
    done = _run(block, server, demo_data, tmp_path)
    statuses = [int(code) for code in re.findall(r"^HTTP (\d{3})$", done.stderr, re.M)]
    assert done.returncode == 0, f"{block.where} failed: {done.stderr}"
    assert statuses and all(200 <= code < 300 for code in statuses), (
        f"{block.where} answered {statuses}: {done.stdout} {done.stderr}"
    )
    if following is not None and following.lang == "json" and len(statuses) == 1:
        shown = json.loads(following.text)
        assert _same_shape(shown, json.loads(done.stdout)), (
            f"{following.where} no longer has the shape of the answer: {done.stdout[:500]}"
        )


DEMO_URLS = sorted({url for page in PAGES for url in autolinks(page) if url.startswith(DEMO)})


@pytest.mark.parametrize("url", DEMO_URLS)
def test_the_demo_url_answers(url, servers):
    client = servers["off"].app.test_client()
    response = client.get(url.removeprefix(DEMO) or "/", follow_redirects=True)
    assert response.status_code == 200, url


@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=[b.where for b in PYTHON_BLOCKS])
def test_the_python_example_publishes_its_batch(block, monkeypatch):
    from tests.support.rabbit import drain, private_queue, require_rabbitmq
    from tsmetrics.ingest.producer import Producer

    require_rabbitmq()
    with private_queue() as topology:
        # The example publishes to the default queue; this test's own queue stands in.
        url_default = Producer.__init__.__defaults__[0]
        monkeypatch.setattr(Producer.__init__, "__defaults__", (url_default, topology.queue))
        exec(compile(block.text, block.where, "exec"), {})  # noqa: S102 - our own docs
        messages = drain(topology.queue)
    batches = [json.loads(body) for _properties, body in messages]
    assert batches and all({"abTest", "variant", "samples"} <= set(b) for b in batches)
