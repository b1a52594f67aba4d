"""The one reader of htmx's request headers, and the page-or-fragment decision."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Response, make_response, render_template, request


@dataclass(frozen=True)
class HtmxRequest:
    """What htmx said about a request (all false for a plain browser request)."""

    request: bool
    boosted: bool
    history_restore: bool
    trigger: str | None

    @property
    def wants_fragment(self) -> bool:
        """True when only the fragment should be sent back.

        A boosted link or a history restore after a cache miss swaps the whole
        body, so those get the full page.
        """
        return self.request and not self.boosted and not self.history_restore


def htmx_request() -> HtmxRequest:
    """The htmx headers of the current request."""
    headers = request.headers
    return HtmxRequest(
        request=headers.get("HX-Request") == "true",
        boosted=headers.get("HX-Boosted") == "true",
        history_restore=headers.get("HX-History-Restore-Request") == "true",
        trigger=headers.get("HX-Trigger"),
    )


def vary_on_htmx(response: Response) -> Response:
    """Mark a response whose body depends on the htmx headers, for caches and history."""
    response.vary.add("HX-Request")
    response.vary.add("HX-History-Restore-Request")
    return response


def respond(page: str, fragment: str, context: dict[str, Any], status: int = 200) -> Response:
    """The page, or for htmx only the fragment the page includes, rendered with `context`."""
    template = fragment if htmx_request().wants_fragment else page
    return vary_on_htmx(make_response(render_template(template, **context), status))
