"""API tokens: your own, or (admins) everyone's."""
from flask import Blueprint, g, request

from app.access import ADMIN
from app.api.bodies import json_body
from app.domain import accounts
from app.domain.schemas import TokenSchema
from app.models import User

bp = Blueprint("tokens", __name__)
token_schema = TokenSchema()


@bp.get("/tokens")
def list_tokens():
    """Your tokens; admins may pass ``?user=NAME`` or ``?user=*`` for everyone's."""
    wanted = request.args.get("user")
    if g.level >= ADMIN and wanted:
        owner = None if wanted == "*" else accounts.get_user(wanted)
    else:
        owner = User.get_by_id(g.actor.user_id)
    return {"items": token_schema.dump([accounts.token_view(t) for t in accounts.list_tokens(owner)], many=True)}


@bp.post("/tokens")
def create_token():
    """Create a token for yourself (admins: for ``user`` in the body). The secret is in this response only."""
    body = json_body()
    username = body.pop("user", None)
    owner = accounts.get_user(username) if username and g.level >= ADMIN else User.get_by_id(g.actor.user_id)
    token, secret = accounts.create_token(owner, body, actor=g.actor, max_level=g.level)
    return {**token_schema.dump(accounts.token_view(token)), "secret": secret}, 201


@bp.delete("/tokens/<int:token_id>")
def revoke_token(token_id):
    accounts.revoke_token(token_id, actor=g.actor, may_revoke_others=g.level >= ADMIN)
    return "", 204
