"""The API's Blueprint: errors documented as the problem+json they are served as.

The services' refusals (an unknown name, a conflict, an invalid change) are
answered app-wide by tsmetrics.problems, so no view repeats a try/except.
"""

from __future__ import annotations

from flask_smorest import Blueprint

from tsmetrics import problems
from tsmetrics.schemas.problem import ProblemSchema


class ApiBlueprint(Blueprint):
    """flask-smorest's Blueprint; an error alt_response without a schema gets the problem one."""

    def alt_response(self, status_code, response=None, *, schema=None, content_type=None, **kw):
        """Document an alternative response; errors default to application/problem+json."""
        if response is None and schema is None and int(status_code) >= 400:
            schema, content_type = ProblemSchema, content_type or problems.PROBLEM_JSON
        return super().alt_response(
            status_code, response, schema=schema, content_type=content_type, **kw
        )
