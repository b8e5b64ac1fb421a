"""A user's own API tokens."""
from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from marshmallow import ValidationError

from app.domain import accounts
from app.models import User

bp = Blueprint("account", __name__, url_prefix="/account")


@bp.get("/tokens")
def tokens():
    owner = User.get_by_id(g.actor.user_id)
    return render_template("account_tokens.html", tokens=[accounts.token_view(t) for t in accounts.list_tokens(owner)],
                           errors={}, new_secret=None, form={})


@bp.post("/tokens")
def create_token():
    owner = User.get_by_id(g.actor.user_id)
    form = {"name": request.form.get("name", "").strip() or "token",
            "scopes": request.form.getlist("scopes") or ["read"]}
    expires = request.form.get("expires_days", "").strip()
    errors, secret = {}, None
    try:
        if expires:
            form["expires_days"] = int(expires)
        token, secret = accounts.create_token(owner, form, actor=g.actor, max_level=g.level)
    except ValueError:
        errors = {"expires_days": ["Must be a whole number of days."]}
    except ValidationError as exc:
        errors = exc.messages
    status = 422 if errors else 201
    return render_template("account_tokens.html", tokens=[accounts.token_view(t) for t in accounts.list_tokens(owner)],
                           errors=errors, new_secret=secret, form=form), status


@bp.post("/tokens/<id:token_id>/revoke")
def revoke_token(token_id):
    token = accounts.revoke_token(token_id, actor=g.actor)
    flash("Token %r revoked." % token.name, "info")
    return redirect(url_for("account.tokens"))
