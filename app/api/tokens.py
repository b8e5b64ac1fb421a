"""API tokens: your own, or (admins) everyone's."""
from flask import Blueprint, g, request
from marshmallow import Schema, fields

from app.accounts import tokens, users
from app.accounts.access import ADMIN
from app.accounts.schemas import TokenCreatedSchema, TokenRequestSchema, TokenSchema
from app.api.bodies import items_of, json_body
from app.api.openapi import doc
from app.models import User

bp = Blueprint("tokens", __name__)
token_schema = TokenSchema()
TokenList = items_of(TokenSchema, "TokenList")
TokenQuery = Schema.from_dict({"user": fields.String(metadata={"description": "admins: a username, or * for all"})},
                              name="TokenQuery")


@bp.get("/tokens")
@doc("List API tokens", query=TokenQuery, response=TokenList, errors=(401, 403, 404))
def list_tokens():
    """Your tokens; admins may pass ``?user=NAME`` or ``?user=*`` for everyone's."""
    wanted = request.args.get("user")
    if g.level >= ADMIN and wanted:
        owner = None if wanted == "*" else users.get_user(wanted)
    else:
        owner = User.get_by_id(g.actor.user_id)
    return {"items": token_schema.dump([tokens.token_view(t) for t in tokens.list_tokens(owner)], many=True)}


@bp.post("/tokens")
@doc("Create an API token", body=TokenRequestSchema, response=TokenCreatedSchema, status=201, errors=(401, 403, 404))
def create_token():
    """Create a token for yourself (admins: for ``user`` in the body). The secret is in this response only."""
    body = json_body()
    username = TokenRequestSchema(only=("user",)).load({"user": body.pop("user")})["user"] if "user" in body else None
    owner = users.get_user(username) if username and g.level >= ADMIN else User.get_by_id(g.actor.user_id)
    token, secret = tokens.create_token(owner, body, actor=g.actor, max_level=g.level)
    return {**token_schema.dump(tokens.token_view(token)), "secret": secret}, 201


@bp.delete("/tokens/<id:token_id>")
@doc("Revoke a token (yours; admins: anyone's)", status=204)
def revoke_token(token_id):
    tokens.revoke_token(token_id, actor=g.actor, may_revoke_others=g.level >= ADMIN)
    return "", 204
