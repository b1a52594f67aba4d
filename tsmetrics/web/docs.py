"""The Swagger UI page, served from vendored assets so it works with no internet."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for

bp = Blueprint("docs", __name__)


@bp.get("/swagger")
def swagger():
    """Swagger UI over /openapi.json."""
    return render_template("docs/swagger.html", spec_url=url_for("api-docs.openapi_json"))


@bp.get("/swagger/")
def swagger_slash():
    """The sketch's users may type the trailing slash."""
    return redirect(url_for("docs.swagger"), 301)
