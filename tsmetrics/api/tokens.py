"""API tokens over the API: list, create (shown once), revoke. Every operation needs `admin`."""

from __future__ import annotations

from dataclasses import asdict

from flask.views import MethodView
from flask_smorest import abort

from tsmetrics import db
from tsmetrics.api.blueprint import ApiBlueprint
from tsmetrics.schemas.tokens import CreatedTokenSchema, TokenCreateSchema, TokenSchema
from tsmetrics.security import tokens
from tsmetrics.store import tokens as store

blp = ApiBlueprint(
    "tokens", __name__, url_prefix="/tokens", description="API tokens (admin scope only)."
)


@blp.route("")
class Tokens(MethodView):
    """The live tokens."""

    @blp.response(200, TokenSchema(many=True))
    def get(self):
        """Every live token: name, scopes, prefix, expiry, last use (never the token)"""
        with db.connection() as conn:
            return [asdict(token) for token in store.list_tokens(conn)]

    @blp.arguments(TokenCreateSchema)
    @blp.response(201, CreatedTokenSchema)
    @blp.alt_response(409, description="A live token has this name.")
    def post(self, fields):
        """Create a token; the response is the only time the token is shown"""
        try:
            with db.write_connection() as conn:
                token, record = tokens.issue(
                    conn,
                    fields["name"],
                    fields["scopes"],
                    expires_at=fields.get("expiresAt"),
                    rate_limit=fields.get("rateLimit"),
                )
        except tokens.TokenError as error:
            abort(409 if isinstance(error, tokens.TokenNameTaken) else 400, message=str(error))
        return asdict(record) | {"token": token}


@blp.route("/<int:token_id>")
class TokenEntry(MethodView):
    """One token."""

    @blp.response(204)
    @blp.alt_response(404, description="No live token has this id.")
    def delete(self, token_id):
        """Revoke a token: it stops working at once"""
        with db.write_connection() as conn:
            revoked = store.revoke_token(conn, token_id=token_id)
        if revoked is None:
            abort(404, message=f"No live token has id {token_id}.")
