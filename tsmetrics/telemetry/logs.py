"""Structured logs: one JSON object per line, with the request id, and never a secret.

Kept free of Flask and prometheus_client imports: gunicorn.conf.py imports it
in the master process before any worker exists.
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

from tsmetrics.db import redact_url

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "tsmetrics_request_id", default=None
)
# Passwords in URLs (postgresql://u:secret@h, amqp://, redis://), bearer
# tokens, and this project's tokens wherever they appear.
_URL_WITH_PASSWORD = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/@:]*:[^\s/@]*@[^\s/'\"]*")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[^\s'\",]+")
_TOKEN = re.compile(r"(?<![A-Za-z0-9_-])tsm_[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])")
# What every LogRecord has; anything else was passed with `extra=` and is logged.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def scrub(text: str) -> str:
    """`text` with credentials masked: URL passwords, bearer tokens, API tokens."""
    if "://" in text:
        text = _URL_WITH_PASSWORD.sub(lambda m: redact_url(m[0]), text)
    text = _BEARER.sub(r"\1********", text)
    return _TOKEN.sub("tsm_********", text)


class JsonFormatter(logging.Formatter):
    """A log record as one line of JSON: time, level, logger, message, request id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as JSON, secrets masked."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in entry:
                entry[key] = scrub(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exception"] = scrub(self.formatException(record.exc_info))
        return orjson.dumps(entry, default=str).decode()


class ScrubbingFormatter(logging.Formatter):
    """The plain-text format, secrets masked all the same."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as text, secrets masked."""
        return scrub(super().format(record))


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a line is logged (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):  # type: ignore[override]
        """The current sys.stderr."""
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def formatter(log_format: str) -> logging.Formatter:
    """The formatter for TSMETRICS_LOG_FORMAT (`json` or `text`)."""
    return JsonFormatter() if log_format == "json" else ScrubbingFormatter(TEXT_FORMAT)


def _stamp_request_ids() -> None:
    # At creation, so that every handler (and a test's log capture) sees the
    # id of the request the line was logged in.
    make_record = logging.getLogRecordFactory()
    if getattr(make_record, "stamps_request_id", False):
        return

    def stamped(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        request_id = REQUEST_ID.get()
        if request_id is not None:
            record.request_id = request_id
        return record

    stamped.stamps_request_id = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(stamped)


def configure(settings: dict[str, Any]) -> None:
    """Send every log line to stderr in the configured format and level (idempotent)."""
    _stamp_request_ids()
    root = logging.getLogger()
    root.setLevel(settings["LOG_LEVEL"])
    handler = next((h for h in root.handlers if isinstance(h, StderrHandler)), None)
    if handler is None:
        handler = StderrHandler()
        root.addHandler(handler)
    handler.setFormatter(formatter(settings["LOG_FORMAT"]))


def gunicorn_logconfig(settings: dict[str, Any]) -> dict[str, Any] | None:
    """gunicorn's own lines (start, stop, worker deaths) as JSON too; None in text mode."""
    if settings["LOG_FORMAT"] != "json":
        return None
    own = {"level": "INFO", "handlers": [], "propagate": True}
    # A logging config turns gunicorn's access log on; the app logs every request already.
    silent = {"level": "WARNING", "handlers": [], "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        # The same handler class configure() looks for, so workers add no second one.
        "handlers": {"stderr": {"class": f"{__name__}.StderrHandler", "formatter": "json"}},
        "root": {"level": settings["LOG_LEVEL"], "handlers": ["stderr"]},
        "loggers": {"gunicorn.error": own, "gunicorn.access": silent},
    }
