"""What a setting is: a name, a default, a type, one line of help; and the error of a bad one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ENV_PREFIX = "TSMETRICS_"


@dataclass(frozen=True)
class Setting:
    """One configuration knob: its name, default, type and one line of help."""

    name: str
    default: Any
    type: type
    help: str
    secret: bool = False


class SettingError(ValueError):
    """A setting could not be read; the message says which and how to fix it."""
