"""The services' refusals, each naming the input field at fault.

tsmetrics.problems answers them app-wide (404, 409, 400): problem+json for API
clients, an error page for browsers. The services raise them and never know who asked.
"""

from __future__ import annotations


class Refused(Exception):
    """A refused request; `field` names the input it is about."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class UnknownName(Refused, LookupError):
    """A name in the request matches nothing: 404."""


class Conflict(Refused):
    """The request clashes with the current state (a duplicate, an illegal move): 409."""


class Invalid(Refused):
    """Input that is valid alone but not with the stored state: 400, per field."""
