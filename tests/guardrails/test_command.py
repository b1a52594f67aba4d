"""`tsmetrics watch` as people run it: progress lines, a clean stop on SIGTERM, no secret shown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.guardrails.conftest import SECRET, add, make_guarded, worse_data
from tests.support.webhook import wait_until
from tsmetrics.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _run(args, **env):
    return CliRunner().invoke(main, args, env={"TSMETRICS_DATABASE_URL": None, **env})


def test_a_bad_webhook_url_or_interval_is_a_usage_error(database_url):
    result = _run(
        ["watch", "--once"],
        TSMETRICS_DATABASE_URL=database_url,
        TSMETRICS_ALERT_WEBHOOK_URL="ftp://hooks.example.com/x",
    )
    assert result.exit_code == 2 and "TSMETRICS_ALERT_WEBHOOK_URL" in result.output
    result = _run(["watch", "--interval", "0"], TSMETRICS_DATABASE_URL=database_url)
    assert result.exit_code == 2 and "--interval" in result.output


def test_missing_database_url_says_what_to_set():
    result = _run(["watch"])
    assert result.exit_code == 2 and "TSMETRICS_DATABASE_URL" in result.output


@pytest.mark.slow
def test_runs_until_sigterm_with_progress_and_a_summary(db, database_url, receiver, tmp_path):
    g = make_guarded(db)
    control, treatment = worse_data()
    add(db, g, 0, control)
    add(db, g, 1, treatment)
    heartbeat = tmp_path / "alive"
    log = tmp_path / "watch.log"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TSMETRICS_DATABASE_URL": database_url,
        "TSMETRICS_ALERT_WEBHOOK_URL": receiver.url,
        "TSMETRICS_ALERT_WEBHOOK_SECRET": SECRET,
        "TSMETRICS_WATCH_INTERVAL": "0.3",
        "TSMETRICS_WATCH_HEARTBEAT_PATH": str(heartbeat),
        "TSMETRICS_LOG_FORMAT": "text",
    }
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tsmetrics.cli", "watch"], env=env, stdout=out, stderr=out
        )
        try:
            wait_until(lambda: len(receiver.all()) == 1, 30, "the raised alert")
            wait_until(heartbeat.exists, 10, "the heartbeat file")
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=20) == 0
        finally:
            if process.poll() is None:
                process.kill()
    text = log.read_text()
    assert "alerts POSTed to http://127.0.0.1:" in text and "(signed)" in text
    assert "this watcher is the active evaluator" in text
    assert "evaluated 1 guardrails of 1 running tests" in text
    assert "checkout/response_time/treatment raised" in text
    assert "delivered alert" in text
    assert "watch stopped:" in text and "1 raised, 0 cleared; 1 alerts delivered" in text
    assert SECRET not in text and "T0KEN" not in text
