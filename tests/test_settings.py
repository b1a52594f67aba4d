"""Every setting is documented in docs/configuration.md, and the environment is read as promised."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tsmetrics.settings import SETTINGS, SettingError, load_settings, markdown_table

PAGE = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def test_the_settings_table_of_the_docs_matches_the_code():
    text = PAGE.read_text()
    pattern = r"<!-- settings-table:start -->\n(.*?)\n<!-- settings-table:end -->"
    match = re.search(pattern, text, re.S)
    assert match, "docs/configuration.md lost its settings-table markers"
    assert match[1] == markdown_table(), (
        "The settings table of docs/configuration.md is out of date: run "
        "`.venv/bin/python scripts/settings_table.py`"
    )


def test_every_setting_has_help():
    for setting in SETTINGS:
        assert setting.help.strip(), setting.name


def test_precedence_defaults_environment_overrides(tmp_path):
    secret = tmp_path / "url"
    secret.write_text("postgresql://from-file\n")
    env = {"TSMETRICS_POOL_MAX_SIZE": "9", "TSMETRICS_DATABASE_URL_FILE": str(secret)}
    values = load_settings({"POOL_MAX_SIZE": 3}, environ=env)
    assert values["POOL_MAX_SIZE"] == 3
    assert values["DATABASE_URL"] == "postgresql://from-file"
    assert load_settings(environ=env)["POOL_MAX_SIZE"] == 9
    assert load_settings(environ={})["POOL_MAX_SIZE"] == 4


def test_bad_values_say_which_setting(tmp_path):
    with pytest.raises(SettingError, match="TSMETRICS_POOL_MAX_SIZE"):
        load_settings(environ={"TSMETRICS_POOL_MAX_SIZE": "many"})
    with pytest.raises(SettingError, match="TSMETRICS_SECRET_KEY_FILE"):
        load_settings(environ={"TSMETRICS_SECRET_KEY_FILE": str(tmp_path / "missing")})


@pytest.mark.parametrize(
    "given",
    [
        "postgresql://app:s3cret@db:5432/m",
        "postgresql://app@db/m",
        "host=db user=app password=s3cret dbname=m",
        "host=db dbname=m",
    ],
)
def test_passwords_never_show_in_redacted_urls(given):
    from tsmetrics.db import redact_url

    shown = redact_url(given)
    assert "s3cret" not in shown
    assert ("********" in shown) == ("s3cret" in given)
    assert "db" in shown
