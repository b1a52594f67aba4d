"""Every setting in one table: name, default, type, help; and reading them.

The table is assembled here from one module per area (storage, serving,
ingestion, caching, monitoring). The settings table of docs/configuration.md is
checked against it by a test, so a setting cannot exist without being documented.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tsmetrics.settings.caching import CACHING_SETTINGS
from tsmetrics.settings.definition import ENV_PREFIX, Setting, SettingError
from tsmetrics.settings.ingestion import INGESTION_SETTINGS
from tsmetrics.settings.monitoring import MONITORING_SETTINGS
from tsmetrics.settings.serving import SERVING_SETTINGS
from tsmetrics.settings.storage import STORAGE_SETTINGS

__all__ = [
    "BY_NAME",
    "ENV_PREFIX",
    "SETTINGS",
    "Setting",
    "SettingError",
    "load_settings",
    "markdown_table",
]

# In the order of the table of docs/configuration.md.
SETTINGS: tuple[Setting, ...] = (
    *STORAGE_SETTINGS,
    *SERVING_SETTINGS,
    *INGESTION_SETTINGS,
    *CACHING_SETTINGS,
    *MONITORING_SETTINGS,
)

BY_NAME = {s.name: s for s in SETTINGS}


def _coerce(setting: Setting, raw: Any) -> Any:
    if raw is None or setting.type is str or isinstance(raw, setting.type):
        return raw
    try:
        return setting.type(raw)
    except (TypeError, ValueError):
        raise SettingError(
            f"{ENV_PREFIX}{setting.name}={raw!r} is not a valid {setting.type.__name__}"
        ) from None


def _from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        env_name = ENV_PREFIX + setting.name
        file_name = environ.get(env_name + "_FILE")
        if file_name:
            # Docker secrets: the value lives in a file so it never shows in `env`.
            try:
                values[setting.name] = Path(file_name).read_text().strip()
            except OSError as error:
                raise SettingError(
                    f"{env_name}_FILE points at {file_name!r}, which cannot be read "
                    f"({error.strerror})"
                ) from None
        elif env_name in environ:
            values[setting.name] = environ[env_name]
    return values


def load_settings(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Defaults, then TSMETRICS_* environment (and *_FILE), then explicit overrides."""
    values = {s.name: s.default for s in SETTINGS}
    values.update(_from_environment(os.environ if environ is None else environ))
    values.update(overrides or {})
    return {
        name: _coerce(BY_NAME[name], value) if name in BY_NAME else value
        for name, value in values.items()
    }


def markdown_table() -> str:
    """The settings table of docs/configuration.md, generated from SETTINGS."""
    lines = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for setting in SETTINGS:
        default = "(unset)" if setting.default is None else f"`{setting.default}`"
        secret = (
            f" Secret: also read from `{ENV_PREFIX}{setting.name}_FILE`." if setting.secret else ""
        )
        lines.append(f"| `{ENV_PREFIX}{setting.name}` | {default} | {setting.help}{secret} |")
    return "\n".join(lines)
