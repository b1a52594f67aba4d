"""Request bodies are bounded before anything reads them, and never cut short.

Every request may send TSMETRICS_MAX_REQUEST_BYTES (forms, JSON), except
`POST /ingest`, whose view sets its own limit, TSMETRICS_MAX_MESSAGE_BYTES. A
Content-Length over the limit is refused before the first byte is read; a body
without one (chunked) is refused as soon as it goes past the limit. So an
anonymous upload to /login or /logout gets 413 before the CSRF check would read
it, and a chunked JSON body is either read whole or refused: Werkzeug's own
stream stops at the limit and hands over what it read as if the body had
ended there, which stored the cut start of a longer batch.
"""

from __future__ import annotations

import io
from typing import IO

from flask import Flask, Request, Response, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream, get_input_stream

from tsmetrics import problems


class _WholeOrRefused(LimitedStream):
    """A maximum length that refuses a longer body instead of cutting it at the limit."""

    def on_exhausted(self) -> None:
        """At the limit, one more byte means the body is longer than allowed."""
        if self._stream.read(1):
            raise RequestEntityTooLarge()

    def readall(self) -> bytes:
        """Everything up to the limit, then the check for more."""
        data = super().readall()
        if self.is_exhausted:
            self.on_exhausted()
        return data


class BoundedRequest(Request):
    """Flask's request with a strict body limit and multipart parts kept in memory."""

    @cached_property
    def stream(self) -> IO[bytes]:
        """The body, read whole up to `max_content_length` or refused with 413."""
        limit = self.max_content_length
        # A server that terminates the input (gunicorn) lets a body go on without
        # a Content-Length; anything else bounds it by its Content-Length.
        if limit is None or "wsgi.input_terminated" not in self.environ:
            return get_input_stream(self.environ, max_content_length=limit)
        if self.content_length is not None and self.content_length > limit:
            raise RequestEntityTooLarge()
        return _WholeOrRefused(self.environ["wsgi.input"], limit, is_max=True)

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        # Werkzeug would spool a part to a temporary file; the body limit keeps
        # every part small, and nothing here takes file uploads anyway.
        return io.BytesIO()


def too_large(error: RequestEntityTooLarge) -> Response:
    """413 through the app's one error negotiation point, saying what the limit is."""
    if getattr(error, "data", None):
        return problems.handle_http_exception(error)  # an abort(413, ...) with its own message
    limit = request.max_content_length
    detail = "The request body is too large."
    if limit is not None:
        detail = f"The request body is larger than the {limit:,} bytes this server accepts."
    return problems.problem(413, detail)


def init_app(app: Flask) -> None:
    """Bound every request body by TSMETRICS_MAX_REQUEST_BYTES."""
    app.config["MAX_CONTENT_LENGTH"] = app.config["TSMETRICS"]["MAX_REQUEST_BYTES"]
    app.request_class = BoundedRequest
    app.register_error_handler(RequestEntityTooLarge, too_large)
