"""The API's Blueprint: errors documented as the problem+json they are served as.

It also answers the services' refusals (an unknown name, a conflict, an invalid
change) for every operation, so that no view repeats the same try/except.
"""

from __future__ import annotations

from functools import partial

from flask import Response
from flask_smorest import Blueprint

from tsmetrics import errors, problems
from tsmetrics.errors import UnknownName
from tsmetrics.schemas.problem import ProblemSchema

# The services' refusals name the field at fault; every API operation answers them alike.
_REFUSAL_STATUS = {UnknownName: 404, errors.Conflict: 409, errors.Invalid: 400}


def _refused(status: int, error: UnknownName | errors.Conflict | errors.Invalid) -> Response:
    """The problem a service refusal stands for: what abort() naming its field would answer."""
    # An error handler cannot abort() (that would become a 500), so it answers directly.
    return problems.problem(status, error.message, errors={error.field: [error.message]})


class ApiBlueprint(Blueprint):
    """flask-smorest's Blueprint; an error alt_response without a schema gets the problem one."""

    def __init__(self, *args, **kwargs) -> None:
        """A Blueprint that answers service refusals as problems."""
        super().__init__(*args, **kwargs)
        for error_class, status in _REFUSAL_STATUS.items():
            self.register_error_handler(error_class, partial(_refused, status))

    def alt_response(self, status_code, response=None, *, schema=None, content_type=None, **kw):
        """Document an alternative response; errors default to application/problem+json."""
        if response is None and schema is None and int(status_code) >= 400:
            schema, content_type = ProblemSchema, content_type or problems.PROBLEM_JSON
        return super().alt_response(
            status_code, response, schema=schema, content_type=content_type, **kw
        )
