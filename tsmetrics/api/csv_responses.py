"""CSV twins of the JSON views: which one a request wants, and the streamed, spreadsheet-safe body.

As Datasette's `.csv` twins: the same URL answers text/csv for `format=csv` or
an `Accept` that prefers text/csv (`format` wins over `Accept`), with the same
numbers as its JSON. Errors stay application/problem+json (tsmetrics.problems).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Response, request, stream_with_context

CSV = "text/csv"
JSON = "application/json"
# Text a spreadsheet would take for a formula (OWASP's CSV injection list): such
# a cell gets a leading apostrophe, which makes it text in Excel, LibreOffice and
# Google Sheets. Numbers are written as numbers, never escaped: -3.5 stays -3.5.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Rows are sent in chunks of about this many bytes: few writes, little memory.
_CHUNK_BYTES = 64 * 1024


def wants_csv(format_arg: str | None) -> bool:
    """True when the request asks for CSV: `format=csv`, or else an Accept preferring it."""
    if format_arg is not None:
        return format_arg == "csv"
    return request.accept_mimetypes.best_match([JSON, CSV], default=JSON) == CSV


def safe_cell(value: Any) -> Any:
    """A cell as written: text that a spreadsheet would run as a formula escaped, None empty."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def header_line(header: list[str]) -> bytes:
    """The header row (column names are ours: no quoting nor escaping needed)."""
    return (",".join(header) + "\r\n").encode()


def encode_rows(header: list[str], rows: Iterable[list[Any]]) -> Iterator[bytes]:
    """The header and rows as UTF-8 CSV (RFC 4180), every cell safe, in chunks of about 64 KiB."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    yield header_line(header)
    for row in rows:
        writer.writerow([safe_cell(value) for value in row])
        if buffer.tell() >= _CHUNK_BYTES:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


def csv_response(chunks: Iterable[bytes], filename: str) -> Response:
    """A streamed text/csv attachment (generated while sent, never whole in memory)."""
    response = Response(stream_with_context(chunks), mimetype=CSV)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.vary.add("Accept")
    return response


def vary_on_accept(response: Response) -> Response:
    """The JSON twin: it varies on Accept too, so no cache hands one for the other."""
    response.vary.add("Accept")
    return response


def csv_doc(example: str) -> dict[str, Any]:
    """OpenAPI for @blp.doc: the 200 response may also be text/csv, as an attachment."""
    return {
        # 200 as an int: flask-smorest keys its own responses so, and merges by key.
        "responses": {
            200: {
                "content": {CSV: {"schema": {"type": "string"}, "example": example}},
                "headers": {
                    "Content-Disposition": {
                        "description": "With CSV: `attachment; filename=...`.",
                        "schema": {"type": "string"},
                    },
                    "Vary": {"description": "Accept.", "schema": {"type": "string"}},
                },
            }
        }
    }
